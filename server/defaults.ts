/**
 * Every default of the library, resolved in one place: the `Jobcast` options, the channel store
 * and the CLI's configuration all read them from here, so a default changes in one line.
 */
export const DEFAULTS = {
  /** Prefix of every Redis key. */
  keyPrefix: 'jobcast:',
  /** Where the router is mounted. */
  basePath: '/jobcast',
  /** The Redis when none is given. */
  redisUrl: 'redis://127.0.0.1:6379',
  /** Events kept per channel for recovery. */
  historySize: 100,
  /** Seconds a channel's state and log outlive its last event; finished jobs too. */
  retentionSeconds: 86_400,
  /** Finished jobs BullMQ keeps per job type. */
  retentionCount: 1000,
  /** Lifetime of minted channel tokens, in seconds. */
  tokenTtlSeconds: 3_600,
  /** Largest job input, in bytes of JSON. */
  maxInputBytes: 65_536,
  /** Largest event payload, in bytes of JSON. */
  maxEventBytes: 10_240,
  /** Largest rendered partial, in bytes. */
  maxPartialBytes: 1024 * 1024,
  /** Signed API writes one app key may make per second. */
  triggersPerSecond: 200,
  /** Jobs of each type one worker process runs at once. */
  concurrency: 4,
} as const;
