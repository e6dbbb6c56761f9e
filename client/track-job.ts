import { jobChannel, type JobState } from '../shared/constants.js';
import type { ActiveEvent, CancelledEvent, CompletedEvent, FailedEvent, ProgressEvent, RetryingEvent } from '../shared/protocol.js';
import type { JobcastConnection } from './connection.js';
import type { EventContext, GetToken, Subscription, TokenSource } from './subscription.js';

/** How a job ended, as {@link JobHandlers.onDone} receives it. */
export type JobOutcome =
  | { state: 'completed'; data: CompletedEvent; event: EventContext }
  | { state: 'failed'; data: FailedEvent; event: EventContext }
  | { state: 'cancelled'; data: CancelledEvent; event: EventContext };

/** A job's state as {@link JobHandlers.onState} receives it; `active` carries the attempt. */
export type JobStateContext = { state: 'active'; event: EventContext<ActiveEvent> } | { state: Exclude<JobState, 'active'>; event: EventContext };

/** Callbacks of {@link trackJob}; each gets one context object. */
export interface JobHandlers {
  onState?: (context: JobStateContext) => void;
  onProgress?: (context: ProgressEvent & { event: EventContext }) => void;
  onRetrying?: (context: RetryingEvent & { event: EventContext }) => void;
  /** Called once, with the outcome, however late the subscriber joined. */
  onDone?: (outcome: JobOutcome) => void;
}

/**
 * Follows one job: its state, progress, retries and outcome, including what happened before
 * the call (from the channel snapshot). Resolves once subscribed. `auth` is the token, or
 * `{ token, getToken }` to replace an expired token without reloading the page.
 *
 * @example
 * ```ts
 * await trackJob(jc, jobId, token, {
 *   onProgress: ({ pct, stage }) => bar.update(pct, stage),
 *   onDone: ({ state }) => console.log('finished', state),
 * });
 * ```
 */
export async function trackJob(
  connection: JobcastConnection,
  jobId: string,
  auth: TokenSource | { token?: TokenSource; getToken?: GetToken },
  handlers: JobHandlers,
): Promise<Subscription> {
  const subscription = connection.channel(jobChannel(jobId), typeof auth === 'object' ? auth : { token: auth });
  let done = false;
  const finish = (outcome: JobOutcome) => {
    if (done) return;
    done = true;
    handlers.onState?.({ state: outcome.state, event: outcome.event });
    handlers.onDone?.(outcome);
  };
  // Each event has one name, so one listener per name keeps the order they arrive in.
  subscription.on('queued', (event) => handlers.onState?.({ state: 'queued', event }));
  subscription.on('active', (event) => handlers.onState?.({ state: 'active', event }));
  subscription.on('stalled', (event) => handlers.onState?.({ state: 'stalled', event }));
  subscription.on('progress', (event) => handlers.onProgress?.({ ...event.data, event }));
  subscription.on('retrying', (event) => {
    handlers.onState?.({ state: 'retrying', event });
    handlers.onRetrying?.({ ...event.data, event });
  });
  subscription.on('completed', (event) => finish({ state: 'completed', data: event.data, event }));
  subscription.on('failed', (event) => finish({ state: 'failed', data: event.data, event }));
  subscription.on('cancelled', (event) => finish({ state: 'cancelled', data: event.data, event }));
  return subscription.subscribe();
}
