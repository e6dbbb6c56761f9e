import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { portOf, ProcessCluster } from '../helpers/cluster.js';
import { plannedJobs } from '../helpers/planned-jobs.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, report, watch, type Watcher } from '../helpers/watchers.js';

const JOBS = 20;
const CLIENTS_PER_JOB = 10;
const STEPS = 100;

describe('delivery through network drops: 200 clients, 20 jobs × 100 steps, connections cut at random', () => {
  const cluster = new ProcessCluster();
  let proxy: TcpProxy;
  let watchers: Watcher[] = [];

  before(async () => {
    const { gateways } = await cluster.start({ gateways: 1, workers: 1, env: { JOBCAST_CONCURRENCY: String(JOBS) } });
    proxy = await TcpProxy.start([portOf(gateways[0]!.url!)]);
  });
  after(async () => {
    closeAll(watchers);
    await proxy?.close();
    assert.deepEqual(await cluster.stop(), [0, 0]);
  });

  it('every client ends with the ordered sequence of its channel, nothing twice', async () => {
    const jobs = await plannedJobs(cluster.jobcast, JOBS, 'drops');
    watchers = await watch(
      proxy.url,
      jobs.flatMap((j) => Array.from({ length: CLIENTS_PER_JOB }, () => j)),
    );
    for (const j of jobs) await cluster.jobcast.start(countJob, { steps: STEPS, stepMs: 30 }, { jobId: j.jobId });

    // Cut about 15 % of the connections every 120 ms while the jobs run: each client is
    // dropped several times, at moments nobody chose.
    let cuts = 0;
    const chaos = setInterval(() => (cuts += proxy.cut(() => Math.random() < 0.15)), 120);
    try {
      await waitFor(() => watchers.every((w) => w.done), 'every client to see its outcome', 50_000);
    } finally {
      clearInterval(chaos);
    }

    const published = new Map<string, { from: number; to: number }>();
    for (const j of jobs) published.set(j.channel, { from: 1, to: (await cluster.jobcast.store.read(j.channel)).offset });
    const result = report(watchers, published);
    const unrecovered = watchers.filter((w) => w.unrecovered > 0).length;
    console.log(`network drops: ${cuts} connections cut; ${JSON.stringify(result)}; ${unrecovered} clients told recovered=false (gap older than the log)`);
    assert.ok(cuts >= 2 * watchers.length, `clients were cut several times (${cuts} cuts)`);
    assert.equal(result.lost, 0, 'no event lost');
    assert.equal(result.duplicated, 0, 'no event twice');
    assert.equal(result.outOfOrder, 0, 'always in order');
    for (const w of watchers) assert.equal(w.events.at(-1), 'completed', 'every client ends on the outcome');
  });
});
