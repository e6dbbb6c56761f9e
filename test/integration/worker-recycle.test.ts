import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { ProcessCluster } from '../helpers/cluster.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';

describe('healthy workers: a worker recycles itself after N jobs', () => {
  const cluster = new ProcessCluster();
  before(async () => {
    await cluster.start({ gateways: 0, workers: 0 });
  });
  after(() => cluster.stop());

  it('finishes its jobs, exits 0, and a fresh worker takes the rest', async () => {
    const jobs = await Promise.all(Array.from({ length: 8 }, () => cluster.jobcast.start(countJob, { steps: 3, stepMs: 20 })));
    const worker = await cluster.startRole('worker', { JOBCAST_WORKER_MAX_JOBS: '5', JOBCAST_CONCURRENCY: '1' });
    const code = await new Promise<number | null>((resolve) => worker.child.once('exit', resolve));
    assert.equal(code, 0, 'a recycling worker exits 0');
    assert.ok(
      worker.lines.some((l) => l.includes('recycled')),
      'it says why it left',
    );
    const states = await Promise.all(jobs.map((j) => cluster.jobcast.status(j.jobId).then((s) => s.state)));
    // BullMQ hands a worker its next job as the previous one completes, so the job in hand at
    // the limit is finished too: five, or six.
    const done = states.filter((s) => s === 'completed').length;
    assert.ok(done >= 5 && done <= 6, `it finished what it had taken (${done}), and no more`);
    assert.ok(
      states.every((s) => s === 'completed' || s === 'queued'),
      `nothing was left half-done: ${states.join(',')}`,
    );
    await cluster.startRole('worker');
    await waitFor(
      async () => (await Promise.all(jobs.map((j) => cluster.jobcast.store.read(j.channel)))).every((r) => r.events.some((e) => e.event === 'completed')),
      'the fresh worker to run the rest',
    );
    for (const j of jobs) {
      const read = await cluster.jobcast.store.read(j.channel);
      assert.equal(read.events.filter((e) => e.event === 'completed').length, 1);
    }
  });
});
