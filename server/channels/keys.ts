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

/** Key prefix of a rate limiter shared by every process (`what`: `starts`, `apps`, …). */
export function rateLimitPrefix(prefix: string, what: string): string {
  return `${prefix}{rate}:${what}`;
}
