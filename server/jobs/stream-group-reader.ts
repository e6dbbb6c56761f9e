import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';

/** One entry of a Redis stream as XREADGROUP returns it. */
export type StreamEntry = [id: string, fields: string[]];

/** The fields of a stream entry as an object. */
export function entryFields(fields: string[]): Record<string, string> {
  const entry: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
  return entry;
}

/** Options of {@link readStreamGroup}. */
export interface StreamGroupReaderOptions {
  /** A connection of its own: the reader blocks on it. */
  connection: RedisClient;
  stream: string;
  group: string;
  /** Consumer name; unique per process. */
  consumer: string;
  /**
   * Handles one read's entries (up to `count`, in stream order) at once, acknowledged
   * together after it resolves, all read again when it throws.
   */
  handleBatch(entries: { id: string; fields: Record<string, string> }[]): Promise<void>;
  /** Entries per read (and per `handleBatch` call). @defaultValue 100 */
  count?: number;
  /** Entries another consumer took but did not acknowledge for this long are taken over. */
  claimAfterMs: number;
  /** Whether to keep reading; checked between reads (a blocking read returns within a second). */
  running(): boolean;
  /** Called once the group exists (each time the loop (re)starts). */
  onReady?(): void;
  logger: Logger;
}

/**
 * Reads one BullMQ event stream through a consumer group until `running()` turns false:
 * each entry goes to one consumer and is acknowledged after it was handled, so an entry whose
 * consumer died mid-way stays pending and is claimed by another. The group starts at `$`
 * (`MKSTREAM`: the queue may not exist yet), so it sees what happens after it was created.
 *
 * Used by the outcome relay of jobcast's own jobs (watched BullMQ queues read from a kept
 * position instead: server/watch/stream-position-reader.ts).
 */
export async function readStreamGroup(options: StreamGroupReaderOptions): Promise<void> {
  const { connection: conn, stream, group, consumer } = options;
  const count = options.count ?? 100;
  const read = async (id: '0' | '>', block: boolean) => {
    const reply = (await (block
      ? conn.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', 1000, 'STREAMS', stream, id)
      : conn.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, id))) as [string, StreamEntry[]][] | null;
    return reply?.[0]?.[1] ?? [];
  };
  const drain = async (entries: StreamEntry[]) => {
    if (!entries.length) return;
    // A pending entry trimmed from the stream comes back without fields: nothing to handle.
    await options.handleBatch(entries.filter(([, fields]) => fields).map(([id, fields]) => ({ id, fields: entryFields(fields) })));
    await conn.xack(stream, group, ...entries.map(([id]) => id));
  };
  let lastClaim = 0;
  let backoff = 100;
  while (options.running()) {
    try {
      try {
        await conn.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
      } catch (error) {
        if (!String(error).includes('BUSYGROUP')) throw error;
      }
      options.onReady?.();
      // Our own pending entries first (a previous run of this consumer died mid-entry).
      await drain(await read('0', false));
      while (options.running()) {
        if (Date.now() - lastClaim > options.claimAfterMs) {
          lastClaim = Date.now();
          const [, claimed] = (await conn.xautoclaim(stream, group, consumer, options.claimAfterMs, '0', 'COUNT', count)) as [string, StreamEntry[]];
          await drain(claimed);
        }
        await drain(await read('>', true));
        backoff = 100;
      }
      for (let batch = await read('>', false); batch.length; batch = await read('>', false)) await drain(batch);
      return;
    } catch (error) {
      if (!options.running() && conn.status !== 'ready') return;
      // NOGROUP after a Redis restart without persistence: the next round recreates the group.
      options.logger.warn({ err: error, stream }, 'stream reader interrupted; retrying');
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 2000);
    }
  }
}
