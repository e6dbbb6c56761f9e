/**
 * What faster crash detection costs Redis: commands per second that idle worker processes
 * send (INFO commandstats of a private redis-server), with BullMQ's stall check every 30 s
 * (the old default) and every 4 s with an 8 s lock (jobcast's default now).
 *
 *   npx tsx test/bench/stalled-load.ts [workers] [windowMs]
 */
import { Redis } from 'ioredis';

import { roleEnv } from '../helpers/cluster.js';
import { startRole } from '../helpers/processes.js';
import { uniquePrefix } from '../helpers/redis.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { sleep } from './processes.js';

const workers = Number(process.argv[2] ?? 2);
const windowMs = Number(process.argv[3] ?? 60_000);

/** Calls per command since the server started. */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const text = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of text.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

async function measure(stalledIntervalMs: number) {
  const redis = await new OwnRedis().start();
  const admin = new Redis(redis.url);
  const env = roleEnv(redis.url, uniquePrefix('bench-stalled'), { JOBCAST_STALLED_INTERVAL_MS: String(stalledIntervalMs) });
  const roles = await Promise.all(Array.from({ length: workers }, () => startRole('worker', env)));
  try {
    await sleep(Math.max(5000, stalledIntervalMs));
    const before = await commandCalls(admin);
    const t0 = Date.now();
    await sleep(windowMs);
    const after = await commandCalls(admin);
    const seconds = (Date.now() - t0) / 1000;
    const perSecond: Record<string, number> = {};
    let total = 0;
    for (const [command, calls] of after) {
      if (command === 'info') continue;
      const rate = (calls - (before.get(command) ?? 0)) / seconds;
      if (rate > 0) perSecond[command] = Number(rate.toFixed(2));
      total += rate;
    }
    return { stalledIntervalMs, workers, commandsPerSecond: Number(total.toFixed(2)), perSecond };
  } finally {
    await Promise.all(roles.map((r) => r.stop()));
    admin.disconnect();
    await redis.destroy();
  }
}

for (const interval of [30_000, 4000]) console.log(JSON.stringify(await measure(interval)));
process.exit(0);
