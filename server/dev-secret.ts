import { randomBytes } from 'node:crypto';

import { sharedKeys } from './channels/keys.js';
import type { RedisClient } from './redis/connect.js';

/**
 * A development token secret shared through Redis, so separate web, gateway and worker
 * processes agree on it with no configuration. Production sets JOBCAST_SECRET.
 */
export async function developmentSecret(redis: RedisClient, keyPrefix: string): Promise<string> {
  const key = sharedKeys(keyPrefix).devSecret;
  await redis.set(key, randomBytes(24).toString('base64url'), 'NX');
  const secret = await redis.get(key);
  if (!secret) throw new Error('could not read the development secret from Redis');
  return secret;
}
