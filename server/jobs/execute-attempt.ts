import { UnrecoverableError } from 'bullmq';

import { jobChannel } from '../../shared/channels.js';
import type { AppendOptions, ChannelStore, TimelineWrite } from '../channels/channel-store.js';
import type { Logger } from '../logger.js';
import type { AttemptControl } from './attempt-control.js';
import type { AnyJobDefinition, JobContext, ProgressInfo } from './define-job.js';
import { ProgressCoalescer } from './progress-coalescer.js';

export class JobTimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'JobTimeoutError';
  }
}

/**
 * What `ctx.signal` is aborted with once an attempt is over, so that work the handler left
 * running stops. One shared reason: `abort()` without one builds a new DOMException (and its
 * stack) per job, a few percent of a worker's CPU at hundreds of jobs a second.
 */
export const ATTEMPT_ENDED = new DOMException('the attempt ended', 'AbortError');

const toVoid = (): undefined => undefined;

/** One run of a job, as the worker (or inline mode) hands it over. */
export interface Attempt {
  jobId: string;
  attempt: number;
  attempts: number;
  data: unknown;
  /** Makes the attempt's logger (`ctx.log`): called at most once, when the handler first reads it. */
  log: () => Logger;
  /** Stops the attempt and aborts `ctx.signal`: cancellation, shutdown; the time limit stops it too. */
  control: AttemptControl;
  /**
   * The job's cancel-request key: read in the same step as `active` is appended, so a job
   * cancelled while it waited (or while the worker that had it was dead) publishes `cancelled`
   * instead and never starts.
   */
  cancelFlag?: string;
  /** A timeline entry (`started`) for the `active` append to write in the same step. */
  started?: TimelineWrite;
}

/**
 * Runs one attempt of a job, the same way in a BullMQ worker and in inline mode: publishes
 * `active`, validates the input again, runs the handler with its context (ordered progress,
 * signal, time limit), waits for every progress write, then renders and stores the partial.
 * Throws what the handler threw, or the abort reason.
 */
export async function executeAttempt(definition: AnyJobDefinition, run: Attempt, deps: { store: ChannelStore; maxPartialBytes: number }): Promise<unknown> {
  const { store } = deps;
  const channel = jobChannel(run.jobId);
  const activeOptions: AppendOptions = {
    ...(run.cancelFlag ? { insteadIfSet: { key: run.cancelFlag, event: 'cancelled', field: 'reason' } } : {}),
    ...(run.started ? { record: run.started } : {}),
  };
  const first = await store.append(channel, 'active', { attempt: run.attempt, attempts: run.attempts }, activeOptions);
  if (first?.event === 'cancelled') throw new UnrecoverableError(`cancelled: ${String((first.data as { reason?: unknown }).reason)}`);
  const parsed = await definition.input.safeParseAsync(run.data);
  if (!parsed.success) throw new UnrecoverableError(`input no longer valid: ${parsed.error.issues[0]?.message ?? 'invalid'}`);

  const { control } = run;
  const timer = definition.timeoutMs ? setTimeout(() => control.abort(new JobTimeoutError(definition.timeoutMs!)), definition.timeoutMs) : undefined;
  // Progress calls need not be awaited by the handler; their writes queue in order on one
  // connection, and the outcome waits for all of them.
  const writes: Promise<unknown>[] = [];
  const writeProgress = (data: Record<string, unknown>) => store.append(channel, 'progress', data).then(toVoid);
  // Opt-in (progressEveryMs): a tight loop of reports becomes one write per interval.
  const coalescer = definition.progressEveryMs ? new ProgressCoalescer(definition.progressEveryMs, writeProgress) : null;
  let log: Logger | undefined;
  const ctx: JobContext = {
    jobId: run.jobId,
    channel,
    attempt: run.attempt,
    attempts: run.attempts,
    get signal() {
      return control.signal;
    },
    get log() {
      return (log ??= run.log());
    },
    progress(pct, info?: ProgressInfo | string) {
      const value = pct === null ? null : Math.max(0, Math.min(100, Number(pct)));
      if (value !== null && !Number.isFinite(value)) return Promise.reject(new TypeError('progress pct must be a number or null'));
      // Runs for every report: no spread of an empty detail, no new handler functions.
      const data = info === undefined ? { pct: value } : typeof info === 'string' ? { pct: value, stage: info } : { pct: value, ...info };
      const write = coalescer ? coalescer.push(data) : writeProgress(data);
      writes.push(write.catch(toVoid));
      return write;
    },
  };
  try {
    // A handler that ignores its signal still ends on timeout: the race decides.
    const result = await Promise.race([definition.handler(parsed.data, ctx), control.stopped()]);
    // The last report held back goes out before anything that ends the attempt.
    await coalescer?.flush();
    await Promise.all(writes);
    if (definition.render) {
      const html = definition.render(result, parsed.data);
      // A result page that large is a bug in render, not something to ship to every watcher.
      if (Buffer.byteLength(html) > deps.maxPartialBytes) throw new UnrecoverableError(`the rendered result is over the ${deps.maxPartialBytes}-byte limit`);
      await store.savePartial(channel, html);
    }
    return result;
  } catch (error) {
    await coalescer?.flush();
    await Promise.all(writes);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
