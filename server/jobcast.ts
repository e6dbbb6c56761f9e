import type { Server as HttpServer } from 'node:http';

import type { Router } from 'express';

import { ChannelName, jobIdOfChannel } from '../shared/channels.js';
import { JOB_EVENT_NAMES } from '../shared/constants.js';
import type { ChannelEvent, JobStatus, StartedJob } from '../shared/protocol.js';
import { createAdminRouter } from './admin/admin-router.js';
import { Firehose } from './admin/firehose.js';
import type { AppRegistry } from './apps/apps.js';
import type { ChannelStore } from './channels/channel-store.js';
import { jobKeys } from './channels/keys.js';
import { RedisChannelFeed } from './channels/redis-channel-feed.js';
import { RedisChannelStore } from './channels/redis-channel-store.js';
import { DEFAULTS } from './defaults.js';
import { ForbiddenError, InvalidInputError, NotFoundError } from './errors.js';
import { startDeadlineSweep } from './external-jobs/deadline-sweep.js';
import { ExternalJobs } from './external-jobs/external-jobs.js';
import { attachGateway, type Gateway, type GatewayOptions } from './gateway/gateway.js';
import type { PusherEndpointOptions } from './gateway/pusher/pusher-endpoint.js';
import { createHealthRouter, type HealthRouterOptions } from './http/health-router.js';
import { createMetricsRouter, type MetricsRouterOptions } from './http/metrics-router.js';
import { createAppsRouter } from './http/pusher-router.js';
import { createRouter, type RouterOptions } from './http/router.js';
import type { Origins } from './http/security.js';
import { AfterCommit } from './jobs/after-commit.js';
import { cancelJob, type CancelResult, retryJob } from './jobs/cancellation.js';
import type { AnyJobDefinition } from './jobs/define-job.js';
import { inlineStatus } from './jobs/inline-runner.js';
import { JobQueues } from './jobs/job-queues.js';
import { type JobRunner, type JobRunnerOptions, runJobs } from './jobs/job-runner.js';
import { readJobStatus } from './jobs/job-status.js';
import { type JobStarter, startJob, type StartOptions } from './jobs/start-job.js';
import { Timeline } from './jobs/timeline.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { connectRedis, type RedisClient, type RedisTarget, type SentinelTarget } from './redis/connect.js';
import { type Right, TokenSigner } from './tokens.js';
import { isWatchedJobId, queueLabel, splitWatchedJobId } from './watch/watched-job-id.js';
import { WatchedQueue, type WatchQueueOptions } from './watch/watched-queue.js';

/** Options of {@link createJobcast}. */
export interface JobcastOptions {
  /** Redis URL. @defaultValue `redis://127.0.0.1:6379` */
  redisUrl?: string;
  /**
   * Seed nodes (`host:port`) of a Redis Cluster, instead of `redisUrl`: keys are hash-tagged
   * per channel and per queue, and pub/sub is sharded (SPUBLISH/SSUBSCRIBE).
   */
  clusterNodes?: string[];
  /**
   * Redis Sentinel, instead of `redisUrl`: every connection (commands, BullMQ, pub/sub) asks
   * the sentinels for the current primary and follows a failover by itself.
   */
  sentinel?: SentinelTarget;
  /** Token secret; several to rotate (the first signs, all verify). At least 16 characters. */
  secret: string | string[];
  /** Job types this process can start or run. */
  jobs?: AnyJobDefinition[];
  /** Prefix of every Redis key. @defaultValue `jobcast:` */
  keyPrefix?: string;
  /** Where the router is mounted, for partial URLs in events. @defaultValue `/jobcast` */
  basePath?: string;
  /** Events kept per channel for recovery. @defaultValue 100 */
  historySize?: number;
  /** Seconds a channel's state and log outlive its last event. @defaultValue 86400 */
  retentionSeconds?: number;
  /** Finished jobs BullMQ keeps per job type (on top of the age limit). @defaultValue 1000 */
  retentionCount?: number;
  /** Lifetime of minted channel tokens in seconds. @defaultValue 3600 */
  tokenTtlSeconds?: number;
  /** Largest job input, in bytes of JSON. @defaultValue 65536 */
  maxInputBytes?: number;
  /** Default worker concurrency per job type. @defaultValue 4 */
  concurrency?: number;
  /** Apps that may use the signed HTTP API (Pusher-compatible); none: the API is off. */
  apps?: AppRegistry;
  /** Browser origins allowed on the API (CORS) and the gateway. @defaultValue any */
  origins?: Origins;
  /** Signed API writes one app key may make per second. @defaultValue 200 */
  triggersPerSecond?: number;
  /** Largest rendered partial; a bigger one fails the job. @defaultValue 1 MiB */
  maxPartialBytes?: number;
  /** Largest event payload in bytes of JSON, for every publisher. @defaultValue 10240 */
  maxEventBytes?: number;
  /** Token for the admin pages (`/admin/`: console, Bull Board); unset: they answer 401. */
  adminToken?: string;
  /**
   * Inline mode for your tests: `start()` runs the job in this process at once (and resolves
   * when it finished), with the same events and partial, so tests need no worker.
   * @defaultValue false (`JOBCAST_INLINE=1` for the CLI)
   */
  inline?: boolean;
  /** How often workers check for jobs whose worker died (shown `stalled`, then run again); the lock lasts twice that. @defaultValue 4000 */
  stalledIntervalMs?: number;
  /** Unacknowledged outcomes of a dead relay are taken over after this long. @defaultValue 15000 */
  relayClaimMs?: number;
  logger?: Logger;
}

export type { StartOptions } from './jobs/start-job.js';

/**
 * One jobcast instance: starts jobs, triggers events, and hands out the router, gateway and
 * worker runner for the roles this process plays. Connections open lazily.
 *
 * @example
 * ```ts
 * import { createJobcast, defineJob } from 'jobcast/server';
 * const jobcast = createJobcast({ secret: process.env.JOBCAST_SECRET!, jobs: [resize] });
 * app.use(jobcast.router());
 * jobcast.attachGateway(httpServer);
 * jobcast.runWorker();
 * const { jobId, token } = await jobcast.start(resize, { url }, { owner: user.id });
 * ```
 */
export class Jobcast {
  readonly logger: Logger;
  readonly signer: TokenSigner;
  readonly store: ChannelStore;
  readonly queues: JobQueues;
  readonly keyPrefix: string;
  readonly basePath: string;
  /** Largest job input in bytes of JSON. */
  readonly maxInputBytes: number;
  /** Apps of the signed HTTP API, if it is on. */
  readonly apps: AppRegistry | undefined;
  /** This process's Prometheus metrics (`GET /metrics`). */
  readonly metrics = new Metrics();
  /** Per-job story across processes, for operators. */
  readonly timeline: Timeline;
  /** Recent events of every channel, for the console's live stream (written when admin is on). */
  readonly firehose: Firehose;
  /** Jobs of other job systems, reported over the signed HTTP API (`/apps/:appId/external-jobs`). */
  readonly externalJobs: ExternalJobs;
  readonly #gateways: Gateway[] = [];
  readonly #starter: JobStarter;
  /** Browser origins allowed on the API and the gateway. */
  readonly origins: Origins;
  /** Signed API writes one app key may make per second. */
  readonly triggersPerSecond: number;
  /** Largest event payload in bytes of JSON. */
  readonly maxEventBytes: number;
  readonly #options: JobcastOptions;
  readonly #target: RedisTarget;
  readonly #sharded: boolean;
  readonly #redis: RedisClient;
  readonly #closers: (() => Promise<void>)[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each queue's return values are the app's
  readonly #watched = new Map<string, WatchedQueue<any>>();
  #closing: Promise<void> | undefined;

  constructor(options: JobcastOptions) {
    this.#options = options;
    this.logger = options.logger ?? createLogger();
    this.signer = new TokenSigner(options.secret);
    this.keyPrefix = options.keyPrefix ?? DEFAULTS.keyPrefix;
    this.basePath = options.basePath ?? DEFAULTS.basePath;
    this.maxInputBytes = options.maxInputBytes ?? DEFAULTS.maxInputBytes;
    this.apps = options.apps;
    this.origins = options.origins ?? true;
    this.triggersPerSecond = options.triggersPerSecond ?? DEFAULTS.triggersPerSecond;
    this.maxEventBytes = options.maxEventBytes ?? DEFAULTS.maxEventBytes;
    this.#target = options.clusterNodes?.length
      ? { clusterNodes: options.clusterNodes }
      : options.sentinel
        ? { sentinel: options.sentinel }
        : { url: options.redisUrl ?? DEFAULTS.redisUrl };
    this.#sharded = Boolean(options.clusterNodes?.length);
    // Web requests should fail fast with a 503 while Redis is away, not hang.
    this.#redis = this.#connect({ maxRetriesPerRequest: 1 });
    this.store = new RedisChannelStore(this.#redis, {
      prefix: this.keyPrefix,
      historySize: options.historySize,
      retentionSeconds: options.retentionSeconds,
      sharded: this.#sharded,
      onPublished: this.#countPublished,
      ...(options.maxEventBytes ? { maxEventBytes: options.maxEventBytes } : {}),
    });
    this.queues = new JobQueues(this.#redis, this.keyPrefix, options.jobs ?? []);
    this.timeline = new Timeline(this.#redis, this.keyPrefix, options.retentionSeconds ?? DEFAULTS.retentionSeconds);
    this.firehose = new Firehose(this.#redis, this.keyPrefix);
    this.externalJobs = new ExternalJobs({
      redis: this.#redis,
      store: this.store,
      keyPrefix: this.keyPrefix,
      basePath: this.basePath,
      retentionSeconds: options.retentionSeconds ?? DEFAULTS.retentionSeconds,
      maxPartialBytes: options.maxPartialBytes ?? DEFAULTS.maxPartialBytes,
      token: (channels, o) => this.token(channels, o),
      timeline: this.timeline,
    });
    this.#starter = {
      redis: this.#redis,
      store: this.store,
      queues: this.queues,
      timeline: this.timeline,
      logger: this.logger,
      keyPrefix: this.keyPrefix,
      basePath: this.basePath,
      inline: options.inline ?? false,
      maxInputBytes: this.maxInputBytes,
      maxPartialBytes: options.maxPartialBytes ?? DEFAULTS.maxPartialBytes,
      retentionSeconds: options.retentionSeconds ?? DEFAULTS.retentionSeconds,
      retentionCount: options.retentionCount ?? DEFAULTS.retentionCount,
      token: (channels, o) => this.token(channels, o),
    };
    this.#closers.push(
      () => this.queues.close(),
      () => this.#redis.quit().then(() => undefined),
    );
  }

  /** The command connection, ready; rejects when Redis does not answer. */
  async ready(): Promise<void> {
    await this.#redis.ping();
  }

  /**
   * Validates `input`, publishes `queued`, enqueues the job and mints a token for its channel.
   * Throws {@link InvalidInputError} (400, naming the field), 404 for an unknown job type,
   * 413 for an oversized input, 503 when Redis is unreachable.
   */
  start(job: AnyJobDefinition | string, input: unknown, options: StartOptions = {}): Promise<StartedJob> {
    return startJob(this.#starter, this.queues.definition(typeof job === 'string' ? job : job.name), input, options);
  }

  /** Publishes a custom event on any channel, from any process; resolves to the stored event. */
  async trigger(channel: string, event: string, data: unknown): Promise<ChannelEvent> {
    const name = ChannelName.safeParse(channel);
    if (!name.success) throw new InvalidInputError(`channel: ${name.error.issues[0]?.message ?? 'invalid'}`, 'channel');
    if (!/^[A-Za-z0-9_\-:.]{1,100}$/.test(event) || event.startsWith('jobcast:')) {
      throw new InvalidInputError('event: 1–100 letters, digits, _-:. and not starting with jobcast:', 'event');
    }
    // On a job channel lifecycle names are jobcast's own: a custom `completed` would end a job
    // that did not end. Elsewhere they are ordinary custom events.
    if (jobIdOfChannel(channel) !== null && (JOB_EVENT_NAMES as readonly string[]).includes(event)) {
      throw new InvalidInputError(`event: ${event} is reserved for jobcast's job lifecycle; use another name`, 'event');
    }
    const stored = await this.store.append(channel, event, data);
    // Custom events are never dropped by the outcome rule; null here would be a bug.
    if (!stored) throw new Error(`event ${event} on ${channel} was not stored`);
    return stored;
  }

  /**
   * Cancels a job: removed at once if it was waiting, else its worker aborts `ctx.signal`.
   * Subscribers get `cancelled`. 404 for an unknown job, 409 for a finished one.
   */
  cancel(jobId: string, reason = 'cancelled by the user'): Promise<CancelResult> {
    if (isWatchedJobId(jobId)) return this.#watchedJob(jobId).then(({ queue, bullId }) => queue.cancel(bullId, reason.slice(0, 200)));
    return cancelJob(
      {
        queues: this.queues,
        store: this.store,
        redis: this.#redis,
        keyPrefix: this.keyPrefix,
        retentionSeconds: this.#options.retentionSeconds ?? DEFAULTS.retentionSeconds,
      },
      jobId,
      reason.slice(0, 200),
    );
  }

  /**
   * A collector that starts jobs only after your database transaction commits. See {@link AfterCommit}.
   */
  afterCommit(): AfterCommit {
    return new AfterCommit(this);
  }

  /** Runs a failed job again (job types with `retryFromPage`); 403 otherwise, 409 unless failed. */
  retry(jobId: string): Promise<{ jobId: string; state: 'queued' }> {
    if (isWatchedJobId(jobId))
      return Promise.reject(new ForbiddenError(`job ${jobId} belongs to a watched BullMQ queue; run it again with BullMQ's job.retry()`));
    return retryJob({ queues: this.queues, store: this.store, redis: this.#redis, keyPrefix: this.keyPrefix }, jobId);
  }

  /** The app that started a job over the HTTP API, or `null`. */
  appOfJob(jobId: string): Promise<string | null> {
    return this.#redis.get(jobKeys(this.keyPrefix, jobId).app);
  }

  /** The command connection (shared by the store, the queues and the HTTP API). */
  get redis(): RedisClient {
    return this.#redis;
  }

  /** A channel token granting `rights` on `channels`. */
  token(channels: string[], options: { owner?: string; rights?: Right[]; ttlSeconds?: number } = {}): Promise<string> {
    return this.signer.sign({
      channels,
      rights: options.rights ?? ['subscribe'],
      owner: options.owner,
      ttlSeconds: options.ttlSeconds ?? this.#options.tokenTtlSeconds ?? DEFAULTS.tokenTtlSeconds,
    });
  }

  /** State, progress, attempts and result of a job; throws 404 for an unknown job. */
  async status(jobId: string): Promise<JobStatus> {
    if (isWatchedJobId(jobId)) {
      const { queue, bullId } = await this.#watchedJob(jobId);
      return queue.status(bullId);
    }
    const external = await this.externalJobs.statusOf(jobId);
    if (external) return external;
    const inline = await inlineStatus(this.#redis, this.keyPrefix, this.basePath, jobId, (name) => Boolean(this.queues.definition(name).render));
    return inline ?? readJobStatus(this, jobId);
  }

  /**
   * Follows an existing BullMQ queue: every job of it, added by any producer and run by any
   * unmodified BullMQ worker, gets a job channel fed from the queue's own event stream. Call
   * it in every process that mints tokens or serves status for the queue; the processes that
   * call it share the publishing (one at a time, another takes over when it stops).
   *
   * @example
   * ```ts
   * jobcast.watchQueue('emails', { render: (result) => html`<p>Sent to ${result.to}</p>`.toString() });
   * const job = await emails.add('welcome', { to });      // your existing BullMQ producer
   * res.send(renderJobElement(await jobcast.tokenForJob(job, { owner: user.id })));
   * ```
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the return value is the app's
  watchQueue<Result = any>(name: string, options: WatchQueueOptions<Result> = {}): WatchedQueue<Result> {
    const clash = this.#watched.get(queueLabel(name, options.alias));
    if (clash)
      throw new Error(
        `queue ${name} is already watched by this jobcast (as ${clash.name}, prefix ${clash.prefix}); pass { alias } to watch a second queue of that name`,
      );
    const queue = new WatchedQueue<Result>(name, options, {
      store: this.store,
      redis: this.#redis,
      keyPrefix: this.keyPrefix,
      basePath: this.basePath,
      retentionSeconds: this.#options.retentionSeconds ?? DEFAULTS.retentionSeconds,
      maxPartialBytes: this.#options.maxPartialBytes ?? DEFAULTS.maxPartialBytes,
      logger: this.logger,
      connect: () => this.#connect({ maxRetriesPerRequest: null }),
    });
    this.#watched.set(queue.label, queue);
    this.#closers.unshift(async () => {
      this.#watched.delete(queue.label);
      await queue.close();
    });
    return queue;
  }

  /** The BullMQ queues this instance watches. */
  get watchedQueues(): WatchedQueue<unknown>[] {
    return [...this.#watched.values()];
  }

  /**
   * A token (and the job id for {@link renderJobElement}) for a job of a watched queue:
   * pass the BullMQ `Job` your producer's `queue.add` returned, or `{ queueName, id }`.
   * 404 when the queue is not watched here or has no such job.
   */
  async tokenForJob(job: { queueName: string; id?: string | undefined }, options: { owner?: string; rights?: Right[] } = {}): Promise<StartedJob> {
    const queue = [...this.#watched.values()].find((q) => q.name === job.queueName);
    if (!queue)
      throw new NotFoundError(
        `queue ${JSON.stringify(job.queueName).slice(0, 80)} is not watched; call jobcast.watchQueue(${JSON.stringify(job.queueName).slice(0, 80)}) first`,
      );
    if (job.id === undefined) throw new InvalidInputError('the job has no id yet: pass the job queue.add() resolved to', 'id');
    return queue.follow(String(job.id), (channel) => this.token([channel], { owner: options.owner, rights: options.rights ?? ['subscribe', 'cancel'] }));
  }

  async #watchedJob(jobId: string): Promise<{ queue: WatchedQueue<unknown>; bullId: string }> {
    const split = splitWatchedJobId(jobId);
    const queue = split && this.#watched.get(split.label);
    if (!split || !queue)
      throw new NotFoundError(
        `no job with id ${JSON.stringify(jobId).slice(0, 80)} (no watched queue ${JSON.stringify(split?.label ?? jobId).slice(0, 80)} here)`,
      );
    return { queue, bullId: split.bullId };
  }

  /**
   * The express router for browsers, answering only under the base path (`/jobcast`): client
   * script, job status, partials, cancel and retry, and job starts for job types defined with
   * `http: true` (or as `authorizeStart` allows).
   */
  router(options: RouterOptions = {}): Router {
    return createRouter(this, options);
  }

  /** `GET /healthz` and `GET /readyz`, under wherever you mount it. */
  healthRouter(options: HealthRouterOptions = {}): Router {
    return createHealthRouter(this, options);
  }

  /** `GET /metrics` (Prometheus), under wherever you mount it; pass a `token` to require it. */
  metricsRouter(options: MetricsRouterOptions = {}): Router {
    return createMetricsRouter(this, options);
  }

  /**
   * The signed, Pusher-compatible HTTP API at `/apps/:appId/…`. Mount it at the root of an
   * app (Pusher's SDKs sign the path `/apps/…`). Needs `apps` in {@link createJobcast}.
   */
  appsRouter(): Router {
    if (!this.apps) throw new Error('appsRouter(): no apps are configured; pass `apps` to createJobcast');
    // Where the external-jobs API is served, its deadlines are checked (any number of processes).
    if (!this.#deadlineSweep) {
      const sweep = (this.#deadlineSweep = startDeadlineSweep(this.externalJobs, { logger: this.logger }));
      this.#closers.unshift(() => sweep.close());
    }
    return createAppsRouter(this, { apps: this.apps, maxEventBytes: this.maxEventBytes });
  }

  /** The admin pages at `/admin/` (console, Bull Board), behind `adminToken`; 401 without it. */
  adminRouter(): Router {
    return createAdminRouter(this, { adminToken: this.#options.adminToken });
  }

  /** Attaches the socket.io gateway to `server`, with its own subscriber connection. */
  attachGateway(
    server: HttpServer,
    options: Partial<
      Pick<
        GatewayOptions,
        'path' | 'origins' | 'maxSubscriptionsPerConnection' | 'maxConnectionsPerIp' | 'subscribesPerSecond' | 'trustProxy' | 'slowConsumers' | 'heartbeat'
      >
    > & { pusher?: PusherEndpointOptions } = {},
  ): Gateway {
    const feed = new RedisChannelFeed(this.#connect({ maxRetriesPerRequest: null, sharded: this.#sharded }), {
      prefix: this.keyPrefix,
      sharded: this.#sharded,
    });
    const { pusher, ...rest } = options;
    const gateway = attachGateway(server, {
      origins: this.origins,
      ...rest,
      // With apps, Pusher clients connect at /app/<key> beside socket.io.
      ...(this.apps ? { pusher: { ...pusher, apps: this.apps, appOfJob: (jobId: string) => this.appOfJob(jobId) } } : {}),
      store: this.store,
      feed,
      signer: this.signer,
      logger: this.logger,
      presence: { redis: this.#redis, keyPrefix: this.keyPrefix },
      metrics: this.metrics,
      timeline: this.timeline,
    });
    this.#gateways.push(gateway);
    this.#closers.unshift(() => gateway.close());
    return gateway;
  }

  /** Runs workers for every job type this instance knows. */
  runWorker(options: { concurrency?: number; recycle?: JobRunnerOptions['recycle'] } = {}): JobRunner {
    // Workers wait out Redis outages instead of failing jobs: no retry limit per command.
    const connection = this.#connect({ maxRetriesPerRequest: null });
    // The appends of every running job on a connection of their own. The store gathers the
    // plain appends (progress) of a tick into one call itself (`coalesce`), and each job's
    // writes go in order (one connection). Not auto-pipelined as well: on top of the store's
    // own gathering it only added a Pipeline and a setImmediate per tick, about 2.5 µs of
    // worker CPU per progress event (jobs.ts: 12% more jobs/s without it).
    const appendConnection = this.#connect({ maxRetriesPerRequest: null });
    const store = new RedisChannelStore(appendConnection, {
      prefix: this.keyPrefix,
      historySize: this.#options.historySize,
      retentionSeconds: this.#options.retentionSeconds,
      sharded: this.#sharded,
      onPublished: this.#countPublished,
      coalesce: true,
      ...(this.#options.maxEventBytes ? { maxEventBytes: this.#options.maxEventBytes } : {}),
    });
    const relayConnection = this.#connect({ maxRetriesPerRequest: null });
    const cancelConnection = this.#connect({ maxRetriesPerRequest: null });
    const runner = runJobs(this.queues.definitions, {
      connection,
      relayConnection,
      cancelConnection,
      store,
      keyPrefix: this.keyPrefix,
      logger: this.logger,
      basePath: this.basePath,
      concurrency: options.concurrency ?? this.#options.concurrency,
      stalledIntervalMs: this.#options.stalledIntervalMs,
      relayClaimMs: this.#options.relayClaimMs,
      maxPartialBytes: this.#options.maxPartialBytes ?? DEFAULTS.maxPartialBytes,
      metrics: this.metrics,
      timeline: new Timeline(appendConnection, this.keyPrefix, this.#options.retentionSeconds ?? DEFAULTS.retentionSeconds),
      ...(options.recycle ? { recycle: options.recycle } : {}),
    });
    this.#workersStarted = true;
    this.#closers.unshift(async () => {
      await runner.close();
      await connection.quit().catch(() => connection.disconnect());
      await appendConnection.quit().catch(() => appendConnection.disconnect());
    });
    return runner;
  }

  /** Closes the gateway, workers (letting running jobs finish) and connections. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const close of this.#closers) {
        try {
          await close();
        } catch (error) {
          this.logger.warn({ err: error }, 'error while closing');
        }
      }
    })();
    return this.#closing;
  }

  #connect(options: { maxRetriesPerRequest: number | null; sharded?: boolean }): RedisClient {
    return connectRedis(this.#target, { ...options, logger: this.logger, onReconnect: () => this.metrics.redisReconnects.inc() });
  }

  readonly #countPublished = (event: ChannelEvent) => {
    this.metrics.countPublished(event.event);
    if (this.#options.adminToken) this.firehose.add(event);
  };

  /**
   * Checks Redis answers within `timeoutMs`; for `/readyz`.
   * @returns what was checked, and whether it passed.
   */
  async readiness(timeoutMs = 1000): Promise<{ ok: boolean; checks: Record<string, string> }> {
    const checks: Record<string, string> = {};
    try {
      await Promise.race([this.#redis.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs))]);
      checks.redis = 'ok';
    } catch (error) {
      checks.redis = `unreachable: ${(error as Error).message}`;
    }
    checks.gateway = this.#gateways.length ? 'started' : 'not in this process';
    checks.workers = this.#workersStarted ? 'started' : 'not in this process';
    return { ok: checks.redis === 'ok', checks };
  }

  #workersStarted = false;
  #deadlineSweep: { close(): Promise<void> } | undefined;

  /** Prometheus text of this process's metrics, with gauges read now. */
  async metricsText(): Promise<string> {
    const m = this.metrics;
    let connections = 0;
    let pusherConnections = 0;
    let subscriptions = 0;
    let channels = 0;
    let unacknowledged = 0;
    for (const gateway of this.#gateways) {
      const s = gateway.stats();
      connections += s.connections;
      pusherConnections += s.pusherConnections;
      subscriptions += s.subscriptions;
      channels += s.channels;
      unacknowledged += s.unacknowledgedOutcomes;
    }
    m.connections.set({ transport: 'socket.io' }, connections - pusherConnections);
    m.connections.set({ transport: 'pusher' }, pusherConnections);
    m.subscriptions.set(subscriptions);
    m.channels.set(channels);
    m.outcomesUnacknowledged.set(unacknowledged);
    await Promise.all(
      this.queues.definitions.map(async (d) => {
        const counts = await this.queues
          .queue(d.name)
          .getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed')
          .catch(() => null);
        for (const [state, n] of Object.entries(counts ?? {})) m.queueJobs.set({ job: d.name, state }, n);
      }),
    );
    return m.registry.metrics();
  }
}

/**
 * Creates a jobcast instance. See {@link Jobcast}.
 *
 * @example
 * ```ts
 * const jobcast = createJobcast({ secret: process.env.JOBCAST_SECRET!, jobs: [resize] });
 * ```
 */
export function createJobcast(options: JobcastOptions): Jobcast {
  return new Jobcast(options);
}
