import { jobChannel } from '../../shared/channels.js';
import type { ChannelStore } from '../channels/channel-store.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import { JOB_FIELDS, type JobFacts, jobFacts } from './job-facts.js';
import type { Watched } from './watched.js';

/**
 * Maps one BullMQ event to the job channel's event (documented in the README, "Use it with
 * your existing BullMQ queues"):
 * `waiting` → `queued` · `active` → `active` · `progress` → `progress` · `delayed` after a
 * failure, or `waiting` after a failed attempt → `retrying` · `stalled` → `stalled` ·
 * `completed` → render once, `completed` · `failed` → `failed` (or `cancelled` after a
 * cancel request) · `removed` → `cancelled`.
 */
export function eventMapper(watched: Watched, commands: RedisClient, log: Logger): (entry: Record<string, string>) => Promise<void> {
  const store: ChannelStore = watched.deps.store;
  const warned = new Set<string>();

  /** The job hash fields the events do not carry. */
  async function jobFields(bullId: string): Promise<JobFacts> {
    return jobFacts(watched, await commands.hmget(watched.key(bullId), ...JOB_FIELDS));
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
    await store.append(channel, 'retrying', {
      attempt: Math.min(job.attempts, job.attemptsMade + 1),
      attempts: job.attempts,
      error: job.failedReason.slice(0, 500),
      retryAt,
    });
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
        await store.append(channel, 'completed', { partialUrl: null, durationMs: (await jobFields(bullId)).durationMs });
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
