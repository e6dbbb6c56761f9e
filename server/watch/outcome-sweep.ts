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
 */
export async function sweepOutcomes(watched: Swept, commands: RedisClient, from: number, to: number): Promise<number> {
  const { store, keyPrefix } = watched.deps;
  let published = 0;
  for (const state of ['completed', 'failed'] as const) {
    const ids = (await commands.zrangebyscore(watched.key(state), from, to, 'LIMIT', 0, 1000)).filter((id) => watched.followable(id));
    if (!ids.length) continue;
    // Channels hash-tag by channel: one command each (no pipeline, which a Redis Cluster
    // refuses across slots; ioredis sends concurrent commands without waiting anyway).
    const redis = watched.deps.redis;
    const replies = await Promise.all(
      ids.map(async (id) => {
        const { meta } = channelKeys(keyPrefix, jobChannel(`${watched.label}:${id}`));
        return Promise.all([redis.exists(meta), redis.hexists(meta, 's:outcome')]);
      }),
    );
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
  }
  return published;
}
