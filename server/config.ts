import { z } from 'zod';

import { DEFAULTS } from './defaults.js';

const int = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Every setting jobcast reads from the environment, with its default. Documented in the README. */
const EnvConfig = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  REDIS_URL: z.string().url().optional(),
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'use host:port,host:port')
    .optional(),
  REDIS_SENTINELS: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'use host:port,host:port')
    .optional(),
  REDIS_SENTINEL_NAME: z.string().min(1).default('mymaster'),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_SENTINEL_PASSWORD: z.string().optional(),
  NODE_ENV: z.string().optional(),
  JOBCAST_METRICS_TOKEN: z.string().min(16, 'JOBCAST_METRICS_TOKEN must be at least 16 characters').optional(),
  JOBCAST_DEMO_REPOS: z.string().optional(),
  JOBCAST_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_:.-]*$/)
    .default(DEFAULTS.keyPrefix),
  JOBCAST_SECRET: z.string().min(16, 'JOBCAST_SECRET must be at least 16 characters').optional(),
  JOBCAST_GATEWAY_URL: z.string().url().optional(),
  JOBCAST_PREVIOUS_SECRETS: z.string().optional(),
  JOBCAST_ADMIN_TOKEN: z.string().min(16, 'JOBCAST_ADMIN_TOKEN must be at least 16 characters').optional(),
  JOBCAST_ALLOWED_ORIGINS: z.string().optional(),
  JOBCAST_MAX_CONNECTIONS_PER_IP: int(1000),
  JOBCAST_SUBSCRIBES_PER_SECOND: int(50),
  JOBCAST_TRIGGERS_PER_SECOND: int(DEFAULTS.triggersPerSecond),
  JOBCAST_MAX_PARTIAL_BYTES: int(DEFAULTS.maxPartialBytes),
  JOBCAST_MAX_EVENT_BYTES: int(DEFAULTS.maxEventBytes),
  JOBCAST_TRUST_PROXY: z.enum(['0', '1']).default('0'),
  JOBCAST_HISTORY_SIZE: int(DEFAULTS.historySize),
  JOBCAST_RETENTION_SECONDS: int(DEFAULTS.retentionSeconds),
  JOBCAST_RETENTION_COUNT: int(DEFAULTS.retentionCount),
  JOBCAST_TOKEN_TTL_SECONDS: int(DEFAULTS.tokenTtlSeconds),
  JOBCAST_MAX_INPUT_BYTES: int(DEFAULTS.maxInputBytes),
  JOBCAST_CONCURRENCY: int(DEFAULTS.concurrency),
  JOBCAST_INLINE: z.enum(['0', '1']).default('0'),
  JOBCAST_WORKER_MAX_JOBS: z.coerce.number().int().positive().optional(),
  JOBCAST_WORKER_MAX_RSS_MB: z.coerce.number().int().positive().optional(),
  JOBCAST_JOBS: z.string().optional(),
  JOBCAST_APP_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .default('jobcast'),
  JOBCAST_APP_KEY: z.string().min(1).default('jobcast-key'),
  JOBCAST_APP_SECRET: z.string().min(16, 'JOBCAST_APP_SECRET must be at least 16 characters').optional(),
  JOBCAST_APPS_FILE: z.string().optional(),
  JOBCAST_PROBE_PORT: z.coerce.number().int().min(1).max(65535).default(6379),
  JOBCAST_DEMO: z.enum(['0', '1']).optional(),
  JOBCAST_STALLED_INTERVAL_MS: int(4000),
  JOBCAST_HEARTBEAT_INTERVAL_MS: int(5000),
  JOBCAST_HEARTBEAT_TIMEOUT_MS: int(5000),
  JOBCAST_RELAY_CLAIM_MS: int(15_000),
  JOBCAST_WATCH_QUEUES: z
    .string()
    .regex(/^[^:,\s]+(,[^:,\s]+)*$/, 'use name,name (BullMQ queue names, no ":")')
    .optional(),
  JOBCAST_WATCH_PREFIX: z.string().min(1).default('bull'),
  JOBCAST_WATCH_IN: z.enum(['serving', 'watch']).default('serving'),
  JOBCAST_WATCH_REDIS_URL: z.string().url().optional(),
  JOBCAST_WATCH_REPLICA_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Settings of one jobcast process. */
export interface JobcastConfig {
  /** HTTP port. @defaultValue 3000 */
  port: number;
  host: string;
  /** `undefined`: look for Redis on 127.0.0.1:6379, else start a private one. */
  redisUrl: string | undefined;
  /** Seed nodes of a Redis Cluster (`REDIS_CLUSTER_NODES=host:port,…`); empty for a single Redis. */
  clusterNodes: string[];
  /** Redis Sentinel (`REDIS_SENTINELS=host:port,…`, `REDIS_SENTINEL_NAME`), instead of `REDIS_URL`. */
  sentinel: { sentinels: string[]; name: string; password: string | undefined; sentinelPassword: string | undefined } | undefined;
  /** `NODE_ENV=production`: no development secret, the demo off unless asked for. */
  production: boolean;
  /** Bearer token `GET /metrics` requires (`JOBCAST_METRICS_TOKEN`); unset: open. */
  metricsToken: string | undefined;
  /** More repositories the demo may analyse, besides this project's own (`JOBCAST_DEMO_REPOS`). */
  demoRepositories: string[];
  /** Prefix of every Redis key jobcast writes. @defaultValue `jobcast:` */
  keyPrefix: string;
  /** HMAC secret for channel tokens; `undefined` in development (a shared one is kept in Redis). */
  secret: string | undefined;
  /** Where browsers reach the gateway; `undefined` means the page's own origin. */
  gatewayUrl: string | undefined;
  /** Token of the admin pages; unset: they are off. */
  adminToken: string | undefined;
  /** Secrets of before a rotation: still accepted for tokens, never used to sign. */
  previousSecrets: string[];
  /** Browser origins allowed (`JOBCAST_ALLOWED_ORIGINS`, comma-separated); unset allows every origin. */
  allowedOrigins: string | undefined;
  /** @defaultValue 1000 */
  maxConnectionsPerIp: number;
  /** @defaultValue 50 */
  subscribesPerSecond: number;
  /** @defaultValue 200 */
  triggersPerSecond: number;
  /** @defaultValue 1048576 */
  maxPartialBytes: number;
  /** Largest event payload (JSON bytes), for every publisher. @defaultValue 10240 */
  maxEventBytes: number;
  /** Use X-Forwarded-For for the client IP. @defaultValue false */
  trustProxy: boolean;
  /** Events kept per channel for recovery. @defaultValue 100 */
  historySize: number;
  /** How long a channel's log and state outlive its last event. @defaultValue 86400 */
  retentionSeconds: number;
  /** Finished jobs kept per job type. @defaultValue 1000 */
  retentionCount: number;
  /** Lifetime of minted channel tokens. @defaultValue 3600 */
  tokenTtlSeconds: number;
  /** Largest accepted job input (JSON bytes). @defaultValue 65536 */
  maxInputBytes: number;
  /** Jobs one worker process runs at once, per job type, unless the job says otherwise. @defaultValue 4 */
  concurrency: number;
  /** Run jobs inline at start (tests). @defaultValue false */
  inline: boolean;
  /** Recycle a worker process after this many jobs. */
  workerMaxJobs: number | undefined;
  /** Recycle a worker process past this resident memory (MB). */
  workerMaxRssMb: number | undefined;
  logLevel: string;
  /** Modules whose `defineJob` exports this process knows (`JOBCAST_JOBS`, comma-separated). */
  jobModules: string[];
  /** The default app of the signed HTTP API; its secret defaults to the token secret. */
  app: { id: string; key: string; secret: string | undefined };
  /** More apps: a JSON file of `[{ id, key, secret, enabled? }]`. */
  appsFile: string | undefined;
  /** The local port tried for Redis when REDIS_URL is unset. @defaultValue 6379 */
  probePort: number;
  /** Include the demo job and pages. @defaultValue true, false with NODE_ENV=production */
  demo: boolean;
  /** How often workers look for jobs whose worker died (BullMQ stalled check; the lock lasts twice that). @defaultValue 4000 */
  stalledIntervalMs: number;
  /** Gateway heartbeat: ping interval and how long a pong may take. @defaultValue 5000 and 5000 */
  heartbeat: { intervalMs: number; timeoutMs: number };
  /** How long an outcome another relay took may stay unacknowledged before this one takes it. @defaultValue 15000 */
  relayClaimMs: number;
  /**
   * Existing BullMQ queues to watch (`JOBCAST_WATCH_QUEUES`) and their prefix; and which
   * roles publish their events (`in`: the serving roles web, gateway and all, or only
   * `jobcast watch` processes); `redisUrl`: the queues' Redis when it is not jobcast's own
   * (`JOBCAST_WATCH_REDIS_URL`), so that the channel log's writes stay off the queues' Redis;
   * `replicaUrl`: a read-only replica of it the watchers read from (`JOBCAST_WATCH_REPLICA_URL`).
   */
  watchQueues: { names: string[]; prefix: string; in: 'serving' | 'watch'; redisUrl?: string; replicaUrl?: string };
}

/** Reads the configuration from environment variables; throws with every problem named. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): JobcastConfig {
  // An empty variable (`REDIS_URL=`) means unset, as in most tools.
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = EnvConfig.safeParse(set);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  // A secret kept in Redis is readable by anyone who reaches Redis: never in production.
  if (production && !e.JOBCAST_SECRET) throw new Error('invalid configuration: JOBCAST_SECRET must be set (16+ characters) when NODE_ENV=production');
  const list = (value: string | undefined) =>
    (value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    clusterNodes: e.REDIS_CLUSTER_NODES ? e.REDIS_CLUSTER_NODES.split(',') : [],
    sentinel: e.REDIS_SENTINELS
      ? { sentinels: list(e.REDIS_SENTINELS), name: e.REDIS_SENTINEL_NAME, password: e.REDIS_PASSWORD, sentinelPassword: e.REDIS_SENTINEL_PASSWORD }
      : undefined,
    production,
    metricsToken: e.JOBCAST_METRICS_TOKEN,
    demoRepositories: list(e.JOBCAST_DEMO_REPOS),
    keyPrefix: e.JOBCAST_PREFIX,
    secret: e.JOBCAST_SECRET,
    gatewayUrl: e.JOBCAST_GATEWAY_URL,
    adminToken: e.JOBCAST_ADMIN_TOKEN,
    previousSecrets: (e.JOBCAST_PREVIOUS_SECRETS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    allowedOrigins: e.JOBCAST_ALLOWED_ORIGINS,
    maxConnectionsPerIp: e.JOBCAST_MAX_CONNECTIONS_PER_IP,
    subscribesPerSecond: e.JOBCAST_SUBSCRIBES_PER_SECOND,
    triggersPerSecond: e.JOBCAST_TRIGGERS_PER_SECOND,
    maxPartialBytes: e.JOBCAST_MAX_PARTIAL_BYTES,
    maxEventBytes: e.JOBCAST_MAX_EVENT_BYTES,
    trustProxy: e.JOBCAST_TRUST_PROXY === '1',
    historySize: e.JOBCAST_HISTORY_SIZE,
    retentionSeconds: e.JOBCAST_RETENTION_SECONDS,
    retentionCount: e.JOBCAST_RETENTION_COUNT,
    tokenTtlSeconds: e.JOBCAST_TOKEN_TTL_SECONDS,
    maxInputBytes: e.JOBCAST_MAX_INPUT_BYTES,
    concurrency: e.JOBCAST_CONCURRENCY,
    inline: e.JOBCAST_INLINE === '1',
    workerMaxJobs: e.JOBCAST_WORKER_MAX_JOBS,
    workerMaxRssMb: e.JOBCAST_WORKER_MAX_RSS_MB,
    logLevel: e.LOG_LEVEL,
    jobModules: e.JOBCAST_JOBS
      ? e.JOBCAST_JOBS.split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [],
    demo: e.JOBCAST_DEMO === undefined ? !production : e.JOBCAST_DEMO === '1',
    probePort: e.JOBCAST_PROBE_PORT,
    app: { id: e.JOBCAST_APP_ID, key: e.JOBCAST_APP_KEY, secret: e.JOBCAST_APP_SECRET },
    appsFile: e.JOBCAST_APPS_FILE,
    stalledIntervalMs: e.JOBCAST_STALLED_INTERVAL_MS,
    heartbeat: { intervalMs: e.JOBCAST_HEARTBEAT_INTERVAL_MS, timeoutMs: e.JOBCAST_HEARTBEAT_TIMEOUT_MS },
    relayClaimMs: e.JOBCAST_RELAY_CLAIM_MS,
    watchQueues: {
      names: e.JOBCAST_WATCH_QUEUES ? e.JOBCAST_WATCH_QUEUES.split(',') : [],
      prefix: e.JOBCAST_WATCH_PREFIX,
      in: e.JOBCAST_WATCH_IN,
      ...(e.JOBCAST_WATCH_REDIS_URL ? { redisUrl: e.JOBCAST_WATCH_REDIS_URL } : {}),
      ...(e.JOBCAST_WATCH_REPLICA_URL ? { replicaUrl: e.JOBCAST_WATCH_REPLICA_URL } : {}),
    },
  };
}
