import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import express from 'express';

import { AppRegistry } from './apps/apps.js';
import type { JobcastConfig } from './config.js';
import { createAnalyseHistoryJob } from './demo/analyse-history-job.js';
import { createDemoApp } from './demo/demo-app.js';
import { demoRepositories } from './demo/demo-repositories.js';
import { developmentSecret } from './dev-secret.js';
import type { Gateway } from './gateway/gateway.js';
import { parseOrigins } from './http/security.js';
import { createJobcast, type Jobcast } from './jobcast.js';
import { loadJobModules } from './jobs/load-jobs.js';
import type { Logger } from './logger.js';
import { connectRedis, type RedisTarget } from './redis/connect.js';
import { mountOperations, notFound } from './role-apps.js';

/** The process roles of the `jobcast` command. */
export const ROLES = ['web', 'worker', 'gateway', 'all', 'watch'] as const;
export type Role = (typeof ROLES)[number];

/** A running process role; `close()` is graceful and idempotent. */
export interface RunningRole {
  jobcast: Jobcast;
  /** The HTTP server of web, gateway and all; `null` for worker. */
  server: Server | null;
  /** `http://host:port` of the HTTP server, once listening. */
  url: string | null;
  /** Called when the worker decided to recycle itself (JOBCAST_WORKER_MAX_JOBS / _MAX_RSS_MB). */
  onRecycle(handler: (reason: string) => void): void;
  close(): Promise<void>;
}

/**
 * Starts one role of the demo deployment against `redisUrl`. `web` serves the pages and API,
 * `gateway` the socket.io gateway, `worker` runs jobs, `all` does everything on one port,
 * `watch` only publishes the events of the watched BullMQ queues (`JOBCAST_WATCH_QUEUES`).
 */
export async function startRole(role: Role, config: JobcastConfig, redisUrl: string, logger: Logger): Promise<RunningRole> {
  if (role === 'watch' && !config.watchQueues.names.length) {
    throw new Error('the watch role has nothing to watch: set JOBCAST_WATCH_QUEUES to the BullMQ queue names (name,name)');
  }
  const secret =
    config.secret ??
    (await sharedDevelopmentSecret(
      { url: redisUrl, clusterNodes: config.clusterNodes, ...(config.sentinel ? { sentinel: config.sentinel } : {}) },
      config.keyPrefix,
      logger,
    ));
  if (config.production && !config.allowedOrigins) {
    logger.warn(
      "JOBCAST_ALLOWED_ORIGINS is not set: pages of any site may call the API and open gateway connections (tokens still guard every channel). Set it to your sites' origins.",
    );
  }
  const repositories = demoRepositories(config.demoRepositories);
  const demoJob = createAnalyseHistoryJob(repositories);
  const jobcast = createJobcast({
    redisUrl,
    clusterNodes: config.clusterNodes,
    ...(config.sentinel ? { sentinel: config.sentinel } : {}),
    secret: [secret, ...config.previousSecrets],
    origins: parseOrigins(config.allowedOrigins),
    triggersPerSecond: config.triggersPerSecond,
    maxPartialBytes: config.maxPartialBytes,
    maxEventBytes: config.maxEventBytes,
    jobs: [...(config.demo ? [demoJob] : []), ...(await loadJobModules(config.jobModules))],
    keyPrefix: config.keyPrefix,
    historySize: config.historySize,
    retentionSeconds: config.retentionSeconds,
    retentionCount: config.retentionCount,
    inline: config.inline,
    ...(config.adminToken ? { adminToken: config.adminToken } : {}),
    tokenTtlSeconds: config.tokenTtlSeconds,
    maxInputBytes: config.maxInputBytes,
    concurrency: config.concurrency,
    apps: AppRegistry.fromFile({ id: config.app.id, key: config.app.key, secret: config.app.secret ?? secret, enabled: true }, config.appsFile),
    stalledIntervalMs: config.stalledIntervalMs,
    relayClaimMs: config.relayClaimMs,
    logger,
  });
  await jobcast.ready();
  watchQueues(role, config.watchQueues, jobcast);

  let server: Server | null = null;
  if (role === 'web' || role === 'all') {
    const app = express();
    app.disable('x-powered-by');
    app.use(
      config.demo
        ? createDemoApp(jobcast, { job: demoJob, repositories, ...(role === 'web' && config.gatewayUrl ? { gatewayUrl: config.gatewayUrl } : {}) })
        : jobcast.router(),
    );
    mountOperations(app, jobcast, { role, metricsToken: config.metricsToken, api: true, details: () => (gateway ? { ...gateway.stats() } : {}) });
    server = createServer(app);
  } else if (role === 'gateway') {
    const app = express();
    app.disable('x-powered-by');
    mountOperations(app, jobcast, { role, metricsToken: config.metricsToken, api: false, details: () => ({ ...gateway?.stats() }) });
    notFound(app);
    server = createServer(app);
  }
  let gateway: Gateway | undefined;
  if (server && (role === 'gateway' || role === 'all')) {
    gateway = jobcast.attachGateway(server, {
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      subscribesPerSecond: config.subscribesPerSecond,
      trustProxy: config.trustProxy,
      heartbeat: config.heartbeat,
    });
  }
  let recycled: ((reason: string) => void) | undefined;
  const recycle =
    config.workerMaxJobs || config.workerMaxRssMb
      ? {
          ...(config.workerMaxJobs ? { maxJobs: config.workerMaxJobs } : {}),
          ...(config.workerMaxRssMb ? { maxRssMb: config.workerMaxRssMb } : {}),
          onRecycle: (reason: string) => recycled?.(reason),
        }
      : undefined;
  if (role === 'worker' || role === 'all') jobcast.runWorker(recycle ? { recycle } : {});

  let url: string | null = null;
  if (server) {
    const listening = server;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(config.port, config.host, () => resolve());
    });
    const { port } = listening.address() as AddressInfo;
    url = `http://localhost:${port}`;
  }

  let closing: Promise<void> | undefined;
  return {
    jobcast,
    server,
    url,
    onRecycle(handler: (reason: string) => void) {
      recycled = handler;
    },
    close() {
      closing ??= (async () => {
        const stopped = server ? new Promise<void>((resolve) => server!.close(() => resolve())) : Promise.resolve();
        await jobcast.close();
        server?.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}

/**
 * The watched BullMQ queues of a role. Workers run jobcast's own jobs and watch nothing; the
 * serving roles mint tokens, answer status and cancel for every watched queue, and publish
 * its events unless `jobcast watch` processes do (`JOBCAST_WATCH_IN=watch`): then the
 * publishing runs where the user puts it (beside the workers, or on a machine of its own),
 * whatever the web tier scales to.
 */
function watchQueues(role: Role, watch: JobcastConfig['watchQueues'], jobcast: Jobcast): void {
  if (role === 'worker') return;
  const publish = role === 'watch' || watch.in === 'serving';
  for (const name of watch.names)
    jobcast.watchQueue(name, {
      prefix: watch.prefix,
      publish,
      ...(watch.redisUrl ? { connection: watch.redisUrl } : {}),
      ...(watch.replicaUrl ? { replica: watch.replicaUrl } : {}),
    });
}

async function sharedDevelopmentSecret(target: RedisTarget, keyPrefix: string, logger: Logger): Promise<string> {
  const redis = connectRedis(target, { maxRetriesPerRequest: 1 });
  try {
    const secret = await developmentSecret(redis, keyPrefix);
    logger.warn('JOBCAST_SECRET is not set: using a development secret kept in Redis. Set JOBCAST_SECRET in production.');
    return secret;
  } finally {
    redis.disconnect();
  }
}
