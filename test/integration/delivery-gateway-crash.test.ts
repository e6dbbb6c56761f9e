import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { portOf, ProcessCluster } from '../helpers/cluster.js';
import { plannedJobs } from '../helpers/planned-jobs.js';
import type { RoleProcess } from '../helpers/processes.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, report, watch, type Watcher } from '../helpers/watchers.js';

describe('delivery through a gateway crash: SIGKILL mid-job, clients move to the other gateway', () => {
  const cluster = new ProcessCluster();
  let proxy: TcpProxy;
  let gateways: RoleProcess[];
  let watchers: Watcher[] = [];

  before(async () => {
    ({ gateways } = await cluster.start({ gateways: 2, workers: 1, env: { JOBCAST_CONCURRENCY: '10' } }));
    proxy = await TcpProxy.start(gateways.map((g) => portOf(g.url!)));
  });
  after(async () => {
    closeAll(watchers);
    await proxy?.close();
    const codes = await cluster.stop();
    assert.deepEqual(codes.slice(1), [0, 0], 'the surviving gateway and the worker exit cleanly');
  });

  it('clients on the killed gateway reconnect to the other and miss nothing', async () => {
    const jobs = await plannedJobs(cluster.jobcast, 10, 'crash');
    watchers = await watch(
      proxy.url,
      jobs.flatMap((j) => [j, j, j, j, j]),
    );
    const [killed, survivor] = gateways as [RoleProcess, RoleProcess];
    const onKilled = proxy.accepted.get(portOf(killed.url!)) ?? 0;
    assert.ok(onKilled >= 10, `the round-robin put clients on the gateway to be killed (${onKilled})`);
    for (const j of jobs) await cluster.jobcast.start(countJob, { steps: 60, stepMs: 30 }, { jobId: j.jobId });

    await waitFor(() => watchers.every((w) => w.offsets.length >= 10), 'the jobs to be under way');
    killed.child.kill('SIGKILL');
    proxy.setUpstreams([portOf(survivor.url!)]);
    await waitFor(() => watchers.every((w) => w.done), 'every client to see its outcome', 40_000);

    const published = new Map<string, { from: number; to: number }>();
    for (const j of jobs) published.set(j.channel, { from: 1, to: (await cluster.jobcast.store.read(j.channel)).offset });
    const result = report(watchers, published);
    const moved = watchers.filter((w) => w.catchUps.length > 0).length;
    console.log(`gateway crash: ${moved} clients moved gateways; ${JSON.stringify(result)}`);
    assert.ok(moved >= 10, 'the clients of the killed gateway reconnected');
    assert.equal(result.lost, 0);
    assert.equal(result.duplicated, 0);
    assert.equal(result.outOfOrder, 0);
    assert.equal(result.delivered, result.published, 'every client got every event');
  });
});
