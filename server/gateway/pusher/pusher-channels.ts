import { createHmac, timingSafeEqual } from 'node:crypto';

import { jobChannel, jobIdOfChannel } from '../../../shared/channels.js';
import { PUSHER_JOB_CHANNEL_PREFIX } from '../../../shared/pusher-protocol.js';

/** What a Pusher channel name asks for, by its prefix. */
export type PusherChannelKind = 'public' | 'private' | 'presence' | 'encrypted';

export function kindOf(name: string): PusherChannelKind {
  if (name.startsWith('private-encrypted-')) return 'encrypted';
  if (name.startsWith('private-')) return 'private';
  if (name.startsWith('presence-')) return 'presence';
  return 'public';
}

/** The apps' side of the name mapping (the same one the HTTP API uses). */
export interface ChannelNamespace {
  channelOf(appId: string, name: string): string;
  nameIn(appId: string, channel: string): string | null;
}

/**
 * The internal channel of a Pusher channel name of `appId`: the app's own namespace, except
 * `private-jobcast-job-<id>`, which is jobcast's job channel `job:<id>` (Pusher names cannot
 * hold `:`).
 */
export function internalChannel(apps: ChannelNamespace, appId: string, name: string): string {
  if (name.startsWith(PUSHER_JOB_CHANNEL_PREFIX)) return jobChannel(name.slice(PUSHER_JOB_CHANNEL_PREFIX.length));
  return apps.channelOf(appId, name);
}

/** The Pusher name of an internal channel, for event frames (the inverse of {@link internalChannel}). */
export function pusherName(channel: string): string {
  const jobId = jobIdOfChannel(channel);
  if (jobId !== null) return PUSHER_JOB_CHANNEL_PREFIX + jobId;
  // `app:<id>:<name>`: app ids hold no `:`, so the name is what follows the second one.
  if (channel.startsWith('app:')) return channel.slice(channel.indexOf(':', 4) + 1);
  return channel;
}

/**
 * Pusher's channel authorisation: `<key>:<hex HMAC-SHA256 of "socket_id:channel" with the
 * secret>` (presence channels add `:channel_data`). What every Pusher server SDK's
 * `authorizeChannel` returns as `auth`.
 */
export function channelSignature(app: { key: string; secret: string }, socketId: string, channel: string, channelData?: string): string {
  const subject = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  return `${app.key}:${createHmac('sha256', app.secret).update(subject).digest('hex')}`;
}

/** True when `auth` is the app's signature for this connection and channel (constant time). */
export function signatureValid(
  app: { key: string; secret: string },
  socketId: string,
  channel: string,
  auth: string | undefined,
  channelData?: string,
): boolean {
  if (auth === undefined) return false;
  const expected = Buffer.from(channelSignature(app, socketId, channel, channelData));
  const given = Buffer.from(auth);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
