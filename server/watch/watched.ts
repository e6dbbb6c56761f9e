import type { Job } from 'bullmq';

import type { ChannelStore } from '../channels/channel-store.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';

/** What a watched queue is given by jobcast. */
export interface WatchedQueueDeps {
  store: ChannelStore;
  /** jobcast's command connection: cancel flags and the publishing lease live there. */
  redis: RedisClient;
  keyPrefix: string;
  basePath: string;
  retentionSeconds: number;
  maxPartialBytes: number;
  logger: Logger;
  /** Opens a connection to jobcast's own Redis (the default home of the queue). */
  connect(): RedisClient;
}

/**
 * What the watcher's read loop, the event mapper and the outcome sweep use of a watched queue
 * (`WatchedQueue` is one): a seam of its own, so those parts do not import the class that
 * starts them.
 */
export interface Watched {
  readonly name: string;
  readonly prefix: string;
  readonly label: string;
  readonly renders: boolean;
  readonly deps: WatchedQueueDeps;
  key(type: string): string;
  exists(): Promise<boolean>;
  findJob(bullId: string): Promise<Job | undefined>;
  publishCompleted(jobId: string, returnvalue: unknown, job: Job | undefined): Promise<void>;
  publishProgress(jobId: string, raw: string | undefined): Promise<void>;
  cancelReason(jobId: string): Promise<string | null>;
  followable(bullId: string): boolean;
  removeJob(bullId: string): Promise<boolean>;
}
