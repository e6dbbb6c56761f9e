import type { RedisClient } from '../redis/connect.js';
import { jobChannel } from '../../shared/channels.js';
import type { ChannelStore } from '../channels/channel-store.js';
import type { Logger } from '../logger.js';
import { queuePrefix, type JobDefinition } from './define-job.js';

const GROUP = 'jobcast-outcomes';

/** Options of {@link startOutcomeRelay}. */
export interface OutcomeRelayOptions {
  /** A connection of its own: the relay blocks on it. */
  connection: RedisClient;
  store: ChannelStore;
  keyPrefix: string;
  basePath: string;
  logger: Logger;
  /** Entries another relay took but did not acknowledge for this long are taken over. @defaultValue 15000 */
  claimAfterMs?: number;
  /** Consumer name; unique per process. */
  consumer: string;
}

/** A running relay; `close()` stops it after the entry in hand. Idempotent. */
export interface OutcomeRelay {
  /** Resolves once the consumer groups exist: start workers after it, so no outcome predates them. */
  ready: Promise<void>;
  close(): Promise<void>;
}

type StreamEntry = [id: string, fields: string[]];

/**
 * Publishes job outcomes from BullMQ's own event stream, not from the worker that ran the job.
 *
 * Why: BullMQ appends `completed`/`failed` to `<queue>:events` in the same Lua script that
 * records the outcome. A worker SIGKILLed right after that script would never publish from an
 * in-process listener; this relay, reading the stream through a consumer group, still does.
 * Each entry goes to one relay; one that dies mid-entry leaves it pending and another claims
 * it. Appends are idempotent for outcomes (the channel keeps one), so a replay is harmless.
 */
export function startOutcomeRelay(definitions: readonly JobDefinition<any, any>[], options: OutcomeRelayOptions): OutcomeRelay { // any: jobs of every type
  const { connection: redis, store, logger } = options;
  const log = logger.child({ role: 'outcome-relay' });
  const byStream = new Map(definitions.map((d) => [`${queuePrefix(options.keyPrefix, d.name)}:${d.name}:events`, d]));
  const streams = [...byStream.keys()];
  const claimAfterMs = options.claimAfterMs ?? 15_000;
  let running = true;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  async function ensureGroup(conn: RedisClient, stream: string): Promise<void> {
    try {
      // `$`: the group exists before this process's workers take any job, so it sees all of
      // their outcomes; MKSTREAM because the queue may be new.
      await conn.xgroup('CREATE', stream, GROUP, '$', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  }

  async function handle(conn: RedisClient, stream: string, [id, fields]: StreamEntry): Promise<void> {
    const definition = byStream.get(stream);
    const entry: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
    const jobId = entry.jobId;
    if (definition && jobId) {
      const channel = jobChannel(jobId);
      const jobKey = `${queuePrefix(options.keyPrefix, definition.name)}:${definition.name}:${jobId}`;
      if (entry.event === 'completed') {
        const [processedOn, finishedOn] = await conn.hmget(jobKey, 'processedOn', 'finishedOn');
        const durationMs = processedOn && finishedOn ? Math.max(0, Number(finishedOn) - Number(processedOn)) : 0;
        const partialUrl = definition.render ? `${options.basePath}/jobs/${jobId}/partial` : null;
        await store.append(channel, 'completed', { partialUrl, durationMs });
      } else if (entry.event === 'failed') {
        const attempts = Number((await conn.hget(jobKey, 'atm')) ?? 0);
        await store.append(channel, 'failed', { error: (entry.failedReason ?? 'failed').slice(0, 500), attempts, retryable: definition.retryFromPage === true });
      } else if (entry.event === 'stalled') {
        await store.append(channel, 'stalled', { message: 'the worker stopped responding; the job goes back to the queue' });
      }
    }
    await conn.xack(stream, GROUP, id);
  }

  /**
   * One loop per queue, each on its own connection: one XREADGROUP over several queues' streams
   * would cross hash slots on a Redis Cluster.
   */
  async function loop(stream: string, conn: RedisClient, onReady: () => void): Promise<void> {
    const read = async (id: '0' | '>', block: boolean) => {
      const reply = (await (block
        ? conn.xreadgroup('GROUP', GROUP, options.consumer, 'COUNT', 100, 'BLOCK', 1000, 'STREAMS', stream, id)
        : conn.xreadgroup('GROUP', GROUP, options.consumer, 'COUNT', 100, 'STREAMS', stream, id))) as [string, StreamEntry[]][] | null;
      return reply?.[0]?.[1] ?? [];
    };
    const drain = async (entries: StreamEntry[]) => {
      for (const entry of entries) if (entry && entry[1]) await handle(conn, stream, entry);
    };
    let lastClaim = 0;
    let backoff = 100;
    while (running) {
      try {
        await ensureGroup(conn, stream);
        onReady();
        // Our own pending entries first (a previous run of this consumer died mid-entry).
        await drain(await read('0', false));
        while (running) {
          if (Date.now() - lastClaim > claimAfterMs) {
            lastClaim = Date.now();
            const [, claimed] = (await conn.xautoclaim(stream, GROUP, options.consumer, claimAfterMs, '0', 'COUNT', 100)) as [string, StreamEntry[]];
            await drain(claimed);
          }
          await drain(await read('>', true));
          backoff = 100;
        }
        // Stopping: publish what the workers of this process recorded last, then leave.
        for (let batch = await read('>', false); batch.length; batch = await read('>', false)) await drain(batch);
        return;
      } catch (error) {
        if (!running && conn.status !== 'ready') return;
        // NOGROUP after a Redis restart without persistence: the next round recreates the group.
        log.warn({ err: error, stream }, 'outcome relay interrupted; retrying');
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, 2000);
        if (!running) return;
      }
    }
  }

  // duplicate() differs in signature between Redis and Cluster; both take no arguments here.
  const duplicate = (redis.duplicate as () => RedisClient).bind(redis);
  const connections = streams.map((_, i) => (i === 0 ? redis : duplicate()));
  let waiting = streams.length;
  const loops = streams.map((stream, i) => {
    let counted = false;
    return loop(stream, connections[i]!, () => {
      if (counted) return;
      counted = true;
      if (--waiting === 0) markReady();
    });
  });
  const done = Promise.all(loops);
  if (!streams.length) markReady();
  let closing: Promise<void> | undefined;
  return {
    ready,
    close() {
      closing ??= (async () => {
        running = false;
        markReady();
        // The blocking read returns within a second; then the loop drains and ends.
        await done;
        await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
      })();
      return closing;
    },
  };
}
