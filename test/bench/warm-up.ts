/**
 * How a gateway's CPU per delivery settles after its clients connect: one rig per kind, 1,000
 * clients on 100 channels, 2,000 events/s, measured in consecutive slices (gateway and client
 * CPU µs per event of each). What the fan-out's not-counted warm-up (`warmUpMs`) is chosen by.
 *
 *   npx tsx test/bench/warm-up.ts [kinds] [slices] [sliceMs]
 */
import { benchRedis } from './own-redis.js';
import { type Kind, sleep, startRig } from './processes.js';
import { measureWindow, observeRedis } from './window.js';
const [kindsArg = 'jobcast,floor,baseline', slicesArg = '8', sliceMs = '2000'] = process.argv.slice(2);
const redis = await benchRedis();
observeRedis(redis);
for (const kind of kindsArg.split(',') as Kind[]) {
  const rig = await startRig(kind, redis.url, 100);
  try {
    await rig.clients.add(rig.gateway.url, 1000);
    await sleep(300);
    const row: number[] = [];
    const cl: number[] = [];
    for (let i = 0; i < Number(slicesArg); i++) {
      const w = await measureWindow(rig.gateway, rig.clients, rig.publisher, 2000, Number(sliceMs), 200);
      row.push(w.cpuUsPerEvent);
      cl.push(w.clientCpuUsPerEvent ?? 0);
    }
    console.log(kind.padEnd(9), 'gw', row.join(' '), '| client', cl.join(' '));
    await rig.clients.close();
  } finally {
    await rig.close();
  }
}
await redis.close();
process.exit(0);
