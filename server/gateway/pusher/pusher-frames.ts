import type { ChannelEvent } from '../../../shared/protocol.js';
import type {
  PusherConnectionEstablished,
  PusherError,
  PusherEventFrame,
  PusherSubscriptionError,
  PusherSubscriptionSucceeded,
} from '../../../shared/pusher-protocol.js';
import { textFrame } from '../event-frames.js';
import { pusherName } from './pusher-channels.js';

/** The frames the gateway sends on the Pusher path, as JSON text ready for `ws.send`. */

export function connectionEstablished(socketId: string, activityTimeoutSeconds: number): string {
  const frame: PusherConnectionEstablished = {
    event: 'pusher:connection_established',
    data: JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeoutSeconds }),
  };
  return JSON.stringify(frame);
}

export function errorFrame(code: number | null, message: string): string {
  const frame: PusherError = { event: 'pusher:error', data: { code, message } };
  return JSON.stringify(frame);
}

export function subscriptionSucceeded(channel: string, position: { epoch: string; offset: number; recovered: boolean }): string {
  const frame: PusherSubscriptionSucceeded = { event: 'pusher_internal:subscription_succeeded', channel, data: '{}', jobcast: position };
  return JSON.stringify(frame);
}

export function subscriptionError(channel: string, status: number, error: string): string {
  const frame: PusherSubscriptionError = { event: 'pusher:subscription_error', channel, data: { type: 'AuthError', error, status } };
  return JSON.stringify(frame);
}

/** A close reason WebSocket allows: at most 123 bytes of UTF-8 (ws throws past that). */
export function closeReason(message: string): string {
  let reason = message.slice(0, 123);
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

export const PONG = JSON.stringify({ event: 'pusher:pong', data: '{}' });
export const PING = JSON.stringify({ event: 'pusher:ping', data: '{}' });

/**
 * Event data as Pusher sends it: a string. The HTTP API stores JSON text as its value, so it
 * goes out as JSON text again; text that was not JSON goes out as it came. A string that would
 * read as JSON (`"42"`) is JSON-encoded, so clients decode it back to the same string.
 */
export function dataText(data: unknown): string {
  if (typeof data !== 'string') return JSON.stringify(data ?? null);
  try {
    JSON.parse(data);
  } catch {
    return data;
  }
  return JSON.stringify(data);
}

/** An event frame: the JSON text, and the whole WebSocket frame around it. */
export interface EventFrame {
  payload: Buffer;
  wire: Buffer;
}

// One live event reaches every Pusher subscriber of its channel as the same object: its frame
// is built once and shared, and dropped with the event.
const frames = new WeakMap<ChannelEvent, EventFrame>();

/** The event frame of a channel event (with its position in the `jobcast` field), built once. */
export function eventFrame(event: ChannelEvent): EventFrame {
  let frame = frames.get(event);
  if (!frame) {
    const body: PusherEventFrame = {
      event: event.event,
      channel: pusherName(event.channel),
      data: dataText(event.data),
      jobcast: { epoch: event.epoch, offset: event.offset },
    };
    const payload = Buffer.from(JSON.stringify(body));
    frame = { payload, wire: textFrame(payload) };
    frames.set(event, frame);
  }
  return frame;
}
