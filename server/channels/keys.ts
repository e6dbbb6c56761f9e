/**
 * Redis key names of one channel. Every key and the pub/sub channel share the hash tag
 * `{<channel>}`, so one Lua script may touch them all on a Redis Cluster.
 */
export interface ChannelKeys {
  meta: string;
  log: string;
  live: string;
  partial: string;
}

export function channelKeys(prefix: string, channel: string): ChannelKeys {
  const base = `${prefix}{${channel}}`;
  return { meta: `${base}:meta`, log: `${base}:log`, live: base, partial: `${base}:partial` };
}

/** The jobcast channel name a pub/sub channel carries, or `null` if it is not one of ours. */
export function channelOfLive(prefix: string, live: string): string | null {
  if (!live.startsWith(prefix + '{') || !live.endsWith('}')) return null;
  return live.slice(prefix.length + 1, -1);
}

/**
 * The lease naming which jobcast process publishes a watched BullMQ queue's events (one at a
 * time, so a job's events are published in order). Hash-tagged by the queue.
 */
export function watchLeaseKey(prefix: string, queuePrefix: string, queueName: string): string {
  return `${prefix}{watch:${queuePrefix}:${queueName}}:lease`;
}
