import { type Job, Queue } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

import { jobChannel } from '../../shared/channels.js';
import type { JobStatus, StartedJob } from '../../shared/protocol.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { cancelKeys, type CancelResult } from '../jobs/cancellation.js';
import { describeJob, partialUrlOf } from '../jobs/job-status.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import { progressFromBullmq, progressFromStream } from './progress-mapping.js';
import { type QueueWatcher, startQueueWatcher } from './queue-watcher.js';
import type { Watched, WatchedQueueDeps } from './watched.js';
import { followableJobId, queueLabel, watchedJobId } from './watched-job-id.js';

export type { WatchedQueueDeps };

/** Options of {@link Jobcast.watchQueue}. */
export interface WatchQueueOptions<Result = unknown> {
  /**
   * Where the queue lives, as your BullMQ app connects to it: an ioredis instance (jobcast
   * opens its own connections from it), ioredis options or a `redis://` URL. The channel log
   * stays in jobcast's own Redis either way. @defaultValue jobcast's own Redis
   */
  connection?: RedisClient | RedisOptions | string;
  /**
   * A read-only replica of the queue's Redis (same forms as `connection`): the watcher reads
   * the event stream, job hashes and finished sets there, so the primary your workers use
   * does nothing for jobcast but replicate. Cancel, status and tokens still use `connection`.
   * @defaultValue the queue's own Redis
   */
  replica?: RedisClient | RedisOptions | string;
  /** The queue's BullMQ key prefix, as your `Queue`/`Worker` set it. @defaultValue `bull` */
  prefix?: string;
  /**
   * Renders a completed job's return value as the HTML partial the page swaps in, once per
   * job. `job` is `undefined` when the queue removes jobs on completion. Without it the page
   * shows the completed state; the return value is in the status API.
   */
  render?: (returnvalue: Result, job: Job | undefined) => string;
  /**
   * Whether the queue's workers take cancel requests for running jobs (see the README,
   * "Cancelling watched jobs"). Without it a running job cannot be cancelled from the page
   * (409 saying so); a waiting one always can. @defaultValue false
   */
  cancelRunning?: boolean;
  /** The queue's name in job ids and channels, when its name has other characters. @defaultValue the name without `{}` */
  alias?: string;
  /** How long a watching process holds the publishing lease; another takes over after it. @defaultValue 5000 */
  leaseMs?: number;
  /**
   * Whether this process reads the queue's events and publishes them to the job channels.
   * `false` when other processes do (`jobcast watch`): tokens, status and cancel work the
   * same. @defaultValue true
   */
  publish?: boolean;
}

/** What a watched queue needs from jobcast. */
/**
 * One existing BullMQ queue jobcast follows: its jobs get job channels fed from the queue's
 * event stream (see {@link startQueueWatcher}), tokens, status and cancel. Returned by
 * {@link Jobcast.watchQueue}; `close()` stops watching (idempotent).
 */
export class WatchedQueue<Result = unknown> implements Watched {
  /** The BullMQ queue name. */
  readonly name: string;
  /** The queue's BullMQ key prefix. */
  readonly prefix: string;
  /** The queue's part of watched job ids (`<label>:<BullMQ job id>`). */
  readonly label: string;
  /** Resolves once events are being read (at once with `publish: false`): every job event from then on reaches its channel. */
  readonly ready: Promise<void>;
  readonly #options: WatchQueueOptions<Result>;
  readonly #deps: WatchedQueueDeps;
  readonly #commands: RedisClient;
  /** Where the watcher reads: the replica, or `#commands`. */
  readonly #reads: RedisClient;
  readonly #queue: Queue;
  readonly #watcher: QueueWatcher | undefined;
  readonly #log: Logger;
  #closing: Promise<void> | undefined;

  constructor(name: string, options: WatchQueueOptions<Result>, deps: WatchedQueueDeps) {
    if (!name || name.includes(':')) throw new Error(`queue name ${JSON.stringify(name)}: BullMQ queue names are not empty and have no ':'`);
    for (const [option, value] of [
      ['connection', options.connection],
      ['replica', options.replica],
    ] as const)
      if (typeof value === 'string' && !/^rediss?:\/\/[^/]/.test(value))
        throw new Error(
          `${option} ${JSON.stringify(value.slice(0, 80))} of queue ${name}: pass a redis:// or rediss:// URL, ioredis options or an ioredis instance`,
        );
    this.name = name;
    this.prefix = options.prefix ?? 'bull';
    this.label = queueLabel(name, options.alias);
    this.#options = options;
    this.#deps = deps;
    this.#log = deps.logger.child({ role: 'queue-watcher', queue: name });
    this.#commands = options.connection === undefined ? deps.connect() : connectTo(options.connection);
    // skipMetasUpdate: a Queue writes its own options (the event stream's length, BullMQ's
    // version) into the queue's meta hash when it starts; the app's are the ones that count.
    this.#queue = new Queue(name, { connection: this.#commands, prefix: this.prefix, skipMetasUpdate: true });
    const reads = options.publish === false || options.replica === undefined ? this.#commands : connectTo(options.replica);
    this.#reads = reads;
    this.#watcher =
      options.publish === false
        ? undefined
        : startQueueWatcher(this, {
            commands: reads,
            blocking: duplicate(reads),
            leaseRedis: deps.redis,
            keyPrefix: deps.keyPrefix,
            leaseMs: options.leaseMs ?? 5000,
            logger: this.#log,
          });
    this.ready = this.#watcher?.ready ?? Promise.resolve();
  }

  /** The BullMQ queue itself (for Bull Board and job counts). */
  get bullQueue(): Queue {
    return this.#queue;
  }

  /** The Redis key of one of the queue's BullMQ keys (`events`, a job id, …). */
  key(type: string): string {
    return this.#queue.toKey(type);
  }

  /** Whether the queue left any trace in Redis yet (it may be in another Redis, or under another prefix). */
  async exists(): Promise<boolean> {
    const found = await Promise.all(['meta', 'id', 'events'].map((k) => this.#commands.exists(this.key(k))));
    return found.some((n) => n > 0);
  }

  /** The BullMQ job, or a 404 naming the queue and where it was looked for. */
  async job(bullId: string): Promise<Job> {
    const job = await this.#queue.getJob(bullId);
    if (!job) throw new NotFoundError(`no job ${JSON.stringify(bullId).slice(0, 80)} in queue ${this.name} (prefix ${this.prefix})`);
    return job;
  }

  /** Whether completed jobs get a partial (the watcher then loads the job for `render`). */
  get renders(): boolean {
    return this.#options.render !== undefined;
  }

  /** The BullMQ job, or `undefined` when the queue no longer has it. */
  findJob(bullId: string): Promise<Job | undefined> {
    return this.#queue.getJob(bullId).catch(() => undefined);
  }

  /**
   * A token for BullMQ job `bullId`, after bringing its channel up to the job's state (a job
   * added before the queue was watched, or one whose events the stream no longer holds).
   */
  async follow(bullId: string, token: (channel: string) => Promise<string>): Promise<StartedJob> {
    const jobId = watchedJobId(this.label, bullId);
    const job = await this.job(bullId);
    const channel = jobChannel(jobId);
    await this.#catchUp(job, jobId);
    return { jobId, channel, token: await token(channel) };
  }

  async #catchUp(job: Job, jobId: string): Promise<void> {
    const { store } = this.#deps;
    const channel = jobChannel(jobId);
    const [snapshot, state] = await Promise.all([store.read(channel), job.getState()]);
    // BullMQ leaves `attempts` at 0 when the producer set none: one attempt.
    const attempts = Math.max(1, job.opts.attempts ?? 1);
    if (state === 'completed' || state === 'failed') {
      // It finished since `job` was read: read it again for its result.
      const done = (await this.findJob(job.id!)) ?? job;
      if (state === 'completed') return this.publishCompleted(jobId, done.returnvalue, done);
      if ((await this.cancelReason(jobId)) !== null) return;
      return void (await store.append(channel, 'failed', {
        error: (done.failedReason ?? 'failed').slice(0, 500),
        attempts: done.attemptsMade,
        retryable: false,
      }));
    }
    // An empty channel: the job predates watching. (Its own events, when they come, repeat
    // what this says; a job channel shows the newest.)
    if (snapshot.offset > 0) return;
    if (state === 'active') {
      await store.append(channel, 'active', { attempt: Math.min(attempts, job.attemptsMade + 1), attempts });
      if (job.progress !== 0) await this.#append(channel, 'progress', progressFromBullmq(job.progress));
    } else {
      await store.append(channel, 'queued', { job: job.name, attempts });
    }
  }

  /** Renders (once) and publishes a completed job's outcome. */
  async publishCompleted(jobId: string, returnvalue: unknown, job: Job | undefined): Promise<void> {
    const channel = jobChannel(jobId);
    const { store } = this.#deps;
    // A replayed `completed` (another watcher, a catch-up) renders nothing twice. (Without
    // render there is nothing to spare: the append itself keeps one outcome.)
    if (this.#options.render && (await store.read(channel)).events.some((e) => e.event === 'completed')) return;
    let partialUrl: string | null = null;
    if (this.#options.render) {
      try {
        const html = this.#options.render(returnvalue as Result, job);
        if (Buffer.byteLength(html) > this.#deps.maxPartialBytes) throw new Error(`the rendered result is over the ${this.#deps.maxPartialBytes}-byte limit`);
        await store.savePartial(channel, html);
        partialUrl = partialUrlOf(this.#deps.basePath, jobId);
      } catch (error) {
        // BullMQ recorded the job completed: it is, even when its page cannot show the result.
        this.#log.error({ err: error, jobId }, 'render failed; the job shows as completed without a result');
      }
    }
    const durationMs = job?.processedOn && job.finishedOn ? Math.max(0, job.finishedOn - job.processedOn) : 0;
    await store.append(channel, 'completed', { partialUrl, durationMs });
  }

  /** Appends, dropping what a too-large payload carried beyond the progress view. */
  async #append(channel: string, event: string, data: { pct: number | null; data?: unknown }): Promise<void> {
    try {
      await this.#deps.store.append(channel, event, data);
    } catch (error) {
      if (!(error instanceof Error && 'status' in error && error.status === 413) || data.data === undefined) throw error;
      const { data: _dropped, ...view } = data;
      await this.#deps.store.append(channel, event, view);
    }
  }

  /** Publishes progress a worker reported; exported for the watcher. */
  publishProgress(jobId: string, raw: string | undefined): Promise<void> {
    return this.#append(jobChannel(jobId), 'progress', progressFromStream(raw));
  }

  /** The job's status, as for jobcast's own jobs. */
  async status(bullId: string): Promise<JobStatus> {
    const jobId = watchedJobId(this.label, bullId);
    return describeJob(this.#deps, jobId, await this.job(bullId), Boolean(this.#options.render));
  }

  /**
   * Cancels a job: a waiting or delayed one is removed at once; a running one only when the
   * queue's workers take cancel requests (`cancelRunning`), else 409 saying it cannot be.
   */
  async cancel(bullId: string, reason: string): Promise<CancelResult> {
    const jobId = watchedJobId(this.label, bullId);
    const job = await this.job(bullId);
    const channel = jobChannel(jobId);
    const { store, redis, keyPrefix, retentionSeconds } = this.#deps;
    if ((await store.read(channel)).events.some((e) => e.event === 'cancelled')) throw new ConflictError(`job ${jobId} is already cancelled`);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') throw new ConflictError(`job ${jobId} is already ${state}`);
    if (state === 'active' && !this.#options.cancelRunning) throw this.#cannotStop(jobId);
    // The flag first: the watcher then publishes this reason for the removal or the failure.
    const { flag } = cancelKeys(keyPrefix, jobId);
    await redis.set(flag, reason, 'EX', retentionSeconds);
    if (state !== 'active') {
      try {
        // Fails when a worker took the job meanwhile: then it is running.
        await job.remove();
        await store.append(channel, 'cancelled', { reason });
        return { jobId, state: 'cancelled' };
      } catch {
        if (!this.#options.cancelRunning) {
          await redis.del(flag);
          throw this.#cannotStop(jobId);
        }
      }
    }
    // The cooperative signal: a custom event in the queue's own stream, which workers that
    // opted in hear through BullMQ's QueueEvents and pass to `worker.cancelJob(jobId)`.
    const maxLen = Number((await this.#commands.hget(this.key('meta'), 'opts.maxLenEvents')) ?? 10_000) || 10_000;
    await this.#commands.xadd(this.key('events'), 'MAXLEN', '~', maxLen, '*', 'event', 'jobcast:cancel', 'jobId', bullId, 'reason', reason);
    return { jobId, state: 'cancelling' };
  }

  #cannotStop(jobId: string): ConflictError {
    return new ConflictError(`job ${jobId} is already running, and the workers of queue ${this.name} cannot be told to stop it; it will finish on its own`);
  }

  /** The reason a cancel request left for this job, or `null`. */
  cancelReason(jobId: string): Promise<string | null> {
    return this.#deps.redis.get(cancelKeys(this.#deps.keyPrefix, jobId).flag);
  }

  /** Whether BullMQ job id `bullId` can have a channel (see {@link watchedJobId}). */
  followable(bullId: string): boolean {
    return followableJobId(bullId);
  }

  /** The store and settings the watcher publishes with. */
  get deps(): WatchedQueueDeps {
    return this.#deps;
  }

  /** Removes a job that was cancelled before BullMQ retried it; false when a worker has it. */
  async removeJob(bullId: string): Promise<boolean> {
    try {
      await this.#queue.remove(bullId);
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#watcher?.close().catch((error: unknown) => this.#log.warn({ err: error }, 'error while closing the watcher'));
      await this.#queue.close().catch(() => undefined);
      await this.#commands.quit().catch(() => this.#commands.disconnect());
      if (this.#reads !== this.#commands) await this.#reads.quit().catch(() => this.#reads.disconnect());
    })();
    return this.#closing;
  }
}

/** A connection of our own (closing it never closes the app's) to an instance's, options' or URL's Redis. */
function connectTo(target: RedisClient | RedisOptions | string): RedisClient {
  if (typeof target === 'string') return new Redis(target, { maxRetriesPerRequest: null });
  return 'duplicate' in target ? duplicate(target) : new Redis({ ...target, maxRetriesPerRequest: null });
}

/** A connection of our own like `client`; duplicate() differs in signature between Redis and Cluster. */
function duplicate(client: RedisClient): RedisClient {
  return (client.duplicate as () => RedisClient).call(client);
}
