import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

import { watchLeaseKey, watchPositionKey } from '../channels/keys.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import { batchPublisher } from './batch-publisher.js';
import { sweepOutcomes } from './outcome-sweep.js';
import { ensurePosition, readStreamFrom } from './stream-position-reader.js';
import type { Watched } from './watched.js';

const script = (name: string) => readFileSync(new URL(`./scripts/${name}`, import.meta.url), 'utf8');
const HOLD_LEASE = script('hold-lease-1.lua');
const RELEASE_LEASE = script('release-lease-1.lua');
/** How often the publisher looks for outcomes the stream dropped, how far back when it starts, and how old they must be. */
const SWEEP_EVERY_MS = 2000;
const SWEEP_BACK_MS = 10 * 60_000;
const SWEEP_SETTLE_MS = 3000;
/**
 * Entries per read of the queue's stream. Reads follow one another (one job's events in
 * order), so this bounds how fast a watcher can go: at 100 a read it fell 2 s behind a burst
 * of 10,000 BullMQ jobs (140,000 events in under 2 s); at 1,000 it stayed within 0.1 s.
 */
const READ_COUNT = 1000;

type LeaseRedis = RedisClient & {
  jobcastHoldLease(key: string, holder: string, ms: string): Promise<number>;
  jobcastReleaseLease(key: string, holder: string): Promise<number>;
};

/** What the watcher needs of the queue it watches. */

/** Options of {@link startQueueWatcher}. */
export interface QueueWatcherOptions {
  /** A connection to the queue's Redis (or a replica of it), for job hashes and finished sets. */
  commands: RedisClient;
  /** A connection of its own to the queue's Redis (or a replica of it): the watcher blocks on it; closed by `close()`. */
  blocking: RedisClient;
  /** jobcast's Redis, where the lease and the stream position live. */
  leaseRedis: RedisClient;
  keyPrefix: string;
  leaseMs: number;
  logger: Logger;
}

/** A running watcher; `close()` stops it and hands the lease back. Idempotent. */
export interface QueueWatcher {
  /** Resolves once the stream's position is kept: every event from then on is published. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Publishes a watched BullMQ queue's events (`<prefix>:<queue>:events`, written by BullMQ in
 * the same scripts that change a job's state) to its jobs' channels.
 *
 * Why a position kept in jobcast's Redis (not a consumer group on the queue's): it moves
 * only after a read's events were appended, so a watcher killed mid-read leaves it where the
 * next one starts; it survives restarts; and the queue's Redis only answers plain reads
 * (no pending-entry bookkeeping), which a read-only replica can do too. Why a lease: one
 * job's events must reach its channel in order, so one watching process publishes at a
 * time, and another takes over from the position within `leaseMs` after it stops.
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
  // One position per jobcast installation (key prefix): two apps watching one queue each get every event.
  const positionKey = watchPositionKey(options.keyPrefix, watched.prefix, watched.name);
  const holder = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const publish = batchPublisher(watched, options.commands, log);
  let running = true;
  let leader = false;
  let wake: (() => void) | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const hold = () =>
    lease.jobcastHoldLease(leaseKey, holder, String(options.leaseMs)).then(
      (n) => n === 1,
      () => false,
    );

  async function run(): Promise<void> {
    let backoff = 100;
    while (running) {
      try {
        if (!(await watched.exists())) {
          log.warn(
            { queue: watched.name, prefix: watched.prefix },
            `queue ${watched.name} (prefix ${watched.prefix}) has no keys in this Redis yet; watching it anyway. If your producers use another Redis or prefix, pass { connection, prefix } to watchQueue`,
          );
        }
        await ensurePosition(options.commands, stream, options.leaseRedis, positionKey);
        break;
      } catch (error) {
        log.warn({ err: error }, 'cannot note where the event stream of a watched queue stands; retrying');
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
      const renew = setInterval(
        () => {
          void hold().then((held) => {
            if (!held && leader) log.warn({ queue: watched.name }, 'lost the publishing lease of a watched queue; another process publishes now');
            leader = held;
          });
        },
        Math.max(50, options.leaseMs / 3),
      );
      // Outcomes whose events the stream dropped unread; jobs finished in the last few seconds
      // are left to the stream, which normally brings them within milliseconds.
      let sweptTo = Date.now() - SWEEP_BACK_MS;
      const sweep = setInterval(() => {
        const to = Date.now() - SWEEP_SETTLE_MS;
        void sweepOutcomes(watched, options.commands, sweptTo, to).then(
          (n) => {
            sweptTo = to;
            if (n)
              log.warn(
                { queue: watched.name, published: n },
                `published ${n} outcomes whose events the queue's stream dropped before they were read; raise BullMQ's streams.events.maxLen for bursts this big`,
              );
          },
          (error: unknown) => log.warn({ err: error }, 'outcome sweep failed; retrying'),
        );
      }, SWEEP_EVERY_MS);
      try {
        await readStreamFrom({
          connection: blocking,
          stream,
          positionRedis: options.leaseRedis,
          positionKey,
          // One job's events in order, different jobs' at once, most of a read in one script
          // call: a watcher keeps up with BullMQ workers at their concurrency, at a small part
          // of their CPU (see batchPublisher).
          handleBatch: publish,
          count: READ_COUNT,
          running: () => running && leader,
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
