import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { queuePrefix } from '../../server/jobs/define-job.js';
import { ProcessCluster } from '../helpers/cluster.js';
import { plannedJobs } from '../helpers/planned-jobs.js';
import type { RoleProcess } from '../helpers/processes.js';
import { countJob } from '../helpers/test-jobs.js';
import { FLUSH_EVENT, flushChannel, waitFor } from '../helpers/wait.js';
import { closeAll, watch, type Watcher } from '../helpers/watchers.js';

const OUTCOMES = ['completed', 'failed', 'cancelled'];
// Fast stall detection and relay take-over, so killed work is picked up within seconds.
const FAST = { JOBCAST_STALLED_INTERVAL_MS: '1000', JOBCAST_RELAY_CLAIM_MS: '1000', JOBCAST_CONCURRENCY: '20' };

describe('worker SIGKILL at random moments: exactly one outcome per job and subscriber', () => {
  const cluster = new ProcessCluster();
  let gateway: RoleProcess;
  let watchers: Watcher[] = [];

  before(async () => {
    gateway = (await cluster.start({ gateways: 1, workers: 0, env: FAST })).gateways[0]!;
  });
  after(async () => {
    closeAll(watchers);
    await cluster.stop();
  });

  it('survives eight killed workers', async () => {
    const jobs = await plannedJobs(cluster.jobcast, 12, 'kill');
    watchers = await watch(
      gateway.url!,
      jobs.flatMap((j) => [j, j, j]),
    );
    // Short jobs in waves, so kills land before, during and right after completions.
    for (const [i, j] of jobs.entries()) await cluster.jobcast.start(countJob, { steps: 20, stepMs: 10 + (i % 4) * 15 }, { jobId: j.jobId });

    let kills = 0;
    for (let round = 0; round < 8; round++) {
      const worker = await cluster.startRole('worker', FAST);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 500));
      worker.child.kill('SIGKILL');
      kills += 1;
    }
    await cluster.startRole('worker', FAST);
    await waitFor(() => watchers.every((w) => w.done), 'every subscriber to see an outcome', 60_000);
    // A second, wrong outcome could only come from an outcome relay: wait until the relays have
    // read and acknowledged every BullMQ event, then until everything published reached each client.
    await waitFor(() => relaysIdle(cluster, 'count'), 'the outcome relays to have nothing left to publish', 30_000);
    await Promise.all(watchers.map((w) => flushChannel(cluster.jobcast, w.channel, () => w.events.map((event) => ({ event })))));

    const finals: Record<string, number> = {};
    for (const j of jobs) {
      const state = (await cluster.jobcast.status(j.jobId)).state;
      finals[state] = (finals[state] ?? 0) + 1;
      for (const w of watchers.filter((x) => x.channel === j.channel)) {
        const outcomes = w.events.filter((e) => OUTCOMES.includes(e));
        assert.equal(w.events.at(-1), FLUSH_EVENT, `${j.jobId}: nothing after the flush marker`);
        assert.equal(outcomes.length, 1, `${j.jobId}: exactly one outcome, got ${outcomes.join(',')}`);
        assert.equal(outcomes[0], state, `${j.jobId}: the outcome subscribers saw is the one BullMQ recorded`);
        assert.equal(new Set(w.offsets).size, w.offsets.length, 'no duplicates');
      }
    }
    const stalls = watchers.reduce((n, w) => n + w.events.filter((e) => e === 'stalled').length, 0) / 3;
    console.log(`worker kills: ${kills} workers SIGKILLed; final states ${JSON.stringify(finals)}; ${stalls} stalled events per subscriber set`);
  });
});

/** True when the outcome relays' consumer group has read and acknowledged every event of the queue. */
async function relaysIdle(cluster: ProcessCluster, jobName: string): Promise<boolean> {
  const stream = `${queuePrefix(cluster.prefix, jobName)}:${jobName}:events`;
  const groups = (await cluster.jobcast.redis.xinfo('GROUPS', stream)) as (string | number | null)[][];
  return groups.every((flat) => {
    const info = new Map<unknown, unknown>();
    for (let i = 0; i + 1 < flat.length; i += 2) info.set(flat[i], flat[i + 1]);
    return Number(info.get('pending')) === 0 && Number(info.get('lag')) === 0;
  });
}
