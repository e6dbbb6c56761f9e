import type { ChannelEvent } from '../../shared/protocol.js';
import { sharedKeys } from '../channels/keys.js';
import type { RedisClient } from '../redis/connect.js';

const MAX = 2000;

/**
 * The recent events of every channel, for the live stream of the debug console: a capped Redis
 * stream, written only when the admin pages are on (it costs one write per event).
 */
export class Firehose {
  readonly #redis: RedisClient;
  readonly #key: string;

  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis;
    this.#key = sharedKeys(prefix).firehose;
  }

  add(event: ChannelEvent): void {
    this.#redis.xadd(this.#key, 'MAXLEN', '~', String(MAX), '*', 'e', JSON.stringify(event)).catch(() => undefined);
  }

  /** Events after the stream id `after` (or the last 200), oldest first, and the newest id. */
  async read(after: string | undefined): Promise<{ events: ChannelEvent[]; last: string | null }> {
    const entries = (
      after ? await this.#redis.xrange(this.#key, `(${after}`, '+', 'COUNT', 500) : (await this.#redis.xrevrange(this.#key, '+', '-', 'COUNT', 200)).reverse()
    ) as [string, string[]][];
    const events = entries.flatMap(([, fields]) => {
      try {
        return [JSON.parse(fields[1] ?? '') as ChannelEvent];
      } catch {
        return [];
      }
    });
    return { events, last: entries.at(-1)?.[0] ?? after ?? null };
  }
}
