/**
 * Pusher protocol error codes, as close codes and in `pusher:error` frames. The ranges mean
 * what Pusher clients do next: 4000-4099 do not reconnect, 4100-4199 reconnect after a
 * backoff, 4200-4299 reconnect at once. Codes in 4300-4399 come only in `pusher:error` frames
 * that leave the connection open (the client's message was refused, nothing else changed).
 */
export const PusherCode = {
  /** The app key in the path is not an app of this jobcast. Closes. */
  unknownApp: 4001,
  /** The app is disabled. Closes. */
  appDisabled: 4003,
  /** No app key in the path (`/app/` alone). Closes. */
  pathNotFound: 4005,
  /** The `protocol` query parameter names a version this gateway does not speak. Closes. */
  unsupportedProtocol: 4007,
  /** The `protocol` query parameter is missing. Closes. */
  noProtocol: 4008,
  /** The page's Origin is not allowed. Closes. */
  unauthorized: 4009,
  /** Too many connections from this address; try again later. Closes. */
  overCapacity: 4100,
  /** The gateway is shutting down: reconnect (to another gateway) at once. Closes. */
  reconnect: 4200,
  /** No `pusher:pong` (or any message) came back in time. Closes. */
  pongTimeout: 4201,
  /** The message was not understood (not JSON, unknown event, bad fields, too large). */
  invalidMessage: 4300,
  /** Too many subscribes or client events; slow down. */
  rateLimited: 4301,
  /** Client events are off for this app, or not allowed on this channel. */
  clientEventRefused: 4302,
} as const;

export type PusherCode = (typeof PusherCode)[keyof typeof PusherCode];
