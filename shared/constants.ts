/**
 * Protocol constants and pure helpers with no dependencies, so the browser client can use
 * them without bundling the zod schemas.
 */

/** Bumped on any incompatible change to the wire messages. Sent in the socket handshake. */
export const PROTOCOL_VERSION = 1;

const JOB_CHANNEL_PREFIX = 'job:';

/** Sent instead of an event to the connection a publisher excluded: advance, deliver nothing. */
export const SKIP_EVENT = 'jobcast:skip';

/** Socket.io path the gateway listens on, so it never collides with an app's own socket.io. */
export const DEFAULT_SOCKET_PATH = '/jobcast/socket.io';

/** Names of the events jobcast itself publishes on a job channel. */
export const JOB_EVENT_NAMES = ['queued', 'active', 'progress', 'retrying', 'stalled', 'completed', 'failed', 'cancelled'] as const;
export type JobEventName = (typeof JOB_EVENT_NAMES)[number];

/** Outcome events end a job; each job outcome is published exactly once and never conflated. */
export const OUTCOME_EVENTS = ['completed', 'failed', 'cancelled'] as const;
export type OutcomeEventName = (typeof OUTCOME_EVENTS)[number];

/** Job states as shown in `data-jobcast-state`. */
export const JOB_STATES = ['queued', 'active', 'retrying', 'stalled', 'completed', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/**
 * How the channel state snapshot keeps an event: the newest of each class survives log
 * trimming, so a late subscriber sees the latest progress and the outcome.
 */
export type EventClass = 'lifecycle' | 'progress' | 'outcome' | 'custom';

/**
 * The class of an event. Lifecycle names mean something only on job channels; on any other
 * channel every event is `custom` (an app may well publish its own `completed`).
 */
export function eventClassOf(event: string, channel?: string): EventClass {
  if (channel !== undefined && !isJobChannel(channel)) return 'custom';
  if (event === 'progress') return 'progress';
  if ((OUTCOME_EVENTS as readonly string[]).includes(event)) return 'outcome';
  if ((JOB_EVENT_NAMES as readonly string[]).includes(event)) return 'lifecycle';
  return 'custom';
}

/** The job state an event moves the job into, or `null` for events that do not change it. */
export function jobStateAfter(event: string): JobState | null {
  if (event === 'progress') return 'active';
  return (JOB_STATES as readonly string[]).includes(event) ? (event as JobState) : null;
}

/** The private channel on which a job's lifecycle events are published. */
export function jobChannel(jobId: string): string {
  return JOB_CHANNEL_PREFIX + jobId;
}

/** True for a job's channel (`job:<id>`), where lifecycle event names are jobcast's own. */
export function isJobChannel(channel: string): boolean {
  return channel.startsWith(JOB_CHANNEL_PREFIX);
}

/** The job id of a job channel, or `null` for any other channel. */
export function jobIdOfChannel(channel: string): string | null {
  return isJobChannel(channel) ? channel.slice(JOB_CHANNEL_PREFIX.length) : null;
}
