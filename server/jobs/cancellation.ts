import { jobChannel } from '../../shared/channels.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { channelKey, sharedKeys } from '../channels/keys.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';
import type { JobQueues } from './job-queues.js';

/** Redis names cancellation uses: the request flag of a job, and the channel workers listen on. */
export function cancelKeys(keyPrefix: string, jobId: string): { flag: string; bus: string } {
  return { flag: cancelFlagKey(keyPrefix, jobId), bus: sharedKeys(keyPrefix).cancelBus };
}

/** The cancel-request flag of a job alone: read by every job a worker starts. */
export function cancelFlagKey(keyPrefix: string, jobId: string): string {
  return channelKey(keyPrefix, jobChannel(jobId), 'cancel');
}

/** What a cancel request did. */
export interface CancelResult {
  jobId: string;
  /** `cancelled`: it was waiting and is gone; `cancelling`: its worker was told to stop. */
  state: 'cancelled' | 'cancelling';
}

/**
 * Cancels a job: a waiting or delayed one is removed and `cancelled` is published at once; a
 * running one gets a flag (read by any worker that runs it later, after a stall) and a message
 * on the cancel bus, which makes the worker holding it abort `ctx.signal`; that worker then
 * publishes `cancelled`. A finished job cannot be cancelled (409 with its state).
 */
export async function cancelJob(
  deps: { queues: JobQueues; store: ChannelStore; redis: RedisClient; keyPrefix: string; retentionSeconds: number },
  jobId: string,
  reason: string,
): Promise<CancelResult> {
  const job = await deps.queues.find(jobId);
  if (!job) throw new NotFoundError(`no job with id ${JSON.stringify(jobId).slice(0, 80)}`);
  const channel = jobChannel(jobId);
  const snapshot = await deps.store.read(channel);
  if (snapshot.events.some((e) => e.event === 'cancelled')) throw new ConflictError(`job ${jobId} is already cancelled`);
  const state = await job.getState();
  if (state === 'completed' || state === 'failed') throw new ConflictError(`job ${jobId} is already ${state}`);

  const { flag, bus } = cancelKeys(deps.keyPrefix, jobId);
  await deps.redis.set(flag, reason, 'EX', deps.retentionSeconds);
  if (state !== 'active') {
    try {
      // Fails when a worker took the job meanwhile; then it is running and the flag stops it.
      await job.remove();
      await deps.store.append(channel, 'cancelled', { reason });
      return { jobId, state: 'cancelled' };
    } catch {
      // fall through: running now
    }
  }
  await deps.redis.publish(bus, JSON.stringify({ jobId, reason }));
  return { jobId, state: 'cancelling' };
}

/**
 * Runs a failed (or cancelled) job again, for a job type that allows it: the channel starts over
 * with `queued` (its outcome cleared), and BullMQ moves the job back to the queue.
 */
export async function retryJob(
  deps: { queues: JobQueues; store: ChannelStore; redis: RedisClient; keyPrefix: string },
  jobId: string,
): Promise<{ jobId: string; state: 'queued' }> {
  const job = await deps.queues.find(jobId);
  if (!job) throw new NotFoundError(`no job with id ${JSON.stringify(jobId).slice(0, 80)}`);
  const definition = deps.queues.definition(job.name);
  if (!definition.retryFromPage) throw new ForbiddenError(`jobs of type ${job.name} cannot be run again from the page`);
  const state = await job.getState();
  if (state !== 'failed') throw new ConflictError(`job ${jobId} is ${state}; only a failed or cancelled job can run again`);
  await deps.redis.del(cancelKeys(deps.keyPrefix, jobId).flag);
  await deps.store.append(jobChannel(jobId), 'queued', { job: job.name, attempts: job.opts.attempts ?? 1 }, { reset: true });
  await job.retry('failed');
  return { jobId, state: 'queued' };
}

/** The reason a job's handler was aborted when its job was cancelled. */
export class JobCancelledError extends Error {
  constructor(readonly reason: string) {
    super(`cancelled: ${reason}`);
    this.name = 'JobCancelledError';
  }
}
