import { Cluster, Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/** A single Redis or a Redis Cluster; jobcast uses both through the same commands. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: one URL, or the seed nodes of a cluster. */
export interface RedisTarget {
  url?: string;
  /** Seed nodes (`host:port`) of a Redis Cluster; keys and pub/sub then go by hash slot. */
  clusterNodes?: string[];
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
 * Opens a connection. `maxRetriesPerRequest: null` waits out outages (workers, subscribers);
 * a number fails fast (web requests answer 503). On a cluster, `sharded` gives the client a
 * subscriber per shard for SSUBSCRIBE.
 */
export function connectRedis(target: RedisTarget, options: { maxRetriesPerRequest: number | null; sharded?: boolean; logger?: Logger; onReconnect?: () => void }): RedisClient {
  const retryStrategy = (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000);
  const client: RedisClient = target.clusterNodes?.length
    ? new Cluster(parseClusterNodes(target.clusterNodes.join(',')), {
        redisOptions: { maxRetriesPerRequest: options.maxRetriesPerRequest },
        clusterRetryStrategy: retryStrategy,
        shardedSubscribers: options.sharded ?? false,
      })
    : new Redis(target.url ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: options.maxRetriesPerRequest, retryStrategy });
  client.on('error', (error) => options.logger?.debug({ err: error }, 'redis connection error'));
  if (options.onReconnect) client.on('reconnecting', options.onReconnect);
  return client;
}
