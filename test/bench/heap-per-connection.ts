/**
 * `tsx test/bench/heap-per-connection.ts [kind] [connections]`: what a gateway keeps per idle
 * subscribed connection, from two V8 heap snapshots of the gateway process (before the
 * clients connect, and after): the object kinds that grew, by retained bytes per connection.
 * Kinds as in the benchmark: jobcast (default), baseline, floor, pusher.
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { benchRedis } from './own-redis.js';
import { type Kind, rssKb, sleep, startRig } from './processes.js';

const kind = (process.argv[2] ?? 'jobcast') as Kind;
const connections = Number(process.argv[3] ?? 1000);

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count per `type:name` of every heap node. */
function tally(file: string): Map<string, { bytes: number; count: number }> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const types = heap.snapshot.meta.node_types[0];
  const byKind = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!]!;
    // Strings and code are named by their contents: one bucket each.
    const name = type === 'object' || type === 'closure' ? heap.strings[heap.nodes[i + nameAt]!]! : '';
    const key = `${type}:${name}`;
    const entry = byKind.get(key) ?? { bytes: 0, count: 0 };
    entry.bytes += heap.nodes[i + sizeAt]!;
    entry.count += 1;
    byKind.set(key, entry);
  }
  return byKind;
}

// Gateways run in the repository's root, where a signalled heap snapshot is written.
const dir = fileURLToPath(new URL('../../', import.meta.url));
const redis = await benchRedis();
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2`;
const rig = await startRig(kind, redis.url, 100);
delete process.env.NODE_OPTIONS;
const snapshot = async () => {
  const before = new Set(safeList());
  process.kill(rig.gateway.pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    const fresh = safeList().filter((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    // Written once the file stops growing.
    if (fresh.length) {
      const file = join(dir, fresh[0]!);
      let size = -1;
      while (size <= 0 || statSync(file).size !== size) {
        size = statSync(file).size;
        await sleep(1500);
      }
      return file;
    }
    await sleep(100);
  }
  throw new Error('no heap snapshot');
};
const safeList = () => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};
try {
  await sleep(1000);
  const rssIdle = rssKb(rig.gateway.pid);
  const emptyFile = await snapshot();
  const empty = tally(emptyFile);
  if (process.env.KEEP_SNAPSHOT) console.log(`kept ${emptyFile}`);
  else rmSync(emptyFile);
  await rig.clients.add(rig.gateway.url, connections);
  await sleep(2000);
  const rssFull = rssKb(rig.gateway.pid);
  const fullFile = await snapshot();
  const full = tally(fullFile);
  if (process.env.KEEP_SNAPSHOT) console.log(`kept ${fullFile}`);
  else rmSync(fullFile);
  const rows = [...full]
    .map(([key, v]) => ({ key, bytes: v.bytes - (empty.get(key)?.bytes ?? 0), count: v.count - (empty.get(key)?.count ?? 0) }))
    .filter((r) => r.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
  const total = rows.reduce((a, r) => a + r.bytes, 0);
  console.log(
    `${kind}: ${connections} idle subscribed connections; RSS ${((rssFull - rssIdle) / connections).toFixed(1)} KB per connection, V8 heap ${(total / connections / 1024).toFixed(1)} KB per connection (self sizes)`,
  );
  console.log('| object | per connection | bytes per connection |');
  console.log('| --- | --- | --- |');
  for (const r of rows.slice(0, 30)) console.log(`| ${r.key} | ${(r.count / connections).toFixed(1)} | ${(r.bytes / connections).toFixed(0)} |`);
} finally {
  await rig.close();
  await redis.close();
}
process.exit(0);
