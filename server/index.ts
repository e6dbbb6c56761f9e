/**
 * The jobcast server SDK: define jobs, start them, trigger events, mount the router, attach
 * the gateway and run workers.
 *
 * @example
 * ```ts
 * import { createJobcast, defineJob, renderJobElement } from 'jobcast/server';
 * import { z } from 'zod';
 *
 * const resize = defineJob({
 *   name: 'resize-image',
 *   input: z.object({ url: z.string().url() }),
 *   async handler({ url }, ctx) {
 *     await ctx.progress(50, { stage: 'Resizing' });
 *     return { width: 800 };
 *   },
 *   render: (result) => `<p>Resized to ${result.width}px</p>`,
 * });
 * const jobcast = createJobcast({ secret: process.env.JOBCAST_SECRET!, jobs: [resize] });
 * app.use(jobcast.router());
 * jobcast.attachGateway(httpServer);
 * jobcast.runWorker();
 * ```
 * @packageDocumentation
 */
export type { JobcastConfig } from './config.js';
export { configFromEnv } from './config.js';
export {
  ConflictError,
  ForbiddenError,
  InvalidInputError,
  JobcastError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthorizedError,
  UnavailableError,
} from './errors.js';
export type { ExternalJobs } from './external-jobs/external-jobs.js';
export type { Gateway } from './gateway/gateway.js';
export type { PusherEndpointOptions } from './gateway/pusher/pusher-endpoint.js';
export type { HealthRouterOptions } from './http/health-router.js';
export { escapeHtml, html, SafeHtml } from './http/html.js';
export type { JobElementOptions } from './http/job-element.js';
export { renderJobElement } from './http/job-element.js';
export type { MetricsRouterOptions } from './http/metrics-router.js';
export type { RouterOptions } from './http/router.js';
export type { JobcastOptions, StartOptions } from './jobcast.js';
export { createJobcast, Jobcast } from './jobcast.js';
export { AfterCommit } from './jobs/after-commit.js';
export type { CancelResult } from './jobs/cancellation.js';
export type { AnyJobDefinition, JobContext, JobDefinition, ProgressInfo } from './jobs/define-job.js';
export { defineJob } from './jobs/define-job.js';
export type { JobRunner } from './jobs/job-runner.js';
export type { ResourcePool, ResourcePoolOptions } from './jobs/resource-pool.js';
export { createResourcePool } from './jobs/resource-pool.js';
export type { SentinelTarget } from './redis/connect.js';
export type { EmbeddedRedis } from './redis/embedded-redis.js';
export { NoRedisError, resolveRedis, startEmbeddedRedis } from './redis/embedded-redis.js';
export type { Right, TokenClaims } from './tokens.js';
export { TokenSigner } from './tokens.js';
export { progressFromBullmq } from './watch/progress-mapping.js';
export type { WatchedQueue, WatchQueueOptions } from './watch/watched-queue.js';
