import { OUTCOME_EVENTS, jobChannel, jobStateAfter, type JobState } from '../shared/constants.js';
import type {
  CompletedEvent,
  FailedEvent,
  CancelledEvent,
  ProgressEvent,
  RetryingEvent,
} from '../shared/protocol.js';
import type { JobcastConnection } from './connection.js';
import type { EventContext, GetToken, Subscription, TokenSource } from './subscription.js';

/** How a job ended, as {@link JobHandlers.onDone} receives it. */
export type JobOutcome =
  | { state: 'completed'; data: CompletedEvent; event: EventContext }
  | { state: 'failed'; data: FailedEvent; event: EventContext }
  | { state: 'cancelled'; data: CancelledEvent; event: EventContext };

/** Callbacks of {@link trackJob}; each gets one context object. */
export interface JobHandlers {
  onState?: (context: { state: JobState; event: EventContext }) => void;
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
export async function trackJob(connection: JobcastConnection, jobId: string, auth: TokenSource | { token?: TokenSource; getToken?: GetToken }, handlers: JobHandlers): Promise<Subscription> {
  const subscription = connection.channel(jobChannel(jobId), typeof auth === 'object' ? auth : { token: auth });
  let done = false;
  subscription.on('*', (event) => {
    const state = jobStateAfter(event.event);
    if (state && event.event !== 'progress') handlers.onState?.({ state, event });
    if (event.event === 'progress') handlers.onProgress?.({ ...(event.data as ProgressEvent), event });
    if (event.event === 'retrying') handlers.onRetrying?.({ ...(event.data as RetryingEvent), event });
    if ((OUTCOME_EVENTS as readonly string[]).includes(event.event) && !done) {
      done = true;
      handlers.onDone?.({ state: event.event, data: event.data, event } as JobOutcome);
    }
  });
  return subscription.subscribe();
}
