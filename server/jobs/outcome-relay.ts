import { jobChannel } from '../../shared/channels.js';
import type { ChannelStore } from '../channels/channel-store.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import { type AnyJobDefinition, queuePrefix } from './define-job.js';
import { readStreamGroup } from './stream-group-reader.js';

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

/**
 * Publishes job outcomes from BullMQ's own event stream, not from the worker that ran the job.
 *
 * Why: BullMQ appends `completed`/`failed` to `<queue>:events` in the same Lua script that
 * records the outcome. A worker SIGKILLed right after that script would never publish from an
 * in-process listener; this relay, reading the stream through a consumer group, still does.
 * Each entry goes to one relay; one that dies mid-entry leaves it pending and another claims
 * it. Appends are idempotent for outcomes (the channel keeps one), so a replay is harmless.
 */
export function startOutcomeRelay(definitions: readonly AnyJobDefinition[], options: OutcomeRelayOptions): OutcomeRelay {
  const { connection: redis, store, logger } = options;
  const log = logger.child({ role: 'outcome-relay' });
  const byStream = new Map(definitions.map((d) => [`${queuePrefix(options.keyPrefix, d.name)}:${d.name}:events`, d]));
  const streams = [...byStream.keys()];
  const claimAfterMs = options.claimAfterMs ?? 15_000;
  let running = true;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  /**
   * One read's entries at once: the job hashes the outcomes need in one pipelined round trip,
   * then every job's appends concurrently (one job's in stream order), then one XACK for all
   * (by the reader). If any fails, the whole read is handled again: outcomes are appended
   * once whatever the replays, a replayed `stalled` notice is the only thing that can repeat.
   */
  async function handleBatch(conn: RedisClient, stream: string, entries: { id: string; fields: Record<string, string> }[]): Promise<void> {
    const definition = byStream.get(stream);
    if (!definition) return;
    const jobKey = (jobId: string) => `${queuePrefix(options.keyPrefix, definition.name)}:${definition.name}:${jobId}`;
    const outcomes = entries.filter(({ fields }) => fields.jobId && (fields.event === 'completed' || fields.event === 'failed'));
    const pipeline = conn.pipeline();
    for (const { fields } of outcomes) {
      if (fields.event === 'completed') pipeline.hmget(jobKey(fields.jobId!), 'processedOn', 'finishedOn');
      else pipeline.hget(jobKey(fields.jobId!), 'atm');
    }
    const replies = outcomes.length ? ((await pipeline.exec()) ?? []) : [];
    const details = new Map<Record<string, string>, unknown>();
    outcomes.forEach(({ fields }, i) => {
      const [error, reply] = replies[i] ?? [new Error('no reply')];
      if (error) throw error;
      details.set(fields, reply);
    });
    const byJob = new Map<string, Record<string, string>[]>();
    for (const { fields } of entries) {
      if (!fields.jobId) continue;
      const list = byJob.get(fields.jobId);
      if (list) list.push(fields);
      else byJob.set(fields.jobId, [fields]);
    }
    await Promise.all(
      [...byJob].map(async ([jobId, events]) => {
        for (const entry of events) await publish(definition, jobId, entry, details.get(entry));
      }),
    );
  }

  async function publish(definition: AnyJobDefinition, jobId: string, entry: Record<string, string>, detail: unknown): Promise<void> {
    const channel = jobChannel(jobId);
    if (entry.event === 'completed') {
      const [processedOn, finishedOn] = detail as [string | null, string | null];
      const durationMs = processedOn && finishedOn ? Math.max(0, Number(finishedOn) - Number(processedOn)) : 0;
      const partialUrl = definition.render ? `${options.basePath}/jobs/${jobId}/partial` : null;
      await store.append(channel, 'completed', { partialUrl, durationMs });
    } else if (entry.event === 'failed') {
      const attempts = Number((detail as string | null) ?? 0);
      await store.append(channel, 'failed', { error: (entry.failedReason ?? 'failed').slice(0, 500), attempts, retryable: definition.retryFromPage === true });
    } else if (entry.event === 'stalled') {
      await store.append(channel, 'stalled', { message: 'the worker stopped responding; the job goes back to the queue' });
    }
  }

  /**
   * One reader per queue, each on its own connection: one XREADGROUP over several queues'
   * streams would cross hash slots on a Redis Cluster.
   */
  function loop(stream: string, conn: RedisClient, onReady: () => void): Promise<void> {
    return readStreamGroup({
      connection: conn,
      stream,
      group: GROUP,
      consumer: options.consumer,
      claimAfterMs,
      handleBatch: (entries) => handleBatch(conn, stream, entries),
      running: () => running,
      onReady,
      logger: log,
    });
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
        // The blocking read returns within a second; then the loop drains (publishing what
        // the workers of this process recorded last) and ends.
        await done;
        await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
      })();
      return closing;
    },
  };
}
