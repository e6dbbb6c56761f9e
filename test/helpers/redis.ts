import { randomBytes } from 'node:crypto';

import { Redis } from 'ioredis';

import { type EmbeddedRedis, redisAnswers, startEmbeddedRedis } from '../../server/redis/embedded-redis.js';

let shared: Promise<{ url: string; embedded: EmbeddedRedis | null }> | undefined;

/**
 * The Redis tests share: the machine's on 127.0.0.1:6379 when it answers, else one started
 * for this test process (stopped at exit).
 */
export function testRedisUrl(): Promise<string> {
  shared ??= (async () => {
    if (await redisAnswers('127.0.0.1', 6379)) return { url: 'redis://127.0.0.1:6379', embedded: null };
    const embedded = await startEmbeddedRedis();
    process.once('exit', () => void embedded.stop());
    return { url: embedded.url, embedded };
  })();
  return shared.then((s) => s.url);
}

/** Stops a Redis this process started for tests, if any. */
export async function stopTestRedis(): Promise<void> {
  const s = await shared;
  await s?.embedded?.stop();
}

/** A key prefix no other test uses. */
export function uniquePrefix(name = 't'): string {
  return `jct:${name}:${randomBytes(4).toString('hex')}:`;
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
