import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { ProcessCluster } from '../helpers/cluster.js';
import { plannedJobs } from '../helpers/planned-jobs.js';
import type { RoleProcess } from '../helpers/processes.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, watch, type Watcher } from '../helpers/watchers.js';

describe('graceful shutdown: SIGTERM to a worker in the middle of ten running jobs', () => {
  const cluster = new ProcessCluster();
  let gateway: RoleProcess;
  let worker: RoleProcess;
  let watchers: Watcher[] = [];

  before(async () => {
    const started = await cluster.start({ gateways: 1, workers: 1, env: { JOBCAST_CONCURRENCY: '10' } });
    gateway = started.gateways[0]!;
    worker = started.workers[0]!;
  });
  after(async () => {
    closeAll(watchers);
    await cluster.stop();
  });

  it('finishes every running job, publishes each outcome once, and exits 0', async () => {
    const jobs = await plannedJobs(cluster.jobcast, 10, 'term');
    watchers = await watch(gateway.url!, jobs);
    for (const j of jobs) await cluster.jobcast.start(countJob, { steps: 30, stepMs: 50 }, { jobId: j.jobId });
    await waitFor(async () => (await cluster.jobcast.queues.queue('count').getActiveCount()) === 10, 'all ten jobs to be running');

    assert.equal(await worker.stop('SIGTERM'), 0, 'the worker exits 0 after its jobs');
    await waitFor(() => watchers.every((w) => w.done), 'every outcome');
    for (const w of watchers) {
      assert.deepEqual(
        w.events.filter((e) => ['completed', 'failed', 'cancelled'].includes(e)),
        ['completed'],
        `${w.channel}: one completed`,
      );
      assert.equal(w.events.filter((e) => e === 'progress').length, 30, 'every step ran to the end');
    }
  });
});
