import { z } from 'zod';

import { ChannelName } from './channels.js';
import { JOB_STATES } from './constants.js';

export type { EventClass, JobEventName, OutcomeEventName } from './constants.js';
export { DEFAULT_SOCKET_PATH, eventClassOf, JOB_EVENT_NAMES, JOB_STATES, jobStateAfter, OUTCOME_EVENTS, PROTOCOL_VERSION } from './constants.js';

/**
 * A position in a channel's history. The epoch changes when the channel's log was lost
 * (for example Redis restarted without persistence); offsets only compare within one epoch.
 */
export const StreamPosition = z.object({
  epoch: z.string().min(1).max(64),
  offset: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});
export type StreamPosition = z.infer<typeof StreamPosition>;

// ---- job event payloads: one catalogue, event name → payload ----

export const QueuedEvent = z.object({ job: z.string(), attempts: z.number().int().positive() });
export type QueuedEvent = z.infer<typeof QueuedEvent>;

export const ActiveEvent = z.object({
  attempt: z.number().int().positive(),
  attempts: z.number().int().positive(),
});
export type ActiveEvent = z.infer<typeof ActiveEvent>;

/** `pct` is `null` when the job cannot tell how far it is (the UI shows an indeterminate bar). */
export const ProgressEvent = z.object({
  pct: z.number().min(0).max(100).nullable(),
  stage: z.string().max(200).optional(),
  message: z.string().max(1000).optional(),
  /** Anything else the job reported with its progress (watched BullMQ queues pass it through). */
  data: z.unknown().optional(),
});
export type ProgressEvent = z.infer<typeof ProgressEvent>;

export const RetryingEvent = z.object({
  attempt: z.number().int().positive(),
  attempts: z.number().int().positive(),
  error: z.string(),
  retryAt: z.number().int().nullable(),
});
export type RetryingEvent = z.infer<typeof RetryingEvent>;

export const StalledEvent = z.object({ message: z.string() });
export type StalledEvent = z.infer<typeof StalledEvent>;

export const CompletedEvent = z.object({
  partialUrl: z.string().nullable(),
  durationMs: z.number().nonnegative(),
});
export type CompletedEvent = z.infer<typeof CompletedEvent>;

export const FailedEvent = z.object({
  error: z.string(),
  attempts: z.number().int().nonnegative(),
  retryable: z.boolean(),
});
export type FailedEvent = z.infer<typeof FailedEvent>;

export const CancelledEvent = z.object({ reason: z.string() });
export type CancelledEvent = z.infer<typeof CancelledEvent>;

/** Payload schema of every event jobcast itself publishes on a job channel. */
export const JobEvents = {
  queued: QueuedEvent,
  active: ActiveEvent,
  progress: ProgressEvent,
  retrying: RetryingEvent,
  stalled: StalledEvent,
  completed: CompletedEvent,
  failed: FailedEvent,
  cancelled: CancelledEvent,
} as const;
export type JobEventPayload<E extends keyof typeof JobEvents> = z.infer<(typeof JobEvents)[E]>;

export const JobState = z.enum(JOB_STATES);
export type JobState = z.infer<typeof JobState>;

// ---- wire messages ----

/** One published event as it travels from Redis through the gateway to the client. */
export const ChannelEvent = z.object({
  channel: ChannelName,
  epoch: z.string(),
  offset: z.number().int().positive(),
  event: z.string().min(1).max(100),
  data: z.unknown(),
  /** Milliseconds since the epoch at the publish call, for end-to-end latency. */
  ts: z.number(),
  /**
   * Set on progress sent to a client that could not keep up: older progress of this channel
   * was skipped on purpose (never an outcome or custom event), so the gap is not a loss.
   */
  conflated: z.literal(true).optional(),
});
export type ChannelEvent = z.infer<typeof ChannelEvent>;

/**
 * A live message as the append script publishes it on Redis pub/sub: the event, plus the id of
 * a connection its publisher asked to leave out (Pusher's `socket_id`). Internal to the server:
 * the gateway takes `exclude` off before anything reaches a client.
 */
export type LiveMessage = ChannelEvent & { exclude?: string };

/** Client → gateway: start receiving a channel, optionally from a known position. */
export const SubscribeRequest = z.object({
  channel: ChannelName,
  token: z.string().min(1).max(4096),
  since: StreamPosition.optional(),
});
export type SubscribeRequest = z.infer<typeof SubscribeRequest>;

export const UnsubscribeRequest = z.object({ channel: ChannelName });

/** Client → gateway: an outcome event reached the application. */
export const OutcomeAck = z.object({ channel: ChannelName, offset: z.number().int().positive() });
export type OutcomeAck = z.infer<typeof OutcomeAck>;
export type UnsubscribeRequest = z.infer<typeof UnsubscribeRequest>;

export const WireError = z.object({
  code: z.string(),
  message: z.string(),
  /** With `jobcast:rate-limited`: when trying again makes sense. */
  retryAfterMs: z.number().optional(),
});
export type WireError = z.infer<typeof WireError>;

/**
 * Gateway → client acknowledgement of a subscribe. `recovered` is true when `events` holds
 * every event after the requested position; otherwise `events` is the channel's state
 * snapshot (the newest lifecycle, progress, outcome and custom event, in offset order).
 * Live events follow with offsets above `offset`.
 */
export const SubscribeOk = z.object({
  ok: z.literal(true),
  channel: ChannelName,
  epoch: z.string(),
  offset: z.number().int().nonnegative(),
  recovered: z.boolean(),
  events: z.array(ChannelEvent),
});
export type SubscribeOk = z.infer<typeof SubscribeOk>;

export const Failure = z.object({ ok: z.literal(false), error: WireError });
export type Failure = z.infer<typeof Failure>;

export const SubscribeAck = z.discriminatedUnion('ok', [SubscribeOk, Failure]);
export type SubscribeAck = z.infer<typeof SubscribeAck>;

export const UnsubscribeAck = z.discriminatedUnion('ok', [z.object({ ok: z.literal(true) }), Failure]);
export type UnsubscribeAck = z.infer<typeof UnsubscribeAck>;

/** Gateway → client notice, for problems that have no acknowledgement to travel in. */
export const Notice = z.object({ code: z.string(), message: z.string() });
export type Notice = z.infer<typeof Notice>;

/** What the gateway sends to a client (socket.io typed events). */
export interface ServerToClientEvents {
  event: (event: ChannelEvent) => void;
  notice: (notice: Notice) => void;
  /** Sent once per connection: the id a publisher passes as `socket_id` to leave it out. */
  hello: (hello: { socketId: string }) => void;
}

/** What a client sends to the gateway (socket.io typed events). */
export interface ClientToServerEvents {
  subscribe: (request: SubscribeRequest, ack: (response: SubscribeAck) => void) => void;
  unsubscribe: (request: UnsubscribeRequest, ack: (response: UnsubscribeAck) => void) => void;
  /** The application received this outcome event (for "did the user see it" metrics). */
  ack: (ack: OutcomeAck) => void;
}

/** Gateways talk to each other through Redis only. */
export type InterServerEvents = Record<string, never>;

/** Per-connection state the gateway keeps on each socket. */
export interface SocketData {
  /** Channels the socket has joined. */
  channels: Set<string>;
  /** Channels whose subscribe is still being answered; absent when there are none. */
  pending?: Set<string>;
  /** Pusher-style connection id (`<gateway>.<n>`), for socket_id exclusion. */
  socketId: string;
  /** The client IP the connection is counted under (per-IP limit). */
  ip: string;
}

// ---- HTTP ----

/** Answer of starting a job over HTTP and from the SDK. */
export const StartedJob = z.object({ jobId: z.string(), channel: z.string(), token: z.string() });
export type StartedJob = z.infer<typeof StartedJob>;

/** `GET /jobcast/jobs/:id`. */
export const JobStatus = z.object({
  jobId: z.string(),
  name: z.string(),
  state: z.union([JobState, z.literal('unknown')]),
  progress: ProgressEvent.nullable(),
  attemptsMade: z.number().int(),
  attempts: z.number().int(),
  result: z.unknown().optional(),
  error: z.string().optional(),
  createdAt: z.number().nullable(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  partialUrl: z.string().nullable(),
});
export type JobStatus = z.infer<typeof JobStatus>;

/** The JSON body of every HTTP error. */
export const HttpErrorBody = z.object({
  error: WireError.extend({ field: z.string().optional() }),
});
export type HttpErrorBody = z.infer<typeof HttpErrorBody>;
