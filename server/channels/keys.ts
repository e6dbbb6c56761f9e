/**
 * The catalogue of every Redis key and pub/sub channel jobcast uses (BullMQ's `QueueKeys` is the
 * model): modules and adapters ask here instead of writing key shapes of their own, so a key's
 * hash slot, prefix and lifetime are decided in one place.
 *
 * Three families: per channel (hash tag `{<channel>}`: one Lua script may touch them all on a
 * Redis Cluster, and they expire together), per job type's BullMQ queue (hash tag
 * `{q:<name>}`), and a few shared by every process.
 */
import { jobChannel } from '../../shared/constants.js';

/** Redis key names of one channel, all in the channel's hash slot. */
export interface ChannelKeys {
  /** Hash: epoch, newest offset, snapshot per event class. */
  meta: string;
  /** Stream: the newest events, entry id `<offset>-0`. */
  log: string;
  /** Pub/sub channel of live events. */
  live: string;
  /** String: a job's rendered result. */
  partial: string;
  /** String: the app (HTTP API) that started the channel's job. */
  app: string;
  /** Stream: the job's timeline, for operators. */
  timeline: string;
  /** String: set when the job was cancelled, with the reason. */
  cancel: string;
  /** Hash: the record of a job run inline. */
  inline: string;
}

export function channelKeys(prefix: string, channel: string): ChannelKeys {
  const key = (name: Exclude<keyof ChannelKeys, 'live'>) => channelKey(prefix, channel, name);
  return {
    meta: key('meta'),
    log: key('log'),
    live: `${prefix}{${channel}}`,
    partial: key('partial'),
    app: key('app'),
    timeline: key('timeline'),
    cancel: key('cancel'),
    inline: key('inline'),
  };
}

/**
 * One key of a channel, the same name {@link channelKeys} gives it, without building the others:
 * for the paths that run per event (an append needs two of the eight).
 */
export function channelKey(prefix: string, channel: string, name: Exclude<keyof ChannelKeys, 'live'>): string {
  return `${prefix}{${channel}}:${name}`;
}

/** The keys of the channel of job `jobId`. */
export function jobKeys(prefix: string, jobId: string): ChannelKeys {
  return channelKeys(prefix, jobChannel(jobId));
}

/** Redis keys of one job type's BullMQ queue, all in the queue's hash slot `{q:<name>}`. */
export interface QueueKeys {
  /** BullMQ's `prefix` option for the queue. */
  prefix: string;
  /** BullMQ's event stream of the queue (`<prefix>:<name>:events`). */
  events: string;
  /** BullMQ's hash of one job. */
  job(jobId: string): string;
  /** String: the job id holding a uniqueness key (`hashedKey`: a digest of the user's key). */
  unique(hashedKey: string): string;
}

export function queueKeys(prefix: string, jobName: string): QueueKeys {
  const base = `${prefix}{q:${jobName}}`;
  return { prefix: base, events: `${base}:${jobName}:events`, job: (id) => `${base}:${jobName}:${id}`, unique: (hashed) => `${base}:unique:${hashed}` };
}

/** Keys and pub/sub channels shared by every process of one deployment (one prefix). */
export interface SharedKeys {
  /** Pub/sub channel of cancel requests to the workers. */
  cancelBus: string;
  /** Sorted set of live gateways (presence, channel counts across gateways). */
  gateways: string;
  /** Hash of one gateway's subscription counts. */
  gateway(id: string): string;
  /** Stream of recent events of every channel, for the admin console. */
  firehose: string;
  /** String: the development secret shared by processes without JOBCAST_SECRET. */
  devSecret: string;
  /** String per signed write seen, so a replay is refused. */
  signature(signature: string): string;
  /** Key prefix of a rate limiter shared by every process (`what`: `starts`, `apps`, …). */
  rateLimit(what: string): string;
  /** Sorted set of external job ids by the time their deadline is next checked. */
  externalDeadlines: string;
}

export function sharedKeys(prefix: string): SharedKeys {
  return {
    cancelBus: `${prefix}cancel`,
    gateways: `${prefix}{presence}:gateways`,
    gateway: (id) => `${prefix}{presence}:gw:${id}`,
    firehose: `${prefix}{admin}:events`,
    devSecret: `${prefix}dev-secret`,
    signature: (signature) => `${prefix}{sig}:${signature}`,
    rateLimit: (what) => `${prefix}{rate}:${what}`,
    externalDeadlines: `${prefix}{external-deadlines}`,
  };
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

/**
 * The lease naming which jobcast process publishes a watched BullMQ queue's events (one at a
 * time, so a job's events are published in order). Hash-tagged by the queue.
 */
export function watchLeaseKey(prefix: string, queuePrefix: string, queueName: string): string {
  return `${prefix}{watch:${queuePrefix}:${queueName}}:lease`;
}

/** The id of the newest entry of a watched queue's event stream that was published (beside its lease). */
export function watchPositionKey(prefix: string, queuePrefix: string, queueName: string): string {
  return `${prefix}{watch:${queuePrefix}:${queueName}}:position`;
}
