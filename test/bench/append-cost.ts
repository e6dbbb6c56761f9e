/**
 * `tsx test/bench/append-cost.ts [appends]`: what one channel append costs Redis, on a
 * redis-server of its own: `INFO commandstats` usec per call of the append script and of the
 * commands inside it, after `appends` appends (default 20,000) over 100 channels, 50 in flight.
 */
import { Redis } from 'ioredis';

import { RedisChannelStore } from '../../server/channels/redis-channel-store.js';
import { benchRedis } from './own-redis.js';

const appends = Number(process.argv[2] ?? 20_000);
const server = await benchRedis();
const redis = new Redis(server.url);
const store = new RedisChannelStore(redis, { prefix: 'cost:' });
// Warm up (script load, stream creation), then count only what follows.
for (let c = 0; c < 100; c++) await store.append(`job:cost-${c}`, 'progress', { pct: 0 });
await redis.config('RESETSTAT');
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: 50 }, async () => {
    while (next < appends) {
      const i = next++;
      await store.append(`job:cost-${i % 100}`, 'progress', { pct: i % 100, seq: i });
    }
  }),
);
const elapsed = performance.now() - started;
const stats = await redis.info('commandstats');
const rows = [...stats.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/g)].map(([, name, calls, usec, per]) => ({
  name,
  calls: Number(calls),
  usec: Number(usec),
  per: Number(per),
}));
const total = rows.reduce((a, r) => a + r.usec, 0);
console.log(`${appends} appends in ${Math.round(elapsed)} ms; Redis command time ${(total / appends).toFixed(2)} µs per append`);
for (const r of rows.sort((a, b) => b.usec - a.usec)) console.log(`  ${(r.name ?? '').padEnd(10)} calls=${r.calls} usec_per_call=${r.per}`);
redis.disconnect();
await server.close();
