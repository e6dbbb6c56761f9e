import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Queue, Worker } from 'bullmq';
import { Cluster } from 'ioredis';

import { connect } from '../../client/connection.js';
import type { EventContext } from '../../client/subscription.js';
import { parseClusterNodes } from '../../server/redis/connect.js';
import { jobChannel } from '../../shared/constants.js';
import { portOf, ProcessCluster } from '../helpers/cluster.js';
import { plannedJobs } from '../helpers/planned-jobs.js';
import type { RoleProcess } from '../helpers/processes.js';
import { OwnRedisCluster } from '../helpers/redis-cluster.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, report, watch, type Watcher } from '../helpers/watchers.js';

describe('on a three-master Redis Cluster: sharded pub/sub, hash-tagged keys', () => {
  const redis = new OwnRedisCluster();
  const cluster = new ProcessCluster();
  let gateways: RoleProcess[];
  let web: RoleProcess;
  let proxy: TcpProxy;
  let watchers: Watcher[] = [];

  before(async () => {
    await redis.start(3);
    ({ gateways } = await cluster.start({ gateways: 2, workers: 1, clusterNodes: redis.nodes, env: { JOBCAST_CONCURRENCY: '10' } }));
    web = await cluster.startRole('web');
    proxy = await TcpProxy.start(gateways.map((g) => portOf(g.url!)));
  });
  after(async () => {
    closeAll(watchers);
    await proxy?.close();
    const codes = await cluster.stop();
    await redis.destroy();
    assert.deepEqual(
      codes,
      codes.map(() => 0),
      'every process exits 0',
    );
  });

  it('runs the whole job flow: start, progress, completed, partial', async () => {
    const jobId = `cl-${Math.random().toString(36).slice(2, 8)}`;
    const token = await cluster.jobcast.token([jobChannel(jobId)]);
    const jc = connect({ url: proxy.url });
    try {
      const events: EventContext[] = [];
      const sub = jc.channel(jobChannel(jobId), { token });
      sub.on('*', (e) => events.push(e));
      await sub.subscribe();
      await cluster.jobcast.start(countJob, { steps: 20, stepMs: 10, label: 'cluster' }, { jobId });
      await waitFor(() => events.some((e) => e.event === 'completed'), 'completed');
      assert.deepEqual(
        events.map((e) => e.offset),
        events.map((_, i) => i + 1),
        'every offset, in order',
      );
      assert.match(await sub.fetchPartial(web.url!), /Counted to 20 for cluster/);
    } finally {
      jc.close();
    }
  });

  it('shows a job that finished before the subscriber came as finished', async () => {
    const started = await cluster.jobcast.start(countJob, { steps: 5 });
    // Wait for the published outcome, not only BullMQ's record of it: the relay publishes it a moment later.
    await waitFor(async () => (await cluster.jobcast.store.read(started.channel)).events.some((e) => e.event === 'completed'), 'the job to complete');
    const jc = connect({ url: proxy.url });
    try {
      const seen: string[] = [];
      const sub = jc.channel(started.channel, { token: started.token });
      sub.on('*', (e) => seen.push(e.event));
      await sub.subscribe();
      assert.deepEqual(seen, ['active', 'progress', 'completed']);
    } finally {
      jc.close();
    }
  });

  it('clients cut mid-job reconnect to another gateway and miss nothing', async () => {
    const jobs = await plannedJobs(cluster.jobcast, 6, 'clr');
    watchers = await watch(
      proxy.url,
      jobs.flatMap((j) => [j, j, j, j]),
    );
    for (const j of jobs) await cluster.jobcast.start(countJob, { steps: 60, stepMs: 25 }, { jobId: j.jobId });
    await waitFor(() => watchers.every((w) => w.offsets.length >= 5), 'the jobs to be under way');
    const cut = proxy.cut();
    await waitFor(() => watchers.every((w) => w.done), 'every outcome', 30_000);
    const published = new Map<string, { from: number; to: number }>();
    for (const j of jobs) published.set(j.channel, { from: 1, to: (await cluster.jobcast.store.read(j.channel)).offset });
    const result = report(watchers, published);
    console.log(`redis cluster: ${cut} connections cut; ${JSON.stringify(result)}`);
    assert.deepEqual([result.lost, result.duplicated, result.outOfOrder], [0, 0, 0]);
    assert.equal(result.delivered, result.published);
  });

  it('watches an existing BullMQ queue with a hash-tagged prefix: progress and one completed', async () => {
    const connection = new Cluster(parseClusterNodes(redis.nodes.join(',')), { redisOptions: { maxRetriesPerRequest: null } });
    const prefix = `{bull-${Math.random().toString(36).slice(2, 8)}}`;
    const queue = new Queue('reports', { connection, prefix });
    const watched = cluster.jobcast.watchQueue('reports', { prefix });
    let worker: Worker | undefined;
    const jc = connect({ url: proxy.url });
    try {
      await watched.ready;
      const started = await cluster.jobcast.tokenForJob(await queue.add('report', {}));
      const seen: string[] = [];
      const sub = jc.channel(started.channel, { token: started.token });
      sub.on('*', (e) => seen.push(e.event));
      await sub.subscribe();
      worker = new Worker(
        'reports',
        async (job) => {
          for (let i = 1; i <= 5; i++) await job.updateProgress(i * 20);
          return { ok: true };
        },
        { connection, prefix },
      );
      await waitFor(() => seen.includes('completed'), 'completed', 20_000);
      assert.equal(seen.filter((e) => e === 'completed').length, 1);
      assert.ok(seen.filter((e) => e === 'progress').length >= 1, seen.join(','));
    } finally {
      jc.close();
      await worker?.close();
      await watched.close();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      connection.disconnect();
    }
  });
});
