import { Cluster, Redis } from 'ioredis';

import type { Logger } from '../logger.js';

/** A single Redis or a Redis Cluster; jobcast uses both through the same commands. */
export type RedisClient = Redis | Cluster;

/** A primary watched by Redis Sentinel. */
export interface SentinelTarget {
  /** The sentinels, `host:port` each; any of them answers where the primary is. */
  sentinels: string[];
  /** The name the sentinels monitor the primary under (`sentinel monitor <name> …`). */
  name: string;
  /** Password of the primary and replicas (`requirepass`). */
  password?: string | undefined;
  /** Password of the sentinels themselves, when they have one. */
  sentinelPassword?: string | undefined;
}

/** Where Redis is: one URL, the seed nodes of a cluster, or the sentinels of a primary. */
export interface RedisTarget {
  url?: string;
  /** Seed nodes (`host:port`) of a Redis Cluster; keys and pub/sub then go by hash slot. */
  clusterNodes?: string[];
  /** Redis Sentinel: connections ask the sentinels for the primary, again after every drop. */
  sentinel?: SentinelTarget;
}

/** Parses `REDIS_CLUSTER_NODES`-style `host:port,host:port` into seed nodes. */
export function parseClusterNodes(list: string): { host: string; port: number }[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((node) => {
      const match = /^(.+):(\d+)$/.exec(node);
      if (!match) throw new Error(`cluster node ${JSON.stringify(node)} is not host:port`);
      return { host: match[1]!, port: Number(match[2]) };
    });
}

/**
 * ioredis options of a Sentinel target. After a drop the client asks the sentinels again, so a
 * failover is followed by reconnecting. A connection still open to a primary that was demoted
 * meets READONLY on its next write and reconnects to the new one (pub/sub keeps working there:
 * a replica receives every PUBLISH). ioredis's `failoverDetector` is left off: its sentinel
 * connections outlive `quit()` and keep a closed process from exiting.
 */
function sentinelOptions(target: SentinelTarget, retryStrategy: (times: number) => number) {
  return {
    sentinels: parseClusterNodes(target.sentinels.join(',')),
    name: target.name,
    ...(target.password ? { password: target.password } : {}),
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
    role: 'master' as const,
    sentinelRetryStrategy: retryStrategy,
    reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 2 : false),
  };
}

/**
 * Opens a connection. `maxRetriesPerRequest: null` waits out outages (workers, subscribers);
 * a number fails fast (web requests answer 503). On a cluster, `sharded` gives the client a
 * subscriber per shard for SSUBSCRIBE.
 */
export function connectRedis(
  target: RedisTarget,
  options: { maxRetriesPerRequest: number | null; sharded?: boolean; logger?: Logger; onReconnect?: () => void },
): RedisClient {
  const retryStrategy = (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000);
  const client: RedisClient = target.clusterNodes?.length
    ? new Cluster(parseClusterNodes(target.clusterNodes.join(',')), {
        redisOptions: { maxRetriesPerRequest: options.maxRetriesPerRequest },
        clusterRetryStrategy: retryStrategy,
        shardedSubscribers: options.sharded ?? false,
      })
    : target.sentinel
      ? new Redis({ ...sentinelOptions(target.sentinel, retryStrategy), maxRetriesPerRequest: options.maxRetriesPerRequest, retryStrategy })
      : new Redis(target.url ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: options.maxRetriesPerRequest, retryStrategy });
  client.on('error', (error) => options.logger?.debug({ err: error }, 'redis connection error'));
  if (options.onReconnect) client.on('reconnecting', options.onReconnect);
  return client;
}
