import type { z } from 'zod';

import { queueKeys } from '../channels/keys.js';
import type { Logger } from '../logger.js';

/** Extra detail of a progress report. */
export interface ProgressInfo {
  /** Short name of the current stage, shown above the bar ("Reading commits"). */
  stage?: string;
  /** One line of detail ("412 of 1,024 commits"). */
  message?: string;
}

/** What a job handler receives besides its input. */
export interface JobContext {
  jobId: string;
  channel: string;
  /** 1 on the first run, 2 on the first retry, … */
  attempt: number;
  attempts: number;
  /** Aborts on cancellation, timeout and shutdown past the grace period. */
  signal: AbortSignal;
  /**
   * Publishes progress to everyone watching. `pct` 0–100, or `null` when unknown.
   * Calls are delivered in order; awaiting is optional.
   */
  progress(pct: number | null, info?: ProgressInfo | string): Promise<void>;
  /** A logger carrying the job id and channel. */
  log: Logger;
}

/**
 * A job definition of any input and result type, for lists of job types. `any` and not
 * `unknown`: a definition both takes its input (the handler) and yields it (the schema), so no
 * other type admits every job type.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type AnyJobDefinition = JobDefinition<any, any>;

/** A job type: its name, input schema, handler and rendering. */
export interface JobDefinition<Input = unknown, Result = unknown> {
  /** Unique name; also the BullMQ queue name. Lowercase letters, digits and dashes. */
  name: string;
  /** Validates the input when the job starts, and again in the worker. */
  input: z.ZodType<Input>;
  handler: (input: Input, ctx: JobContext) => Promise<Result> | Result;
  /** Renders the result as an HTML fragment, once per job; cached for every watcher. */
  render?: (result: Result, input: Input) => string;
  /** Runs in total, first included. @defaultValue 1 */
  attempts?: number;
  /**
   * Delay before a retry: fixed, or exponential from a base (`jitter` 0–1 spreads retries so a
   * failing dependency is not hit by every job at once), or a function of the attempt number
   * and the error. @defaultValue exponential from 1000 ms, jitter 0.5
   */
  backoff?: { type: 'fixed' | 'exponential'; delayMs: number; jitter?: number } | ((attempt: number, error: Error) => number);
  /**
   * Which errors are worth another attempt: a predicate, or a list of error classes and codes
   * (`error.code` or `error.name`) that are. @defaultValue every error, except an
   * `UnrecoverableError` (from bullmq) and input that no longer validates
   */
  retryIf?: RetryIf;
  /**
   * At most one progress write per this many milliseconds: a handler calling `ctx.progress` in
   * a tight loop has its reports in between dropped, the latest of them written at the end of
   * each interval (and before the outcome, which is never held back, nor is any lifecycle
   * event). @defaultValue 0, every report is written
   */
  progressEveryMs?: number;
  /** Time limit of one run in milliseconds; past it `ctx.signal` aborts and the run fails. */
  timeoutMs?: number;
  /** Runs of this job one worker process runs at once. @defaultValue the process setting (4) */
  concurrency?: number;
  /**
   * Whether a person may run a failed job again from the page (or `jobcast.retry`), with a
   * token that grants `retry`. @defaultValue false
   */
  retryFromPage?: boolean;
  /**
   * At most one job of this type per key at a time, the key made from the input. Starting a
   * duplicate while one is waiting or running joins it (the same job id, channel and progress),
   * or with `onDuplicate: 'reject'` is refused with 409.
   */
  unique?: { key: (input: Input) => string; onDuplicate?: 'join' | 'reject' };
  /**
   * Whether anyone who can reach the router may start this job type with
   * `POST <base>/jobs/:name` (rate-limited per client address). Off, the job starts only from
   * your server (`jobcast.start`), the signed `/apps/…` API, or a router given `authorizeStart`.
   * @defaultValue false
   */
  http?: boolean;
}

/** Which errors are worth another attempt. */
export type RetryIf = ((error: Error) => boolean) | ReadonlyArray<string | (abstract new (...args: never[]) => Error)>;

/** Whether `error` is worth another attempt under `retryIf` (no rule: every error is). */
export function retryable(retryIf: RetryIf | undefined, error: unknown): boolean {
  if (retryIf === undefined) return true;
  if (!(error instanceof Error)) return false;
  if (typeof retryIf === 'function') return retryIf(error);
  const code = (error as Error & { code?: unknown }).code;
  return retryIf.some((rule) => (typeof rule === 'string' ? rule === code || rule === error.name : error instanceof rule));
}

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Defines a job type.
 *
 * @example
 * ```ts
 * const resize = defineJob({
 *   name: 'resize-image',
 *   input: z.object({ url: z.string().url() }),
 *   async handler({ url }, ctx) {
 *     await ctx.progress(10, { stage: 'Downloading' });
 *     // …
 *     return { width: 800 };
 *   },
 *   render: (result) => `<p>Resized to ${result.width}px</p>`,
 * });
 * ```
 */
export function defineJob<Input, Result>(definition: JobDefinition<Input, Result>): JobDefinition<Input, Result> {
  if (!NAME.test(definition.name)) {
    throw new Error(`job name ${JSON.stringify(definition.name)}: use lowercase letters, digits and dashes (at most 63)`);
  }
  if (definition.attempts !== undefined && (!Number.isInteger(definition.attempts) || definition.attempts < 1)) {
    throw new Error(`job ${definition.name}: attempts must be a whole number of at least 1`);
  }
  if (definition.progressEveryMs !== undefined && !(Number.isFinite(definition.progressEveryMs) && definition.progressEveryMs >= 0)) {
    throw new Error(`job ${definition.name}: progressEveryMs must be a number of milliseconds, 0 or more`);
  }
  return definition;
}

/** The BullMQ key prefix of a job type's queue: hash-tagged per queue for Redis Cluster. */
export function queuePrefix(keyPrefix: string, jobName: string): string {
  return queueKeys(keyPrefix, jobName).prefix;
}
