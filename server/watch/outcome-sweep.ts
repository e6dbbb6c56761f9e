import { jobChannel } from '../../shared/channels.js';
import { channelKeys } from '../channels/keys.js';
import type { RedisClient } from '../redis/connect.js';
import type { Watched } from './watched.js';

type Swept = Pick<Watched, 'label' | 'key' | 'followable' | 'findJob' | 'publishCompleted' | 'cancelReason' | 'deps'>;

/**
 * Publishes the outcomes BullMQ recorded between `from` and `to` (ms) whose job channel
 * exists but has none: the events that would have said so were trimmed from the queue's
 * stream before a watcher read them (a burst bigger than BullMQ's `streams.events.maxLen`
 * while watchers lagged, or every watcher down for that long). Returns how many it published.
 *
 * Why channels that exist only: a job nobody follows needs no outcome; one that somebody
 * follows has at least `queued`, and its page would otherwise wait forever.
 *
 * Every job finished in the window is looked at, {@link PAGE} at a time in order of finishing
 * (a burst that overflowed the stream is usually far bigger than one page); jobs removed
 * meanwhile cannot make it skip one.
 */
export async function sweepOutcomes(watched: Swept, commands: RedisClient, from: number, to: number): Promise<number> {
  let published = 0;
  for (const state of ['completed', 'failed'] as const) {
    // From the last page's last score on, inclusive; the ids already seen at that score are skipped.
    let min = from;
    let seenAtMin = new Set<string>();
    for (;;) {
      const flat = await commands.zrangebyscore(watched.key(state), min, to, 'WITHSCORES', 'LIMIT', 0, PAGE + seenAtMin.size);
      const ids: string[] = [];
      const scores: number[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const score = Number(flat[i + 1]);
        if (score === min && seenAtMin.has(flat[i]!)) continue;
        ids.push(flat[i]!);
        scores.push(score);
      }
      published += await sweepPage(watched, state, ids);
      if (flat.length / 2 < PAGE + seenAtMin.size || !ids.length) break;
      const last = scores[scores.length - 1]!;
      seenAtMin = new Set(last === min ? [...seenAtMin, ...ids.filter((_, i) => scores[i] === last)] : ids.filter((_, i) => scores[i] === last));
      min = last;
    }
  }
  return published;
}

/** Finished jobs looked at per read. */
const PAGE = 1000;

/** Publishes the outcomes of `ids` (jobs in BullMQ's `state` set) that their channels lack. */
async function sweepPage(watched: Swept, state: 'completed' | 'failed', page: string[]): Promise<number> {
  const { store, keyPrefix, redis } = watched.deps;
  const ids = page.filter((id) => watched.followable(id));
  if (!ids.length) return 0;
  // Channels hash-tag by channel: one command each (no pipeline, which a Redis Cluster
  // refuses across slots; ioredis sends concurrent commands without waiting anyway).
  const replies = await Promise.all(
    ids.map(async (id) => {
      const { meta } = channelKeys(keyPrefix, jobChannel(`${watched.label}:${id}`));
      return Promise.all([redis.exists(meta), redis.hexists(meta, 's:outcome')]);
    }),
  );
  let published = 0;
  for (const [i, id] of ids.entries()) {
    const [exists, hasOutcome] = replies[i]!;
    if (exists !== 1 || hasOutcome === 1) continue;
    const jobId = `${watched.label}:${id}`;
    const job = await watched.findJob(id);
    if (!job) continue;
    if (state === 'completed') await watched.publishCompleted(jobId, job.returnvalue, job);
    else {
      const reason = await watched.cancelReason(jobId);
      await store.append(
        jobChannel(jobId),
        reason === null ? 'failed' : 'cancelled',
        reason === null ? { error: (job.failedReason ?? 'failed').slice(0, 500), attempts: job.attemptsMade, retryable: false } : { reason },
      );
    }
    published += 1;
  }
  return published;
}
