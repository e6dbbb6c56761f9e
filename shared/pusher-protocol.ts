import { z } from 'zod';

import { StreamPosition } from './protocol.js';

/**
 * The Pusher Channels WebSocket protocol (version 7) as jobcast's gateway speaks it at
 * `/app/<key>`, with jobcast's extension: an extra `jobcast` field that stock clients ignore.
 * See shared/PROTOCOL.md, "Pusher protocol".
 */

/** The protocol versions accepted in the `protocol` query parameter. */
export const PUSHER_PROTOCOL_VERSIONS = [5, 6, 7] as const;

/** Path prefix of Pusher connections: `/app/<app key>`. */
export const PUSHER_PATH_PREFIX = '/app/';

/** Pusher's channel-name alphabet (no `:`), at most 164 characters like jobcast's own names. */
export const PusherChannelName = z
  .string()
  .min(1)
  .max(164)
  .regex(/^[A-Za-z0-9_\-=@,.;]+$/, 'Pusher channel names use only letters, digits and _-=@,.;');
export type PusherChannelName = z.infer<typeof PusherChannelName>;

/** The jobcast channel of a job as Pusher clients name it: `private-jobcast-job-<jobId>`. */
export const PUSHER_JOB_CHANNEL_PREFIX = 'private-jobcast-job-';

/** Every frame a client sends: an event name, maybe a channel, maybe data. */
export const PusherClientFrame = z.object({
  event: z.string().min(1).max(200),
  channel: z.string().max(200).optional(),
  data: z.unknown().optional(),
});
export type PusherClientFrame = z.infer<typeof PusherClientFrame>;

/**
 * `pusher:subscribe` data. `jobcast` is the extension: the position of the last event the
 * client received on this channel (from that event's `jobcast` field); the gateway then sends
 * what was missed instead of the snapshot.
 */
export const PusherSubscribeData = z.object({
  channel: PusherChannelName,
  auth: z.string().max(1000).optional(),
  channel_data: z.string().max(10_240).optional(),
  jobcast: StreamPosition.optional(),
});
export type PusherSubscribeData = z.infer<typeof PusherSubscribeData>;

export const PusherUnsubscribeData = z.object({ channel: PusherChannelName });
export type PusherUnsubscribeData = z.infer<typeof PusherUnsubscribeData>;

/** The extension field of an event frame: where the event sits in the channel's log. */
export const PusherPosition = StreamPosition;
export type PusherPosition = z.infer<typeof PusherPosition>;

// ---- server → client ----

/** `data` of `pusher:connection_established`, sent JSON-encoded as a string. */
export const PusherConnectionData = z.object({ socket_id: z.string().regex(/^\d+\.\d+$/), activity_timeout: z.number().int().positive() });
export type PusherConnectionData = z.infer<typeof PusherConnectionData>;

export const PusherConnectionEstablished = z.object({ event: z.literal('pusher:connection_established'), data: z.string() });
export type PusherConnectionEstablished = z.infer<typeof PusherConnectionEstablished>;

/** `pusher:error`: `data` is an object here (not a string), as Pusher sends it. */
export const PusherError = z.object({
  event: z.literal('pusher:error'),
  data: z.object({ code: z.number().int().nullable(), message: z.string() }),
});
export type PusherError = z.infer<typeof PusherError>;

/**
 * `pusher_internal:subscription_succeeded`. `jobcast` (extension): the channel's epoch and
 * newest offset, and whether the events that follow are everything after the client's position.
 */
export const PusherSubscriptionSucceeded = z.object({
  event: z.literal('pusher_internal:subscription_succeeded'),
  channel: z.string(),
  data: z.string(),
  jobcast: z.object({ epoch: z.string(), offset: z.number().int().nonnegative(), recovered: z.boolean() }).optional(),
});
export type PusherSubscriptionSucceeded = z.infer<typeof PusherSubscriptionSucceeded>;

/** `pusher:subscription_error`, shaped like the one pusher-js raises for a failed authorisation. */
export const PusherSubscriptionError = z.object({
  event: z.literal('pusher:subscription_error'),
  channel: z.string(),
  data: z.object({ type: z.string(), error: z.string(), status: z.number().int() }),
});
export type PusherSubscriptionError = z.infer<typeof PusherSubscriptionError>;

/** One channel event: `data` is a string (JSON text for JSON payloads), `jobcast` the extension. */
export const PusherEventFrame = z.object({
  event: z.string(),
  channel: z.string(),
  data: z.string(),
  jobcast: PusherPosition.optional(),
});
export type PusherEventFrame = z.infer<typeof PusherEventFrame>;
