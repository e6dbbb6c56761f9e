import { entryFields, type StreamEntry } from '../jobs/stream-group-reader.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import type { StreamFields } from './batch-publisher.js';

/** Options of {@link readStreamFrom}. */
export interface StreamPositionReaderOptions {
  /** A connection of its own to the stream's Redis (or a replica of it): the reader blocks on it. */
  connection: RedisClient;
  stream: string;
  /** Where the position is kept, and under which key: jobcast's Redis, not the stream's. */
  positionRedis: RedisClient;
  positionKey: string;
  /** Handles one read's entries (up to `count`, in stream order); the position moves past them after it resolves. */
  handleBatch(entries: StreamFields[]): Promise<void>;
  count: number;
  /** Whether to keep reading; checked between reads (a blocking read returns within a second). */
  running(): boolean;
  logger: Logger;
}

/** `a < b` for stream ids (`<ms>-<seq>`). */
export function streamIdBefore(a: string, b: string): boolean {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  return aMs < bMs || (aMs === bMs && aSeq < bSeq);
}

/** The id of the newest entry the stream ever had (`0-0` for a stream that does not exist yet). */
async function lastGeneratedId(connection: RedisClient, stream: string): Promise<string> {
  try {
    const info = (await connection.xinfo('STREAM', stream)) as unknown[];
    const at = info.indexOf('last-generated-id');
    return at >= 0 ? String(info[at + 1]) : '0-0';
  } catch (error) {
    if (String(error).includes('no such key')) return '0-0';
    throw error;
  }
}

/**
 * Makes sure a position exists for the stream: the newest entry it ever had, unless one is
 * kept already. Every event written after this resolves is read by {@link readStreamFrom}.
 */
export async function ensurePosition(connection: RedisClient, stream: string, positionRedis: RedisClient, positionKey: string): Promise<void> {
  if (await positionRedis.exists(positionKey)) return;
  await positionRedis.set(positionKey, await lastGeneratedId(connection, stream), 'NX');
}

/**
 * Reads a stream from a position kept in another Redis until `running()` turns false: plain
 * `XREAD`s, so the stream's Redis does nothing but answer them (and a read-only replica can),
 * and the position moves only after a read was handled, so a reader that dies mid-read leaves
 * it where the next one starts again (its events are handled twice, never skipped).
 *
 * A stream whose newest id is before the position came back empty (its Redis restarted
 * without its data): it is read again from its start, which holds only what came after.
 */
export async function readStreamFrom(options: StreamPositionReaderOptions): Promise<void> {
  const { connection: conn, stream, positionRedis, positionKey, logger } = options;
  let backoff = 100;
  let position: string | undefined;
  while (options.running()) {
    try {
      if (position === undefined) {
        await ensurePosition(conn, stream, positionRedis, positionKey);
        position = (await positionRedis.get(positionKey)) ?? '0-0';
      }
      const reply = (await conn.xread('COUNT', options.count, 'BLOCK', 1000, 'STREAMS', stream, position)) as [string, StreamEntry[]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (!entries.length) {
        const newest = await lastGeneratedId(conn, stream);
        if (streamIdBefore(newest, position)) {
          logger.warn(
            { stream, position, newest },
            'the watched stream is behind the position kept for it (its Redis lost its data?); reading it from its start',
          );
          position = '0-0';
          await positionRedis.set(positionKey, position);
        }
        continue;
      }
      await options.handleBatch(entries.filter(([, fields]) => fields).map(([, fields]) => entryFields(fields)));
      position = entries[entries.length - 1]![0];
      await positionRedis.set(positionKey, position);
      backoff = 100;
    } catch (error) {
      if (!options.running()) return;
      // Read the position again: another reader may have moved it while this one was away.
      position = undefined;
      logger.warn({ err: error, stream }, 'stream reader interrupted; retrying');
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 2000);
    }
  }
}
