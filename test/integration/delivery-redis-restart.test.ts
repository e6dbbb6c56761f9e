import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { ProcessCluster } from '../helpers/cluster.js';
import { plannedJobs } from '../helpers/planned-jobs.js';
import type { RoleProcess } from '../helpers/processes.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, report, watch, type Watcher } from '../helpers/watchers.js';

describe('delivery through a Redis restart: no jobcast process is restarted', () => {
  const redis = new OwnRedis();
  const cluster = new ProcessCluster();
  let gateway: RoleProcess;
  let watchers: Watcher[] = [];

  before(async () => {
    await redis.start();
    gateway = (await cluster.start({ gateways: 1, workers: 1, redisUrl: redis.url, env: { JOBCAST_CONCURRENCY: '10' } })).gateways[0]!;
  });
  after(async () => {
    closeAll(watchers);
    const codes = await cluster.stop();
    await redis.destroy();
    assert.deepEqual(codes, [0, 0], 'gateway and worker survived and exit cleanly');
  });

  it('workers, gateway and clients recover by themselves; every subscriber ends on the outcome', async () => {
    const jobs = await plannedJobs(cluster.jobcast, 5, 'restart');
    watchers = await watch(
      gateway.url!,
      jobs.flatMap((j) => [j, j, j, j]),
    );
    for (const j of jobs) await cluster.jobcast.start(countJob, { steps: 60, stepMs: 40 }, { jobId: j.jobId });
    await waitFor(() => watchers.every((w) => w.offsets.length >= 8), 'the jobs to be under way');

    await redis.restart(700);
    await waitFor(() => watchers.every((w) => w.done), 'every client to see its outcome', 45_000);

    const published = new Map<string, { from: number; to: number }>();
    for (const j of jobs) published.set(j.channel, { from: 1, to: (await cluster.jobcast.store.read(j.channel)).offset });
    const result = report(watchers, published);
    console.log(`redis restart: ${JSON.stringify(result)}`);
    assert.equal(result.lost, 0);
    assert.equal(result.duplicated, 0);
    assert.equal(result.outOfOrder, 0);
    for (const w of watchers) assert.equal(w.events.filter((e) => e === 'completed').length, 1, 'exactly one outcome each');
    for (const j of jobs) assert.equal((await cluster.jobcast.status(j.jobId)).state, 'completed');
  });
});
