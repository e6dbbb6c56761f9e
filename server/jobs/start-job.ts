import { createHash, randomBytes } from 'node:crypto';

import { jobChannel, JobId } from '../../shared/channels.js';
import type { StartedJob } from '../../shared/protocol.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { channelKeys, queueKeys } from '../channels/keys.js';
import { ConflictError, InvalidInputError, invalidInputFrom, PayloadTooLargeError, UnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import type { Right } from '../tokens.js';
import type { JobDefinition } from './define-job.js';
import { runInline } from './inline-runner.js';
import type { JobQueues } from './job-queues.js';
import type { Timeline } from './timeline.js';

/** Options of {@link Jobcast.start}. */
export interface StartOptions {
  /** Who owns the job (your user id); recorded in the token. */
  owner?: string;
  /** Rights the returned token grants. @defaultValue ['subscribe', 'cancel', 'retry'] */
  rights?: Right[];
  /** The id of the request that starts the job, logged with the job id. */
  requestId?: string;
  /** The app (HTTP API) that starts the job; only it can read or cancel it there. */
  app?: string;
  /**
   * Your own id for the job (letters, digits, `_`, `-`), for example to subscribe before it
   * starts. Starting a second job with an id in use is refused. @defaultValue a random id
   */
  jobId?: string;
}

/** What starting a job needs: the queues, the channel log, and the settings, resolved. */
export interface JobStarter {
  readonly redis: RedisClient;
  readonly store: ChannelStore;
  readonly queues: JobQueues;
  readonly timeline: Timeline;
  readonly logger: Logger;
  readonly keyPrefix: string;
  readonly basePath: string;
  readonly inline: boolean;
  readonly maxInputBytes: number;
  readonly maxPartialBytes: number;
  readonly retentionSeconds: number;
  readonly retentionCount: number;
  token(channels: string[], options: { owner?: string | undefined; rights: Right[] }): Promise<string>;
}

const DEFAULT_RIGHTS: Right[] = ['subscribe', 'cancel', 'retry'];

/**
 * Validates `input`, claims the job type's uniqueness key (joining the job that holds it, or
 * refusing), publishes `queued`, enqueues the BullMQ job (or runs it inline) and mints a token
 * for its channel.
 */
export async function startJob(deps: JobStarter, definition: JobDefinition<unknown, unknown>, input: unknown, options: StartOptions = {}): Promise<StartedJob> {
  const json = JSON.stringify(input ?? null);
  if (Buffer.byteLength(json) > deps.maxInputBytes) throw new PayloadTooLargeError(`job input is over the ${deps.maxInputBytes}-byte limit`);
  const parsed = await definition.input.safeParseAsync(input);
  if (!parsed.success) throw invalidInputFrom(parsed.error.issues);

  const joined = deps.inline ? null : await uniqueJob(deps, definition, parsed.data, options);
  if (joined) return joined;
  const jobId = options.jobId === undefined ? randomBytes(12).toString('base64url') : parseJobId(options.jobId);
  if (options.jobId !== undefined && (await deps.queues.queue(definition.name).getJob(jobId))) {
    throw new ConflictError(`a job with id ${jobId} already exists`);
  }
  const channel = jobChannel(jobId);
  const attempts = definition.attempts ?? 1;
  const retention = deps.retentionSeconds;
  if (definition.unique) {
    // Claim the key for this job; a racing start that lost the claim joins the winner.
    const key = uniqueKey(deps.keyPrefix, definition.name, definition.unique.key(parsed.data));
    const claimed = await deps.redis.set(key, jobId, 'EX', retention, 'NX');
    if (claimed === null) {
      const again = await uniqueJob(deps, definition, parsed.data, options);
      if (again) return again;
      await deps.redis.set(key, jobId, 'EX', retention);
    }
  }
  // Written by the `queued` append itself: no round trip of its own.
  const enqueued = deps.timeline.write(jobId, 'enqueued', {
    job: definition.name,
    ...(options.requestId ? { reqId: options.requestId } : {}),
    ...(options.owner ? { owner: options.owner } : {}),
    ...(options.app ? { app: options.app } : {}),
  });
  const mint = () => deps.token([channel], { owner: options.owner, rights: options.rights ?? DEFAULT_RIGHTS });
  if (deps.inline) {
    await deps.store.append(channel, 'queued', { job: definition.name, attempts }, { reset: true, record: enqueued });
    await runInline(definition, jobId, parsed.data, {
      store: deps.store,
      redis: deps.redis,
      keyPrefix: deps.keyPrefix,
      basePath: deps.basePath,
      logger: deps.logger,
      retentionSeconds: retention,
      maxPartialBytes: deps.maxPartialBytes,
    });
    return { jobId, channel, token: await mint() };
  }
  try {
    await deps.store.append(channel, 'queued', { job: definition.name, attempts }, { reset: true, record: enqueued });
    if (options.app) await deps.redis.set(channelKeys(deps.keyPrefix, channel).app, options.app, 'EX', retention);
    await deps.queues.queue(definition.name).add(definition.name, parsed.data, {
      jobId,
      attempts,
      backoff: backoffOf(definition),
      removeOnComplete: { age: retention, count: deps.retentionCount },
      removeOnFail: { age: retention, count: deps.retentionCount },
    });
  } catch (error) {
    throw new UnavailableError('the job could not be queued: Redis is unreachable', { cause: error });
  }
  const token = await mint();
  deps.logger.info({ jobId, channel, job: definition.name, owner: options.owner, reqId: options.requestId }, 'job queued');
  return { jobId, channel, token };
}

/**
 * For a job type with `unique`: the job already waiting or running for this input's key,
 * joined (a fresh token for it) or refused; `null` when there is none (start a new one).
 */
async function uniqueJob(deps: JobStarter, definition: JobDefinition<unknown, unknown>, input: unknown, options: StartOptions): Promise<StartedJob | null> {
  if (!definition.unique) return null;
  const key = uniqueKey(deps.keyPrefix, definition.name, definition.unique.key(input));
  const existing = await deps.redis.get(key);
  if (!existing) return null;
  const job = await deps.queues.queue(definition.name).getJob(existing);
  const state = job ? await job.getState() : 'unknown';
  // Finished, cancelled or gone: the key is free again.
  if (!job || !['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'].includes(state)) return null;
  if ((await deps.store.read(jobChannel(existing))).events.some((e) => e.event === 'cancelled')) return null;
  if (definition.unique.onDuplicate === 'reject')
    throw new ConflictError(`a ${definition.name} job for this input is already ${state === 'active' ? 'running' : 'queued'}: ${existing}`);
  const channel = jobChannel(existing);
  const token = await deps.token([channel], { owner: options.owner, rights: options.rights ?? DEFAULT_RIGHTS });
  deps.logger.info({ jobId: existing, channel, job: definition.name, reqId: options.requestId }, 'joined the running job with the same uniqueness key');
  return { jobId: existing, channel, token };
}

/** BullMQ backoff options of a job type (a function runs in the worker as the `custom` strategy). */
function backoffOf(definition: JobDefinition<unknown, unknown>) {
  const backoff = definition.backoff;
  if (typeof backoff === 'function') return { type: 'custom' };
  if (!backoff) return { type: 'exponential', delay: 1000, jitter: 0.5 };
  return { type: backoff.type, delay: backoff.delayMs, ...(backoff.jitter !== undefined ? { jitter: backoff.jitter } : {}) };
}

/** The Redis key holding the job id of a unique job type's key (in the queue's hash slot). */
function uniqueKey(keyPrefix: string, jobName: string, key: string): string {
  return queueKeys(keyPrefix, jobName).unique(createHash('sha256').update(key).digest('base64url'));
}

function parseJobId(raw: string): string {
  const parsed = JobId.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(`jobId: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'jobId');
  return parsed.data;
}
