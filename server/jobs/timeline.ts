import { jobChannel, jobIdOfChannel } from '../../shared/channels.js';
import type { ChannelStore, TimelineWrite } from '../channels/channel-store.js';
import { jobKeys } from '../channels/keys.js';
import type { RedisClient } from '../redis/connect.js';

/** One thing that happened to a job, for the operator's timeline. */
export interface TimelineEntry {
  /** Milliseconds since the epoch. */
  at: number;
  /** `enqueued`, `started`, `published`, `delivered`, `acknowledged`, `partial fetched`. */
  what: string;
  detail: Record<string, unknown>;
}

const MAX_ENTRIES = 500;
const keyOf = (prefix: string, jobId: string) => jobKeys(prefix, jobId).timeline;

/**
 * The story of one job across processes: who enqueued it (request id), which worker started
 * it, what was published, which connections it was delivered to, which browser acknowledged
 * the outcome, when the partial was fetched. Kept in Redis next to the job's channel (same hash
 * slot), capped, for the retention period. Writes are fire-and-forget: a timeline is for
 * people, never worth slowing or failing a job for.
 */
export class Timeline {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #retention: number;

  constructor(redis: RedisClient, prefix: string, retentionSeconds: number) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#retention = retentionSeconds;
  }

  /** Records an entry for the job of `channelOrJobId` (a `job:` channel or a job id). */
  record(channelOrJobId: string, what: string, detail: Record<string, unknown> = {}): void {
    const jobId = jobIdOfChannel(channelOrJobId) ?? channelOrJobId;
    const key = keyOf(this.#prefix, jobId);
    const entry: TimelineEntry = { at: Date.now(), what, detail };
    this.#redis
      .multi()
      .rpush(key, JSON.stringify(entry))
      .ltrim(key, -MAX_ENTRIES, -1)
      .expire(key, this.#retention)
      .exec()
      .catch(() => undefined);
  }

  /**
   * The same entry as {@link record}, for a channel append to write in its own step (one
   * round trip less per job: `enqueued` with `queued`, `started` with `active`).
   */
  write(channelOrJobId: string, what: string, detail: Record<string, unknown> = {}): TimelineWrite {
    const jobId = jobIdOfChannel(channelOrJobId) ?? channelOrJobId;
    const entry: TimelineEntry = { at: Date.now(), what, detail };
    return { key: keyOf(this.#prefix, jobId), entry: JSON.stringify(entry), max: MAX_ENTRIES, ttlSeconds: this.#retention };
  }

  /** Everything known about a job, oldest first: recorded entries and its published events. */
  async read(jobId: string, store: ChannelStore): Promise<TimelineEntry[]> {
    const [raw, first] = await Promise.all([this.#redis.lrange(keyOf(this.#prefix, jobId), 0, -1), store.read(jobChannel(jobId))]);
    const history = await store.read(jobChannel(jobId), { epoch: first.epoch, offset: 0 });
    const published: TimelineEntry[] = history.events.map((e) => ({ at: e.ts, what: 'published', detail: { event: e.event, offset: e.offset, data: e.data } }));
    const recorded = raw.flatMap((line) => {
      try {
        return [JSON.parse(line) as TimelineEntry];
      } catch {
        return [];
      }
    });
    // Stable order: by time, and a publish before what followed from it at the same millisecond.
    const rank = (what: string) => ['enqueued', 'started', 'published', 'delivered', 'acknowledged', 'partial fetched'].indexOf(what);
    return [...recorded, ...published].sort((a, b) => a.at - b.at || rank(a.what) - rank(b.what));
  }
}
