import type { Job } from 'bullmq';

import { jobChannel } from '../../shared/channels.js';
import { type JobState, type JobStatus, ProgressEvent } from '../../shared/protocol.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { NotFoundError } from '../errors.js';
import type { JobQueues } from './job-queues.js';

/** Reads a job's status from BullMQ (state, attempts, result) and its channel (progress, outcome). */
export async function readJobStatus(jobcast: { queues: JobQueues; store: ChannelStore; basePath: string }, jobId: string): Promise<JobStatus> {
  const job = await jobcast.queues.find(jobId);
  if (!job) throw new NotFoundError(`no job with id ${JSON.stringify(jobId).slice(0, 80)}`);
  return describeJob(jobcast, jobId, job, Boolean(jobcast.queues.definition(job.name).render));
}

/**
 * The status of BullMQ job `job`, known to jobcast as `jobId` (its own jobs and watched
 * queues' jobs alike); `rendered` says whether a completed job has a partial.
 */
export async function describeJob(deps: { store: ChannelStore; basePath: string }, jobId: string, job: Job, rendered: boolean): Promise<JobStatus> {
  const channel = jobChannel(jobId);
  const [bullState, snapshot] = await Promise.all([job.getState(), deps.store.read(channel)]);
  const latest = (name: string) => snapshot.events.filter((e) => e.event === name).pop();
  const progress = ProgressEvent.safeParse(latest('progress')?.data);

  let state: JobState | 'unknown';
  if (latest('cancelled')) state = 'cancelled';
  else if (bullState === 'completed') state = 'completed';
  else if (bullState === 'failed') state = 'failed';
  else if (bullState === 'active') state = 'active';
  else if (bullState === 'waiting' || bullState === 'prioritized' || bullState === 'waiting-children') state = 'queued';
  else if (bullState === 'delayed') state = job.attemptsMade > 0 ? 'retrying' : 'queued';
  else state = 'unknown';

  return {
    jobId,
    name: job.name,
    state,
    progress: progress.success ? progress.data : null,
    attemptsMade: job.attemptsMade,
    attempts: Math.max(1, job.opts.attempts ?? 1),
    ...(state === 'completed' ? { result: job.returnvalue } : {}),
    ...(state === 'failed' && job.failedReason ? { error: job.failedReason } : {}),
    createdAt: job.timestamp ?? null,
    startedAt: job.processedOn ?? null,
    finishedAt: job.finishedOn ?? null,
    partialUrl: state === 'completed' && rendered ? partialUrlOf(deps.basePath, jobId) : null,
  };
}

/** Where a job's rendered result is served. */
export function partialUrlOf(basePath: string, jobId: string): string {
  return `${basePath}/jobs/${encodeURIComponent(jobId)}/partial`;
}
