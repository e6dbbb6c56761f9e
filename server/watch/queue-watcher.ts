import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { jobChannel } from '../../shared/channels.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { watchLeaseKey } from '../channels/keys.js';
import { readStreamGroup } from '../jobs/stream-group-reader.js';
import { sweepOutcomes } from './outcome-sweep.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import type { WatchedQueue } from './watched-queue.js';

const script = (name: string) => readFileSync(new URL(`./scripts/${name}`, import.meta.url), 'utf8');
const HOLD_LEASE = script('hold-lease-1.lua');
const RELEASE_LEASE = script('release-lease-1.lua');
/** How often the publisher looks for outcomes the stream dropped, how far back when it starts, and how old they must be. */
const SWEEP_EVERY_MS = 2000;
const SWEEP_BACK_MS = 10 * 60_000;
const SWEEP_SETTLE_MS = 3000;

type LeaseRedis = RedisClient & {
  jobcastHoldLease(key: string, holder: string, ms: string): Promise<number>;
  jobcastReleaseLease(key: string, holder: string): Promise<number>;
};

/** What the watcher needs of the queue it watches. */
type Watched = Pick<WatchedQueue, 'renders' | 'name' | 'prefix' | 'label' | 'key' | 'exists' | 'publishCompleted' | 'publishProgress' | 'cancelReason' | 'followable' | 'removeJob' | 'findJob' | 'deps'>;

/** Options of {@link startQueueWatcher}. */
export interface QueueWatcherOptions {
  /** A connection to the queue's Redis, for job hashes. */
  commands: RedisClient;
  /** A connection of its own to the queue's Redis: the watcher blocks on it; closed by `close()`. */
  blocking: RedisClient;
  /** jobcast's Redis, where the lease lives. */
  leaseRedis: RedisClient;
  keyPrefix: string;
  leaseMs: number;
  logger: Logger;
}

/** A running watcher; `close()` stops it and hands the lease back. Idempotent. */
export interface QueueWatcher {
  /** Resolves once the consumer group exists: every event from then on is published. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Publishes a watched BullMQ queue's events (`<prefix>:<queue>:events`, written by BullMQ in
 * the same scripts that change a job's state) to its jobs' channels.
 *
 * Why a consumer group: an entry is acknowledged only after its channel event was appended,
 * so a watcher killed mid-entry leaves it pending and the next one publishes it; the
 * group's position survives restarts. Why a lease on top: one job's events must reach its
 * channel in order, and a group hands consecutive entries to different consumers; so one
 * watching process publishes at a time, and another takes over (claiming what it left
 * pending) within `leaseMs` after it stops.
 */
export function startQueueWatcher(watched: Watched, options: QueueWatcherOptions): QueueWatcher {
  const { blocking, logger: log } = options;
  const lease = options.leaseRedis as LeaseRedis;
  if (!('jobcastHoldLease' in options.leaseRedis)) {
    options.leaseRedis.defineCommand('jobcastHoldLease', { numberOfKeys: 1, lua: HOLD_LEASE });
    options.leaseRedis.defineCommand('jobcastReleaseLease', { numberOfKeys: 1, lua: RELEASE_LEASE });
  }
  const leaseKey = watchLeaseKey(options.keyPrefix, watched.prefix, watched.name);
  const stream = watched.key('events');
  // One group per jobcast installation (key prefix): two apps watching one queue each get every event.
  const group = `jobcast:${options.keyPrefix}`;
  const holder = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const map = eventMapper(watched, options.commands, log);
  let running = true;
  let leader = false;
  let wake: (() => void) | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const pause = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const hold = () => lease.jobcastHoldLease(leaseKey, holder, String(options.leaseMs)).then((n) => n === 1, () => false);

  async function run(): Promise<void> {
    let backoff = 100;
    while (running) {
      try {
        if (!(await watched.exists())) {
          log.warn({ queue: watched.name, prefix: watched.prefix }, `queue ${watched.name} (prefix ${watched.prefix}) has no keys in this Redis yet; watching it anyway. If your producers use another Redis or prefix, pass { connection, prefix } to watchQueue`);
        }
        await blocking.xgroup('CREATE', stream, group, '$', 'MKSTREAM').catch((error: unknown) => {
          if (!String(error).includes('BUSYGROUP')) throw error;
        });
        break;
      } catch (error) {
        log.warn({ err: error }, 'cannot create the consumer group of a watched queue; retrying');
        await pause(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
    markReady();
    while (running) {
      if (!(await hold())) {
        await pause(Math.max(50, options.leaseMs / 3));
        continue;
      }
      leader = true;
      log.info({ queue: watched.name }, `publishing the events of watched queue ${watched.name}`);
      const renew = setInterval(() => {
        void hold().then((held) => {
          if (!held && leader) log.warn({ queue: watched.name }, 'lost the publishing lease of a watched queue; another process publishes now');
          leader = held;
        });
      }, Math.max(50, options.leaseMs / 3));
      // Outcomes whose events the stream dropped unread; jobs finished in the last few seconds
      // are left to the stream, which normally brings them within milliseconds.
      let sweptTo = Date.now() - SWEEP_BACK_MS;
      const sweep = setInterval(() => {
        const to = Date.now() - SWEEP_SETTLE_MS;
        void sweepOutcomes(watched, options.commands, sweptTo, to).then(
          (n) => {
            sweptTo = to;
            if (n) log.warn({ queue: watched.name, published: n }, `published ${n} outcomes whose events the queue's stream dropped before they were read; raise BullMQ's streams.events.maxLen for bursts this big`);
          },
          (error: unknown) => log.warn({ err: error }, 'outcome sweep failed; retrying'),
        );
      }, SWEEP_EVERY_MS);
      try {
        await readStreamGroup({
          connection: blocking,
          stream,
          group,
          consumer: holder,
          // One job's events in order, different jobs' at once: a watcher keeps up with
          // BullMQ workers at their concurrency instead of one round trip per event.
          handleBatch: async (entries) => {
            const byJob = new Map<string, Record<string, string>[]>();
            for (const { fields } of entries) {
              const list = byJob.get(fields.jobId ?? '');
              if (list) list.push(fields);
              else byJob.set(fields.jobId ?? '', [fields]);
            }
            const results = await Promise.allSettled([...byJob.values()].map(async (list) => {
              for (const [i, fields] of list.entries()) {
                // A progress report superseded by the next one in the same read is not worth a
                // round trip (progress conflates; the newest is what a page shows).
                if (fields.event === 'progress' && list[i + 1]?.event === 'progress') continue;
                await map(fields);
              }
            }));
            const failed = results.find((r) => r.status === 'rejected');
            if (failed) throw (failed as PromiseRejectedResult).reason;
          },
          // The lease says nobody else reads: what any consumer left pending is ours at once.
          claimAfterMs: options.leaseMs,
          takeOverFirst: true,
          running: () => running && leader,
          drainOnStop: false,
          logger: log,
        });
      } finally {
        clearInterval(renew);
        clearInterval(sweep);
      }
    }
  }

  const done = run();
  let closing: Promise<void> | undefined;
  return {
    ready,
    close() {
      closing ??= (async () => {
        running = false;
        markReady();
        wake?.();
        await done;
        if (leader) await lease.jobcastReleaseLease(leaseKey, holder).catch(() => undefined);
        await blocking.quit().catch(() => blocking.disconnect());
      })();
      return closing;
    },
  };
}

/**
 * Maps one BullMQ event to the job channel's event (documented in the README, "Use it with
 * your existing BullMQ queues"):
 * `waiting` → `queued` · `active` → `active` · `progress` → `progress` · `delayed` after a
 * failure, or `waiting` after a failed attempt → `retrying` · `stalled` → `stalled` ·
 * `completed` → render once, `completed` · `failed` → `failed` (or `cancelled` after a
 * cancel request) · `removed` → `cancelled`.
 */
function eventMapper(watched: Watched, commands: RedisClient, log: Logger): (entry: Record<string, string>) => Promise<void> {
  const store: ChannelStore = watched.deps.store;
  const warned = new Set<string>();

  /** The job hash fields the events do not carry. */
  async function jobFields(bullId: string) {
    const [name, atm, opts, failedReason, processedOn, finishedOn] = await commands.hmget(watched.key(bullId), 'name', 'atm', 'opts', 'failedReason', 'processedOn', 'finishedOn');
    let attempts = 1;
    try {
      attempts = Math.max(1, Number((JSON.parse(opts ?? '{}') as { attempts?: unknown }).attempts) || 1);
    } catch {
      // no options: one attempt
    }
    const attemptsMade = Number(atm ?? 0);
    // The attempt an event is about, read after the fact: a job that finished meanwhile has
    // counted its last attempt already (BullMQ counts on completion too).
    const attempt = Math.max(1, Math.min(attempts, finishedOn ? attemptsMade : attemptsMade + 1));
    return { name: name ?? watched.name, attemptsMade, attempt, attempts, failedReason: failedReason ?? 'failed', processedOn, finishedOn };
  }

  async function retrying(jobId: string, bullId: string, retryAt: number | null): Promise<void> {
    const channel = jobChannel(jobId);
    const reason = await watched.cancelReason(jobId);
    if (reason !== null) {
      // Cancelled while it ran, and BullMQ would run it again: it stops here.
      if (!(await watched.removeJob(bullId))) log.warn({ jobId }, 'a cancelled job was taken by a worker again before it could be removed');
      await store.append(channel, 'cancelled', { reason });
      return;
    }
    const job = await jobFields(bullId);
    await store.append(channel, 'retrying', { attempt: Math.min(job.attempts, job.attemptsMade + 1), attempts: job.attempts, error: job.failedReason.slice(0, 500), retryAt });
  }

  return async (entry) => {
    const bullId = entry.jobId;
    if (!bullId) return;
    if (!watched.followable(bullId)) {
      if (warned.size < 100 && !warned.has(bullId)) {
        warned.add(bullId);
        log.warn({ bullId: bullId.slice(0, 80) }, 'a job of a watched queue has an id that cannot be part of a channel name; it is not followed');
      }
      return;
    }
    const jobId = `${watched.label}:${bullId}`;
    const channel = jobChannel(jobId);
    switch (entry.event) {
      case 'waiting': {
        const prev = entry.prev;
        if (prev === 'active') {
          // Back to the queue from a worker: a failed attempt retried at once (the attempt count
          // went up), or a stall (it did not; `stalled` follows).
          const active = (await store.read(channel)).events.filter((e) => e.event === 'active').pop();
          const attempt = (active?.data as { attempt?: number } | undefined)?.attempt ?? 1;
          if ((await jobFields(bullId)).attemptsMade >= attempt) await retrying(jobId, bullId, null);
        } else if (prev === undefined || prev === 'failed' || prev === 'completed' || prev === 'waiting-children') {
          const job = await jobFields(bullId);
          // Run again after an outcome (`job.retry()`): the channel starts over.
          await store.append(channel, 'queued', { job: job.name, attempts: job.attempts }, prev === 'failed' || prev === 'completed' ? { reset: true } : {});
        }
        return;
      }
      case 'delayed': {
        const job = await jobFields(bullId);
        if (job.attemptsMade > 0) await retrying(jobId, bullId, Number(entry.delay) || null);
        else await store.append(channel, 'queued', { job: job.name, attempts: job.attempts });
        return;
      }
      case 'active': {
        const job = await jobFields(bullId);
        await store.append(channel, 'active', { attempt: job.attempt, attempts: job.attempts });
        return;
      }
      case 'progress':
        return watched.publishProgress(jobId, entry.data);
      case 'stalled':
        await store.append(channel, 'stalled', { message: 'the worker stopped responding; the job goes back to the queue' });
        return;
      case 'completed': {
        let returnvalue: unknown = entry.returnvalue;
        try {
          returnvalue = entry.returnvalue === undefined ? null : JSON.parse(entry.returnvalue);
        } catch {
          // not JSON: the string as it is
        }
        if (watched.renders) return watched.publishCompleted(jobId, returnvalue, await watched.findJob(bullId));
        // No render: the two timestamps are all that is needed of the job.
        const job = await jobFields(bullId);
        const durationMs = job.processedOn && job.finishedOn ? Math.max(0, Number(job.finishedOn) - Number(job.processedOn)) : 0;
        await store.append(channel, 'completed', { partialUrl: null, durationMs });
        return;
      }
      case 'failed': {
        const reason = await watched.cancelReason(jobId);
        if (reason !== null) {
          await store.append(channel, 'cancelled', { reason });
          return;
        }
        const job = await jobFields(bullId);
        await store.append(channel, 'failed', { error: (entry.failedReason ?? job.failedReason).slice(0, 500), attempts: job.attemptsMade, retryable: false });
        return;
      }
      case 'removed': {
        const reason = await watched.cancelReason(jobId);
        // A job removed before it finished ends here; one removed after its outcome keeps it.
        await store.append(channel, 'cancelled', { reason: reason ?? 'removed from the queue' });
        return;
      }
      default:
        // added (waiting/delayed follow), retries-exhausted (failed came first), our own
        // jobcast:cancel, deduplication and the rest say nothing new about a job's state.
        return;
    }
  };
}
