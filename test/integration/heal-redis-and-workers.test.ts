import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { ErrorCode } from '../../shared/codes.js';
import { portOf, ProcessCluster } from '../helpers/cluster.js';
import { plannedJobs } from '../helpers/planned-jobs.js';
import type { RoleProcess } from '../helpers/processes.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor, within } from '../helpers/wait.js';
import { closeAll, report, watch, type Watcher } from '../helpers/watchers.js';

/** Every client got every event of its channel once, in order, and exactly one `completed`. */
async function assertComplete(cluster: ProcessCluster, watchers: Watcher[], label: string): Promise<void> {
  await waitFor(() => watchers.every((w) => w.done), `${label}: every client to see its outcome`, 40_000);
  const published = new Map<string, { from: number; to: number }>();
  for (const w of watchers) published.set(w.channel, { from: 1, to: (await cluster.jobcast.store.read(w.channel)).offset });
  const result = report(watchers, published);
  console.log(`${label}: ${JSON.stringify(result)}`);
  assert.equal(result.lost, 0);
  assert.equal(result.duplicated, 0);
  assert.equal(result.outOfOrder, 0);
  for (const w of watchers)
    assert.deepEqual(
      w.events.filter((e) => ['completed', 'failed', 'cancelled'].includes(e)),
      ['completed'],
    );
}

describe('Redis down while clients reconnect: refused resubscribes are retried until Redis is back', () => {
  const redis = new OwnRedis();
  const cluster = new ProcessCluster();
  let proxy: TcpProxy;
  let watchers: Watcher[] = [];

  before(async () => {
    await redis.start();
    const { gateways } = await cluster.start({ gateways: 1, workers: 1, redisUrl: redis.url, env: { JOBCAST_CONCURRENCY: '4' } });
    proxy = await TcpProxy.start([portOf(gateways[0]!.url!)]);
  });
  after(async () => {
    closeAll(watchers);
    await proxy?.close();
    await cluster.stop();
    await redis.destroy();
  });

  it('every client that reconnected into the outage catches up once Redis answers again', async () => {
    const jobs = await plannedJobs(cluster.jobcast, 3, 'redis-down');
    watchers = await watch(
      proxy.url,
      jobs.flatMap((j) => [j, j, j]),
    );
    for (const j of jobs) await cluster.jobcast.start(countJob, { steps: 120, stepMs: 40 }, { jobId: j.jobId });
    await waitFor(() => watchers.every((w) => w.offsets.length >= 5), 'the jobs to be under way');

    // Each client reconnects to the gateway, and its resubscribe is refused (Redis is down):
    // three refusals each, so the outage lasts through growing retry delays (a few seconds).
    const refusals = watchers.map(() => 0);
    watchers.forEach((w, i) =>
      w.subscription.onState(({ state, code }) => {
        if (state === 'subscribing' && code === ErrorCode.unavailable && w.connection.state === 'connected') refusals[i]! += 1;
      }),
    );
    await redis.stop();
    const down = Date.now();
    proxy.cut();
    await waitFor(() => refusals.every((n) => n >= 3), 'every client to be refused three times', 20_000).catch((error: unknown) => {
      throw new Error(
        `${(error as Error).message}: refusals ${refusals.join(',')}, states ${watchers.map((w) => `${w.connection.state}/${w.subscription.state}`).join(',')}`,
      );
    });
    console.log(`redis down: every client refused three times, ${Date.now() - down} ms into the outage`);
    const stillWaiting = watchers.filter((w) => w.subscription.state === 'subscribing').length;
    await redis.start();
    const back = Date.now();
    await waitFor(() => watchers.every((w) => w.subscription.state === 'subscribed'), 'every client to be live again', 20_000);
    const caughtUp = Date.now() - back;
    console.log(`redis down: ${stillWaiting} of ${watchers.length} clients retrying while Redis was down; all live ${caughtUp} ms after Redis answered`);
    assert.equal(stillWaiting, watchers.length, 'the clients were not live during the outage (and said so)');
    assert.ok(caughtUp < 10_000, `caught up ${caughtUp} ms after Redis came back`);
    await assertComplete(cluster, watchers, 'redis down');
  });
});

describe('a SIGKILLed worker: its jobs show `stalled` within seconds with the default settings', () => {
  const cluster = new ProcessCluster();
  let gateway: RoleProcess;
  let workers: RoleProcess[];
  let watchers: Watcher[] = [];

  before(async () => {
    // No JOBCAST_STALLED_INTERVAL_MS: the defaults are what is tested.
    const started = await cluster.start({ gateways: 1, workers: 2, env: { JOBCAST_CONCURRENCY: '4' } });
    gateway = started.gateways[0]!;
    workers = started.workers;
  });
  after(async () => {
    closeAll(watchers);
    await cluster.stop();
  });

  it("`stalled` reaches every page of the dead worker's jobs, then the rerun's outcome", async () => {
    const jobs = await plannedJobs(cluster.jobcast, 4, 'kill');
    watchers = await watch(
      gateway.url!,
      jobs.flatMap((j) => [j, j]),
    );
    for (const j of jobs) await cluster.jobcast.start(countJob, { steps: 30, stepMs: 100 }, { jobId: j.jobId });
    await waitFor(() => watchers.every((w) => w.events.includes('progress')), 'every job to be running');
    // Which worker process runs which job, from the jobs' timelines; kill one that holds some.
    const holder = new Map<string, number>();
    for (const j of jobs) {
      const started = (await cluster.jobcast.timeline.read(j.jobId, cluster.jobcast.store)).find((e) => e.what === 'started');
      holder.set(j.channel, Number(String(started?.detail.worker).split(':').at(-1)));
    }
    const doomed = workers.find((w) => [...holder.values()].includes(w.child.pid!))!;
    const orphans = watchers.filter((w) => holder.get(w.channel) === doomed.child.pid);
    const stalledAt = orphans.map((w) => new Promise<number>((resolve) => w.subscription.on('stalled', () => resolve(Date.now()))));
    doomed.child.kill('SIGKILL');
    const killed = Date.now();
    const delays = (await within(Promise.all(stalledAt), "`stalled` on every page of the dead worker's jobs", 30_000)).map((t) => t - killed);
    console.log(`worker kill: \`stalled\` on ${orphans.length} pages ${Math.min(...delays)}–${Math.max(...delays)} ms after the SIGKILL (defaults)`);
    assert.ok(orphans.length > 0);
    assert.ok(Math.max(...delays) < 20_000, 'stalled shown within the documented bound (12 s, plus slack for CI)');
    await assertComplete(cluster, watchers, 'worker kill');
  });
});
