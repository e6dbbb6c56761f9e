/**
 * What the gateway's heartbeats cost at 10,000 idle subscribed connections: the gateway's CPU
 * and its socket bytes per second (read and written, from /proc/<pid>/io), with socket.io's
 * default heartbeat (25 s + 20 s) and jobcast's (5 s + 5 s). Nothing is published, so the
 * difference is the heartbeat.
 *
 *   ulimit -n 65536; npx tsx test/bench/heartbeat-cost.ts [connections] [windowMs]
 */
import { readFileSync } from 'node:fs';

import { startRole } from '../helpers/processes.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { channelTokens, ClientGroup, cpuMs, SECRET, sleep } from './processes.js';

const connections = Number(process.argv[2] ?? 10_000);
// Two full rounds of the slower heartbeat, so its bursts are counted fairly.
const windowMs = Number(process.argv[3] ?? 50_000);
const CHANNELS = 100;

function io(pid: number): { read: number; written: number } {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { read: Number(/rchar: (\d+)/.exec(text)![1]), written: Number(/wchar: (\d+)/.exec(text)![1]) };
}

async function measure(redisUrl: string, intervalMs: number, timeoutMs: number) {
  const prefix = uniquePrefix('bench-heartbeat');
  const gateway = await startRole('gateway', {
    REDIS_URL: redisUrl,
    JOBCAST_PREFIX: prefix,
    JOBCAST_SECRET: SECRET,
    JOBCAST_DEMO: '0',
    JOBCAST_MAX_CONNECTIONS_PER_IP: '100000',
    JOBCAST_SUBSCRIBES_PER_SECOND: '100000',
    JOBCAST_HEARTBEAT_INTERVAL_MS: String(intervalMs),
    JOBCAST_HEARTBEAT_TIMEOUT_MS: String(timeoutMs),
  });
  const pid = gateway.child.pid!;
  const clients = new ClientGroup('jobcast', CHANNELS, await channelTokens(CHANNELS));
  try {
    await clients.add(gateway.url!, connections);
    // Past the first full heartbeat round, so every connection is in its steady rhythm.
    await sleep(intervalMs + 2000);
    const cpu0 = cpuMs(pid);
    const io0 = io(pid);
    const t0 = Date.now();
    await sleep(windowMs);
    const seconds = (Date.now() - t0) / 1000;
    const cpu = (cpuMs(pid) - cpu0) / 10 / seconds;
    const io1 = io(pid);
    return {
      heartbeat: `${intervalMs / 1000} s + ${timeoutMs / 1000} s`,
      connections,
      cpuPercentOfOneCore: Number(cpu.toFixed(2)),
      socketBytesPerSecond: { read: Math.round((io1.read - io0.read) / seconds), written: Math.round((io1.written - io0.written) / seconds) },
      pingsPerSecond: Math.round((connections * 1000) / intervalMs),
    };
  } finally {
    await clients.close();
    await gateway.stop();
    await deleteKeys(redisUrl, prefix);
  }
}

const redisUrl = await testRedisUrl();
const results = [];
for (const [interval, timeout] of [
  [25_000, 20_000],
  [5000, 5000],
] as const) {
  const result = await measure(redisUrl, interval, timeout);
  console.log(JSON.stringify(result));
  results.push(result);
}
const [before, after] = results;
console.log(
  `heartbeat cost at ${connections} idle connections: ${before!.cpuPercentOfOneCore}% → ${after!.cpuPercentOfOneCore}% of one core; ` +
    `socket bytes/s read ${before!.socketBytesPerSecond.read} → ${after!.socketBytesPerSecond.read}, written ${before!.socketBytesPerSecond.written} → ${after!.socketBytesPerSecond.written}`,
);
process.exit(0);
