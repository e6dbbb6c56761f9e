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
 * Redis keys of a job reported from another job system (`server/external-jobs`), in the job
 * channel's hash slot so they live and expire beside its log.
 */
export interface ExternalJobKeys {
  /** Hash: app, id, name, attempts, times, deadlines. */
  record: string;
  /** String: the request id that claimed the job's one outcome. */
  outcome: string;
  /** String per request id: `pending`, then the JSON answer (a retried report gets it again). */
  request(requestId: string): string;
}

export function externalJobKeys(prefix: string, channel: string): ExternalJobKeys {
  const base = `${prefix}{${channel}}`;
  return { record: `${base}:external`, outcome: `${base}:external-outcome`, request: (id) => `${base}:external-request:${id}` };
}

/** Sorted set of external job ids by the time their deadline is next checked (one per prefix). */
export function externalDeadlinesKey(prefix: string): string {
  return `${prefix}{external-deadlines}`;
}

/** Key prefix of a rate limiter shared by every process (`what`: `starts`, `apps`, …). */
export function rateLimitPrefix(prefix: string, what: string): string {
  return `${prefix}{rate}:${what}`;
}
