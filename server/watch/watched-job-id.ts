import { z } from 'zod';

import { InvalidInputError } from '../errors.js';

/**
 * The part of a channel name a watched queue's label or a BullMQ job id may use: the channel
 * alphabet without `:` (the separator) and without braces (Redis Cluster hash tags).
 */
const SAFE = /^[A-Za-z0-9_\-=@,.;]{1,64}$/;

/**
 * A watched BullMQ job's id in jobcast: `<queue label>:<BullMQ job id>`, so jobs of two
 * queues with the same BullMQ id (every queue counts from 1) never share a channel, and
 * the id never collides with jobcast's own ids, which have no `:`. The channel is
 * `job:<queue label>:<BullMQ job id>`, like every job channel.
 */
export const WatchedJobId = z
  .string()
  .max(129)
  .regex(/^[A-Za-z0-9_\-=@,.;]{1,64}:[A-Za-z0-9_\-=@,.;]{1,64}$/, 'watched job ids are <queue>:<job id>');
export type WatchedJobId = z.infer<typeof WatchedJobId>;

/** Whether `jobId` names a job of a watched BullMQ queue (rather than one of jobcast's own). */
export function isWatchedJobId(jobId: string): boolean {
  return jobId.includes(':');
}

/** The jobcast id of BullMQ job `bullId` in the watched queue labelled `label`. */
export function watchedJobId(label: string, bullId: string): string {
  if (!SAFE.test(bullId)) {
    throw new InvalidInputError(
      `BullMQ job id ${JSON.stringify(bullId).slice(0, 80)} cannot be followed: watched job ids use only letters, digits and _-=@,.; (at most 64)`,
      'jobId',
    );
  }
  return `${label}:${bullId}`;
}

/** Whether BullMQ job id `bullId` can be part of a channel name. */
export function followableJobId(bullId: string): boolean {
  return SAFE.test(bullId);
}

/** Splits a watched job id into its queue label and BullMQ job id; `null` if it is not one. */
export function splitWatchedJobId(jobId: string): { label: string; bullId: string } | null {
  const parsed = WatchedJobId.safeParse(jobId);
  if (!parsed.success) return null;
  const at = jobId.indexOf(':');
  return { label: jobId.slice(0, at), bullId: jobId.slice(at + 1) };
}

/**
 * The label of a queue in job ids and channel names: its name, without the braces of a Redis
 * Cluster hash tag (`{emails}` → `emails`); throws when the name has other characters.
 */
export function queueLabel(queueName: string, alias?: string): string {
  const label = alias ?? queueName.replace(/[{}]/g, '');
  if (!SAFE.test(label)) {
    throw new InvalidInputError(
      `queue ${JSON.stringify(queueName).slice(0, 80)}: its name cannot be part of a channel name; pass { alias } with letters, digits and _-=@,.; (at most 64)`,
      'queue',
    );
  }
  return label;
}
