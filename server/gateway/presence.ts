import { randomBytes } from 'node:crypto';

import { sharedKeys } from '../channels/keys.js';
import type { RedisClient } from '../redis/connect.js';

const LIVE_MS = 10_000;
const keys = (prefix: string) => {
  const shared = sharedKeys(prefix);
  return { gateways: shared.gateways, of: shared.gateway };
};

/**
 * Publishes how many subscriptions this gateway holds per channel, so any process can answer
 * "how many are watching this channel" across every gateway (Pusher's channel info). Written
 * when it changed, at most once a second; a gateway that stops writing drops out after 10 s.
 */
export class PresenceWriter {
  readonly id = randomBytes(6).toString('hex');
  readonly #redis: RedisClient;
  readonly #keys: ReturnType<typeof keys>;
  readonly #counts: () => Map<string, number>;
  readonly #timer: ReturnType<typeof setInterval>;
  #last = '';

  constructor(redis: RedisClient, prefix: string, counts: () => Map<string, number>, intervalMs = 1000) {
    this.#redis = redis;
    this.#keys = keys(prefix);
    this.#counts = counts;
    this.#timer = setInterval(() => void this.write().catch(() => {}), intervalMs);
    this.#timer.unref();
    // At once too, so a gateway is counted from its first second.
    void this.write().catch(() => {});
  }

  async write(): Promise<void> {
    const counts = [...this.#counts()].filter(([, n]) => n > 0);
    const snapshot = JSON.stringify(counts);
    const key = this.#keys.of(this.id);
    const multi = this.#redis.multi();
    if (snapshot !== this.#last) {
      multi.del(key);
      if (counts.length) multi.hset(key, Object.fromEntries(counts.map(([c, n]) => [c, String(n)])));
    }
    multi.pexpire(key, LIVE_MS).zadd(this.#keys.gateways, Date.now(), this.id);
    await multi.exec();
    this.#last = snapshot;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#redis
      .multi()
      .del(this.#keys.of(this.id))
      .zrem(this.#keys.gateways, this.id)
      .exec()
      .catch(() => {});
  }
}

/** Subscriptions per channel summed over every live gateway. */
export async function readPresence(redis: RedisClient, prefix: string): Promise<Map<string, number>> {
  const k = keys(prefix);
  await redis.zremrangebyscore(k.gateways, '-inf', String(Date.now() - LIVE_MS));
  const ids = await redis.zrange(k.gateways, '0', '-1');
  const totals = new Map<string, number>();
  for (const id of ids) {
    const counts = await redis.hgetall(k.of(id));
    for (const [channel, n] of Object.entries(counts)) totals.set(channel, (totals.get(channel) ?? 0) + Number(n));
  }
  return totals;
}
