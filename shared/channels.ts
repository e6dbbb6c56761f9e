import { z } from 'zod';

/**
 * Channel names use Pusher's alphabet so Pusher SDKs can publish to them, and never contain
 * `{` or `}`: the name becomes a Redis Cluster hash tag.
 */
export const ChannelName = z
  .string()
  .min(1)
  .max(164)
  .regex(/^[A-Za-z0-9_\-=@,.;:]+$/, 'channel names use only letters, digits and _-=@,.;:');
export type ChannelName = z.infer<typeof ChannelName>;

/** Job ids are URL- and channel-safe. */
export const JobId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'job ids use only letters, digits, _ and -');
export type JobId = z.infer<typeof JobId>;

export { isJobChannel, jobChannel, jobIdOfChannel } from './constants.js';
