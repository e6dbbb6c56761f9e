import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { portOf, ProcessCluster } from '../helpers/cluster.js';
import type { RoleProcess } from '../helpers/processes.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, report, watch, type Watcher } from '../helpers/watchers.js';

const CHANNELS = 400;
const EVENTS = 10;

describe('four gateways behind a round-robin balancer, no sticky sessions', () => {
  const cluster = new ProcessCluster();
  let proxy: TcpProxy;
  let gateways: RoleProcess[];
  let watchers: Watcher[] = [];
  const channels = Array.from({ length: CHANNELS }, (_, i) => `room-${i}`);

  before(async () => {
    ({ gateways } = await cluster.start({ gateways: 4, workers: 2 }));
    proxy = await TcpProxy.start(gateways.map((g) => portOf(g.url!)));
  });
  after(async () => {
    closeAll(watchers);
    await proxy?.close();
    const codes = await cluster.stop();
    assert.deepEqual(
      codes,
      codes.map(() => 0),
      'every process exits 0',
    );
  });

  const stats = (g: RoleProcess) => fetch(`${g.url}/healthz`).then((r) => r.json() as Promise<{ received: number; connections: number; channels: number }>);

  async function publishRound(): Promise<void> {
    for (let round = 0; round < EVENTS; round++) {
      await Promise.all(channels.map((channel) => cluster.jobcast.trigger(channel, 'tick', { round })));
    }
  }

  it("each gateway carries only its own clients' channels: about a quarter of the messages each", async () => {
    watchers = await watch(proxy.url, await Promise.all(channels.map(async (channel) => ({ channel, token: await cluster.jobcast.token([channel]) }))));
    const before = await Promise.all(gateways.map(stats));
    await publishRound();
    await waitFor(() => watchers.every((w) => w.offsets.length === EVENTS), 'every client to get every event', 30_000);

    const after = await Promise.all(gateways.map(stats));
    const received = after.map((s, i) => s.received - before[i]!.received);
    const total = CHANNELS * EVENTS;
    console.log(`4 gateways: received ${received.join(' / ')} of ${total} published; connections ${after.map((s) => s.connections).join(' / ')}`);
    assert.equal(
      received.reduce((a, b) => a + b, 0),
      total,
      'each message went to exactly one gateway',
    );
    for (const r of received) assert.ok(r > total * 0.15 && r < total * 0.35, `a gateway received ${r} of ${total}`);

    const result = report(watchers, new Map(channels.map((c) => [c, { from: 1, to: EVENTS }])));
    assert.deepEqual([result.lost, result.duplicated, result.outOfOrder], [0, 0, 0]);
  });

  it('a gateway removed from the pool mid-run: its clients land on the others with nothing lost', async () => {
    const removed = gateways[0]!;
    const moved = (await stats(removed)).connections;
    proxy.setUpstreams(gateways.slice(1).map((g) => portOf(g.url!)));
    const publishing = publishRound();
    assert.equal(await removed.stop('SIGTERM'), 0, 'the removed gateway shuts down cleanly');
    await publishing;
    await waitFor(() => watchers.every((w) => w.offsets.length === 2 * EVENTS), 'every client to get every event', 30_000);
    const result = report(watchers, new Map(channels.map((c) => [c, { from: 1, to: 2 * EVENTS }])));
    console.log(`gateway removed: ${moved} clients moved; ${JSON.stringify(result)}`);
    assert.ok(moved >= 50);
    assert.deepEqual([result.lost, result.duplicated, result.outOfOrder], [0, 0, 0]);
  });
});
