import { UnrecoverableError } from 'bullmq';

import { jobChannel } from '../../shared/channels.js';
import type { JobStatus } from '../../shared/protocol.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { jobKeys } from '../channels/keys.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import { AttemptControl } from './attempt-control.js';
import { type AnyJobDefinition, retryable } from './define-job.js';
import { ATTEMPT_ENDED, executeAttempt } from './execute-attempt.js';

/** What inline runs need. */
export interface InlineDeps {
  store: ChannelStore;
  redis: RedisClient;
  keyPrefix: string;
  basePath: string;
  logger: Logger;
  retentionSeconds: number;
  maxPartialBytes: number;
}

const recordKey = (keyPrefix: string, jobId: string) => jobKeys(keyPrefix, jobId).inline;

/**
 * Inline mode, for an application's own tests: the job runs here and now, in this process,
 * attempts and all (without waiting between them), publishing the same events and storing the
 * same partial a worker would, so a test needs no worker process. Resolves when it finished.
 */
export async function runInline(definition: AnyJobDefinition, jobId: string, input: unknown, deps: InlineDeps): Promise<void> {
  const channel = jobChannel(jobId);
  const attempts = definition.attempts ?? 1;
  const key = recordKey(deps.keyPrefix, jobId);
  const createdAt = Date.now();
  const record = async (fields: Record<string, string | number>) => {
    await deps.redis.hset(key, { name: definition.name, attempts, createdAt, ...fields });
    await deps.redis.expire(key, deps.retentionSeconds);
  };
  await record({ state: 'queued', attemptsMade: 0 });
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const startedAt = Date.now();
    await record({ state: 'active', startedAt, attemptsMade: attempt - 1 });
    const control = new AttemptControl();
    try {
      const result = await executeAttempt(
        definition,
        { jobId, attempt, attempts, data: input, log: () => deps.logger.child({ jobId, inline: true }), control },
        deps,
      );
      const finishedAt = Date.now();
      await record({ state: 'completed', attemptsMade: attempt, finishedAt, result: JSON.stringify(result ?? null) });
      await deps.store.append(channel, 'completed', {
        partialUrl: definition.render ? `${deps.basePath}/jobs/${jobId}/partial` : null,
        durationMs: finishedAt - startedAt,
      });
      return;
    } catch (error) {
      const message = String((error as Error)?.message ?? error).slice(0, 500);
      const retry = attempt < attempts && !(error instanceof UnrecoverableError) && retryable(definition.retryIf, error);
      if (retry) {
        await deps.store.append(channel, 'retrying', { attempt: attempt + 1, attempts, error: message, retryAt: Date.now() });
        continue;
      }
      await record({ state: 'failed', attemptsMade: attempt, finishedAt: Date.now(), error: message });
      await deps.store.append(channel, 'failed', { error: message, attempts: attempt, retryable: false });
      return;
    } finally {
      control.abort(ATTEMPT_ENDED);
    }
  }
}

/** The status of an inline job, or `null` if there is no such inline job. */
export async function inlineStatus(
  redis: RedisClient,
  keyPrefix: string,
  basePath: string,
  jobId: string,
  hasPartial: (name: string) => boolean,
): Promise<JobStatus | null> {
  const r = await redis.hgetall(recordKey(keyPrefix, jobId));
  if (!r.name) return null;
  const num = (v: string | undefined) => (v === undefined ? null : Number(v));
  const state = (r.state ?? 'queued') as JobStatus['state'];
  return {
    jobId,
    name: r.name,
    state,
    progress: null,
    attemptsMade: Number(r.attemptsMade ?? 0),
    attempts: Number(r.attempts ?? 1),
    ...(state === 'completed' && r.result !== undefined ? { result: JSON.parse(r.result) as unknown } : {}),
    ...(r.error ? { error: r.error } : {}),
    createdAt: num(r.createdAt),
    startedAt: num(r.startedAt),
    finishedAt: num(r.finishedAt),
    partialUrl: state === 'completed' && hasPartial(r.name) ? `${basePath}/jobs/${jobId}/partial` : null,
  };
}
