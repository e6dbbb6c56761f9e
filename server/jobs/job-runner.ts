import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import { type Job, UnrecoverableError, Worker } from 'bullmq';

import { jobChannel } from '../../shared/channels.js';
import type { ChannelStore } from '../channels/channel-store.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { RedisClient } from '../redis/connect.js';
import { AttemptControl } from './attempt-control.js';
import { cancelFlagKey, cancelKeys, JobCancelledError } from './cancellation.js';
import { type AnyJobDefinition, queuePrefix, retryable } from './define-job.js';
import { ATTEMPT_ENDED, executeAttempt } from './execute-attempt.js';
import { startOutcomeRelay } from './outcome-relay.js';
import type { Timeline } from './timeline.js';

/** See {@link JobRunnerOptions.stalledIntervalMs}. */
export const DEFAULT_STALLED_INTERVAL_MS = 4000;

/** Options of {@link runJobs}. */
export interface JobRunnerOptions {
  /** A connection for BullMQ workers (`maxRetriesPerRequest: null`); each worker duplicates it. */
  connection: RedisClient;
  store: ChannelStore;
  keyPrefix: string;
  logger: Logger;
  /** Where partials are served, to put in `completed` events. @defaultValue `/jobcast` */
  basePath?: string;
  /** Default runs per job type at once. @defaultValue 4 */
  concurrency?: number;
  /**
   * BullMQ stalled check interval; a job's lock lasts twice that and is renewed every
   * interval, so a dead worker's job shows `stalled` within three intervals. @defaultValue 4000
   */
  stalledIntervalMs?: number;
  /** See {@link OutcomeRelayOptions.claimAfterMs}. */
  relayClaimMs?: number;
  /** Largest rendered partial in bytes; a bigger one fails the job. @defaultValue 1 MiB */
  maxPartialBytes?: number;
  metrics?: Metrics;
  timeline?: Timeline;
  /**
   * Recycle: after this many jobs, or past this resident memory, stop taking jobs, finish the
   * running ones, then call `onRecycle` (the CLI exits 0 so a supervisor starts a fresh process).
   */
  recycle?: { maxJobs?: number; maxRssMb?: number; onRecycle: (reason: string) => void };
  /** A connection for the outcome relay alone (it blocks on it); closed by `close()`. */
  relayConnection: RedisClient;
  /** A connection to listen for cancel requests on (subscriber mode); closed by `close()`. */
  cancelConnection: RedisClient;
}

/** Running workers; `close()` lets running jobs finish, then stops. Idempotent. */
export interface JobRunner {
  workers: Worker[];
  /** Jobs this runner finished (completed or failed), for recycling. */
  readonly finished: number;
  close(): Promise<void>;
}

/**
 * Runs BullMQ workers for `definitions`, publishing each job's lifecycle to its channel:
 * `active`, `progress`, then `retrying` or exactly one outcome.
 *
 * @example
 * ```ts
 * const runner = runJobs([resize], { connection, store, keyPrefix: 'jobcast:', logger });
 * process.on('SIGTERM', () => runner.close());
 * ```
 */
export function runJobs(definitions: readonly AnyJobDefinition[], options: JobRunnerOptions): JobRunner {
  const basePath = options.basePath ?? '/jobcast';
  const stalledIntervalMs = options.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS;
  const { store } = options;
  /** How to stop each job this process runs now, by job id. */
  const running = new Map<string, AttemptControl>();
  const cancelBus = cancelKeys(options.keyPrefix, '').bus;
  // Named in every job's `started` timeline entry; asked once, not per job (a system call).
  const workerName = `${hostname()}:${process.pid}`;
  void options.cancelConnection.subscribe(cancelBus).catch((error: unknown) => options.logger.error({ err: error }, 'cannot listen for cancel requests'));
  options.cancelConnection.on('message', (bus: string, message: string) => {
    if (bus !== cancelBus) return;
    try {
      const { jobId, reason } = JSON.parse(message) as { jobId: string; reason: string };
      running.get(jobId)?.abort(new JobCancelledError(String(reason)));
    } catch {
      // not a cancel request of ours
    }
  });
  const workers = definitions.map((definition) => {
    const log = options.logger.child({ role: 'worker', job: definition.name });
    const worker = new Worker(definition.name, (job) => runJob(definition, job, log), {
      connection: options.connection,
      prefix: queuePrefix(options.keyPrefix, definition.name),
      concurrency: definition.concurrency ?? options.concurrency ?? 4,
      autorun: false,
      ...(typeof definition.backoff === 'function'
        ? {
            settings: {
              backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
                (definition.backoff as (a: number, e: Error) => number)(attemptsMade, error ?? new Error('failed')),
            },
          }
        : {}),
      // BullMQ's defaults (30 s each) leave a crashed worker's page frozen for up to a minute.
      stalledInterval: stalledIntervalMs,
      lockDuration: 2 * stalledIntervalMs,
    });
    worker.on('stalled', (jobId) => {
      options.metrics?.stalls.inc({ job: definition.name });
      log.warn({ jobId }, 'job stalled: its worker stopped renewing the lock');
    });
    worker.on('completed', (job) => {
      if (job.processedOn && job.finishedOn)
        options.metrics?.jobDuration.observe({ job: definition.name, outcome: 'completed' }, (job.finishedOn - job.processedOn) / 1000);
      countFinished();
    });
    worker.on('failed', () => countFinished());
    // Outcomes are published by the relay from BullMQ's event stream; the worker only tells
    // watchers about a retry, which BullMQ does not record as an outcome.
    worker.on('failed', (job, error) => {
      if (job) void publishRetry(log, job, error);
    });
    worker.on('error', (error) => log.error({ err: error }, 'worker error'));
    return worker;
  });

  async function runJob(definition: AnyJobDefinition, job: Job, log: Logger): Promise<unknown> {
    const jobId = String(job.id);
    const channel = jobChannel(jobId);
    const attempts = job.opts.attempts ?? 1;
    const attempt = job.attemptsMade + 1;
    // A child logger costs a worker a few percent at thousands of jobs a second (its bindings
    // are serialised, its redaction set up): made only for a job that logs.
    let jobLog: Logger | undefined;
    const logger = () => (jobLog ??= log.child({ jobId, channel, attempt }));
    const control = new AttemptControl();
    running.set(jobId, control);
    const started = options.timeline?.write(jobId, 'started', { attempt, attempts, worker: workerName });
    try {
      // Cancelled while waiting for a worker, or while the worker that had it was dead: the
      // `active` append reads the cancel flag and publishes `cancelled` instead (one round trip).
      const cancelFlag = cancelFlagKey(options.keyPrefix, jobId);
      const result = await executeAttempt(
        definition,
        { jobId, attempt, attempts, data: job.data, log: logger, control, cancelFlag, ...(started ? { started } : {}) },
        { store, maxPartialBytes: options.maxPartialBytes ?? 1024 * 1024 },
      );
      if (log.isLevelEnabled('info')) logger().info('job finished');
      return result;
    } catch (error) {
      const reason = control.reason;
      if (reason instanceof JobCancelledError) {
        // The outcome is `cancelled`; BullMQ records a failure the relay then cannot publish.
        await store.append(channel, 'cancelled', { reason: reason.reason });
        logger().info({ reason: reason.reason }, 'job cancelled');
        throw new UnrecoverableError(reason.message);
      }
      if (definition.retryIf && error instanceof Error && !(error instanceof UnrecoverableError) && !retryable(definition.retryIf, error)) {
        // Not worth another attempt: BullMQ ends the job now instead of retrying it.
        throw new UnrecoverableError(error.message);
      }
      throw error;
    } finally {
      running.delete(jobId);
      control.abort(ATTEMPT_ENDED);
    }
  }

  async function publishRetry(log: Logger, job: Job, error: Error): Promise<void> {
    const channel = jobChannel(String(job.id));
    const attempts = job.opts.attempts ?? 1;
    const message = String(error?.message ?? error).slice(0, 500);
    try {
      // BullMQ has already decided: a job that will run again is delayed or waiting.
      const state = await job.getState();
      if (state === 'delayed' || state === 'waiting' || state === 'prioritized') {
        options.metrics?.retries.inc({ job: job.name });
        const delay = typeof job.delay === 'number' ? job.delay : 0;
        await store.append(channel, 'retrying', {
          attempt: job.attemptsMade + 1,
          attempts,
          error: message,
          retryAt: state === 'delayed' ? Date.now() + delay : null,
        });
      }
    } catch (publishError) {
      log.error({ err: publishError, jobId: job.id }, 'could not publish a retry');
    }
  }

  const relay = startOutcomeRelay(definitions, {
    connection: options.relayConnection,
    store,
    keyPrefix: options.keyPrefix,
    basePath,
    logger: options.logger,
    ...(options.relayClaimMs ? { claimAfterMs: options.relayClaimMs } : {}),
    consumer: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
  });
  void relay.ready.then(() => {
    for (const worker of workers) {
      if (!worker.closing) worker.run().catch((error: unknown) => options.logger.error({ err: error }, 'worker stopped'));
    }
  });

  let finished = 0;
  let recycling = false;
  function countFinished(): void {
    finished += 1;
    const limits = options.recycle;
    if (!limits || recycling) return;
    const rssMb = process.memoryUsage().rss / 1024 / 1024;
    const reason =
      limits.maxJobs !== undefined && finished >= limits.maxJobs
        ? `finished ${finished} jobs (limit ${limits.maxJobs})`
        : limits.maxRssMb !== undefined && rssMb > limits.maxRssMb
          ? `resident memory ${rssMb.toFixed(0)} MB is past ${limits.maxRssMb} MB`
          : null;
    if (!reason) return;
    recycling = true;
    options.logger.info({ reason }, 'recycling this worker: finishing running jobs, taking no new ones');
    // Stop fetching now; running jobs finish; then the owner replaces the process.
    void Promise.allSettled(workers.map((w) => w.close())).then(() => limits.onRecycle(reason));
  }

  let closing: Promise<void> | undefined;
  return {
    workers,
    get finished() {
      return finished;
    },
    close() {
      // Workers first: their last outcomes land in the stream, where any relay finds them.
      closing ??= Promise.allSettled(workers.map((w) => w.close()))
        .then(() => options.cancelConnection.quit().catch(() => options.cancelConnection.disconnect()))
        .then(() => relay.close())
        .then(() => undefined);
      return closing;
    },
  };
}
