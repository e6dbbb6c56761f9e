/**
 * `tsx test/bench/rss-per-connection.ts [kind] [connections] [runs]`: the connections scenario's
 * memory step alone (a fresh gateway, RSS before and 1 s after `connections` idle subscribed
 * clients), with what the gateway's own `/metrics` says of its V8 heap spaces and external
 * memory at both points, so RSS growth that is not per-connection state (new space grown under
 * the handshakes' garbage, code compiled on first use) can be told apart from what each
 * connection keeps. A fifth argument, `5,10,20`, reads RSS again at those seconds after the
 * clients connected (V8 collects the handshakes' garbage only some seconds later).
 */
import { benchRedis } from './own-redis.js';
import { type Kind, rssKb, sleep, startRig } from './processes.js';

const kind = (process.argv[2] ?? 'jobcast') as Kind;
const connections = Number(process.argv[3] ?? 2000);
const runs = Number(process.argv[4] ?? 1);
/** Later points (seconds after the clients connected) at which RSS is read again. */
const settle = (process.argv[5] ?? '').split(',').filter(Boolean).map(Number);

/** Bytes by metric (and space label) from the gateway's Prometheus text, or {} for kinds without it. */
async function heapSpaces(url: string): Promise<Record<string, number>> {
  try {
    const text = await (await fetch(new URL('/metrics', url))).text();
    const out: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const m =
        /^jobcast_process_(nodejs_heap_space_size_used_bytes|nodejs_heap_space_size_total_bytes|nodejs_external_memory_bytes|nodejs_heap_size_used_bytes)(?:\{space="(\w+)"\})? (\d+)/.exec(
          line,
        );
      if (m) out[`${m[1]!.replace('nodejs_', '').replace('_bytes', '')}${m[2] ? `:${m[2]}` : ''}`] = Number(m[3]);
    }
    return out;
  } catch {
    return {};
  }
}

const redis = await benchRedis();
try {
  for (let run = 0; run < runs; run++) {
    const rig = await startRig(kind, redis.url, 100);
    try {
      await sleep(500);
      const idle = rssKb(rig.gateway.pid);
      const before = await heapSpaces(rig.gateway.url);
      await rig.clients.add(rig.gateway.url, connections);
      await sleep(1000);
      const full = rssKb(rig.gateway.pid);
      const after = await heapSpaces(rig.gateway.url);
      const later: string[] = [];
      for (const at of settle) {
        await sleep(at * 1000 - (later.length ? settle[later.length - 1]! * 1000 : 1000));
        later.push(`${at} s ${((rssKb(rig.gateway.pid) - idle) / connections).toFixed(1)}`);
      }
      const perConn = (key: string) => (((after[key] ?? 0) - (before[key] ?? 0)) / connections / 1024).toFixed(1);
      const spaces = Object.keys(after).map((key) => `${key} ${perConn(key)}`);
      console.log(
        `${kind} run ${run + 1}: RSS ${((full - idle) / connections).toFixed(1)} KB per connection (${connections}) after 1 s${later.length ? `, ${later.join(', ')}` : ''}; per connection KB at 1 s: ${spaces.join(', ')}`,
      );
    } finally {
      await rig.close();
    }
  }
} finally {
  await redis.close();
}
process.exit(0);
