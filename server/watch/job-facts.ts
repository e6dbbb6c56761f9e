import type { Watched } from './watched.js';

/** The fields of a BullMQ job hash the watcher reads, in this order (BullMQ's names). */
export const JOB_FIELDS = ['name', 'atm', 'opts', 'failedReason', 'processedOn', 'finishedOn'] as const;

/** What the watcher needs of a job that its events do not carry. */
export interface JobFacts {
  name: string;
  attemptsMade: number;
  /** The attempt an event is about (see {@link jobFacts}). */
  attempt: number;
  attempts: number;
  failedReason: string;
  /** From the job's start to its finish, 0 until it finished. */
  durationMs: number;
}

/** The facts in the values of an `HMGET` of {@link JOB_FIELDS} (nulls for a job that is gone). */
export function jobFacts(watched: Watched, values: readonly (string | null | undefined)[]): JobFacts {
  const [name, atm, opts, failedReason, processedOn, finishedOn] = values;
  let attempts = 1;
  try {
    attempts = Math.max(1, Number((JSON.parse(opts ?? '{}') as { attempts?: unknown }).attempts) || 1);
  } catch {
    // no options: one attempt
  }
  const attemptsMade = Number(atm ?? 0);
  return {
    name: name ?? watched.name,
    attemptsMade,
    // The attempt an event is about, read after the fact: a job that finished meanwhile has
    // counted its last attempt already (BullMQ counts on completion too).
    attempt: Math.max(1, Math.min(attempts, finishedOn ? attemptsMade : attemptsMade + 1)),
    attempts,
    failedReason: failedReason ?? 'failed',
    durationMs: processedOn && finishedOn ? Math.max(0, Number(finishedOn) - Number(processedOn)) : 0,
  };
}
