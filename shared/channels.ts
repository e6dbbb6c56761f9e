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

const JOB_CHANNEL_PREFIX = 'job:';

/** The private channel on which a job's lifecycle events are published. */
export function jobChannel(jobId: string): string {
  return JOB_CHANNEL_PREFIX + jobId;
}

/** The job id of a job channel, or `null` for any other channel. */
export function jobIdOfChannel(channel: string): string | null {
  return channel.startsWith(JOB_CHANNEL_PREFIX) ? channel.slice(JOB_CHANNEL_PREFIX.length) : null;
}
