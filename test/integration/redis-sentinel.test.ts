import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { connect, type JobcastConnection } from '../../client/connection.js';
import type { EventContext } from '../../client/subscription.js';
import { createJobcast, type Jobcast } from '../../server/index.js';
import { createLogger } from '../../server/logger.js';
import { CLUSTER_SECRET, roleEnv } from '../helpers/cluster.js';
import { plannedJobs } from '../helpers/planned-jobs.js';
import { type RoleProcess, startRole } from '../helpers/processes.js';
import { uniquePrefix } from '../helpers/redis.js';
import { SENTINEL_TIMINGS, SentinelSet } from '../helpers/redis-sentinel.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, report, watch, type Watcher } from '../helpers/watchers.js';

const STEPS = 80;
const AFTER = 5;

/**
 * Writes events to `channel` back to back until stopped or refused, and records the offsets
 * Redis acknowledged; with `waitReplicas`, an offset counts only once WAIT says a replica has
 * it. `pause()` resolves once no write is in flight (or the probe has ended), and the probe
 * writes nothing until `resume()`. Bounded in count and time.
 */
function probe(jobcast: Jobcast, channel: string, waitReplicas: boolean) {
  const acked: number[] = [];
  let stop = false;
  let paused: { settled: () => void; resumed: Promise<void>; resume: () => void } | undefined;
  let ended = false;
  const result = {
    acked,
    error: '',
    stop: () => void (stop = true),
    done: Promise.resolve(),
    pause: () =>
      new Promise<void>((settled) => {
        if (ended) return settled();
        let resume = () => {};
        const resumed = new Promise<void>((r) => (resume = r));
        paused = { settled, resumed, resume };
      }),
    resume: () => {
      paused?.resume();
      paused = undefined;
    },
  };
  result.done = (async () => {
    const deadline = Date.now() + 20_000;
    try {
      for (let i = 0; i < 200_000 && !stop && Date.now() < deadline; i++) {
        if (paused) {
          paused.settled();
          await paused.resumed;
        }
        try {
          const event = await jobcast.trigger(channel, 'probe', { i });
          if (waitReplicas && (await jobcast.redis.wait(1, 500)) < 1) continue;
          acked.push(event.offset);
        } catch (error) {
          result.error = (error as Error).message; // refused, or the primary is gone: what was acknowledged so far is the sample
          return;
        }
      }
    } finally {
      // A probe that ended (refused, stopped, out of time) writes nothing more: it counts as paused.
      ended = true;
      paused?.settled();
    }
  })();
  return result;
}

describe('Redis Sentinel: the primary is SIGKILLed mid-job, and everything follows the failover', () => {
  const set = new SentinelSet();
  const prefix = uniquePrefix('sentinel');
  const processes: RoleProcess[] = [];
  let gateway: RoleProcess;
  let controller: Jobcast;
  let waiter: Jobcast;
  let watchers: Watcher[] = [];

  before(async () => {
    await set.start();
    const env = roleEnv('', prefix, { REDIS_SENTINELS: set.sentinelList.join(','), REDIS_SENTINEL_NAME: set.name, JOBCAST_CONCURRENCY: '10' });
    const [g, w] = await Promise.all([startRole('gateway', env), startRole('worker', env)]);
    gateway = g;
    processes.push(g, w);
    const sentinel = { sentinels: set.sentinelList, name: set.name };
    controller = createJobcast({ sentinel, secret: CLUSTER_SECRET, keyPrefix: prefix, jobs: [countJob], logger: createLogger('silent') });
    waiter = createJobcast({ sentinel, secret: CLUSTER_SECRET, keyPrefix: prefix, jobs: [], logger: createLogger('silent') });
    await Promise.all([controller.ready(), waiter.ready()]);
  });
  after(async () => {
    closeAll(watchers);
    const codes = await Promise.all(processes.map((p) => p.stop('SIGTERM')));
    await Promise.all([controller?.close(), waiter?.close()]);
    await set.destroy();
    assert.deepEqual(codes, [0, 0], 'gateway and worker lived through the failover and exit cleanly');
  });

  it("fails over within the sentinels' timeout; workers, gateways and subscribers carry on; later events all arrive", async () => {
    const oldPrimary = set.primary.port;
    assert.equal(await set.primaryPort(), oldPrimary);
    const jobs = await plannedJobs(controller, 3, 'failover');
    watchers = await watch(
      gateway.url!,
      jobs.flatMap((j) => [j, j]),
    );
    const stages = watchers.map(() => new Set<string>());
    const custom = watchers.map(() => [] as number[]);
    const arrivals: number[] = [];
    watchers.forEach((w, i) =>
      w.subscription.on('*', ({ event, data }) => {
        arrivals.push(Date.now());
        if (event === 'progress') stages[i]!.add(String((data as { stage?: string }).stage));
        if (event === 'after-failover') custom[i]!.push((data as { n: number }).n);
      }),
    );
    for (const j of jobs) await controller.start(countJob, { steps: STEPS, stepMs: 60 }, { jobId: j.jobId });
    await waitFor(() => watchers.every((w) => w.offsets.length >= 10), 'the jobs to be under way', 15_000);

    // Writes in flight at the moment of the kill: what the primary acknowledged and the
    // replica never got is what a failover loses.
    const plain = probe(controller, 'probe:plain', false);
    const waited = probe(waiter, 'probe:wait', true);
    await waitFor(() => plain.acked.length >= 200 && waited.acked.length >= 20, 'the probes to be writing', 10_000);
    const killedAt = Date.now();
    await set.killPrimary();

    const newPrimary = await waitFor(
      async () => {
        const port = await set.primaryPort().catch(() => 0);
        return port && port !== oldPrimary ? port : 0;
      },
      'the sentinels to promote the replica',
      20_000,
    );
    const promotedAt = Date.now();
    const failoverMs = promotedAt - killedAt;
    assert.equal(newPrimary, set.replica.port, 'the replica is the new primary');
    plain.stop();
    waited.stop();
    await Promise.all([plain.done, waited.done]);

    await waitFor(() => watchers.every((w) => w.done), 'every subscriber to see its outcome', 30_000);
    // When events flowed again after the promotion, and the longest pause subscribers saw.
    const resumedMs = Math.min(...arrivals.filter((t) => t >= promotedAt)) - killedAt;
    const longestPauseMs = Math.max(...arrivals.slice(1).map((t, i) => t - arrivals[i]!));

    // Published after the failover, on the new primary: every one reaches every subscriber.
    await waitFor(
      () =>
        controller.redis.ping().then(
          () => true,
          () => false,
        ),
      'the controller on the new primary',
      10_000,
    );
    for (const j of jobs) for (let n = 1; n <= AFTER; n++) await controller.trigger(j.channel, 'after-failover', { n });
    await waitFor(() => custom.every((c) => c.length >= AFTER), 'the events published after the failover', 10_000);

    const lostOf = async (channel: string, acked: number[]) => {
      const top = (await controller.store.read(channel)).offset;
      return { acked: acked.length, lost: acked.filter((o) => o > top).length };
    };
    const plainLoss = await lostOf('probe:plain', plain.acked);
    const waitLoss = await lostOf('probe:wait', waited.acked);
    const published = new Map<string, { from: number; to: number }>();
    for (const j of jobs) published.set(j.channel, { from: 1, to: (await controller.store.read(j.channel)).offset });
    const delivery = report(watchers, published);
    console.log(
      `sentinel failover: ${JSON.stringify({ failoverMs, resumedMs, longestPauseMs, delivery, acknowledgedLost: plainLoss, acknowledgedAfterWaitLost: waitLoss })}`,
    );

    assert.ok(failoverMs < SENTINEL_TIMINGS.downAfterMs + SENTINEL_TIMINGS.failoverTimeoutMs + 5_000, `failover took ${failoverMs} ms`);
    assert.equal(delivery.lost, 0);
    assert.equal(delivery.duplicated, 0);
    assert.equal(delivery.outOfOrder, 0);
    for (const [i, w] of watchers.entries()) {
      assert.equal(w.events.filter((e) => e === 'completed').length, 1, 'exactly one outcome each');
      assert.equal(stages[i]!.size, STEPS, `every progress step reached subscriber ${i}`);
      assert.deepEqual(
        custom[i],
        Array.from({ length: AFTER }, (_, k) => k + 1),
        'every event published after the failover, in order',
      );
    }
    for (const j of jobs) assert.equal((await controller.status(j.jobId)).state, 'completed');
    assert.equal(waitLoss.lost, 0, 'a write WAIT saw on a replica survives the failover');
  });
});

describe('Redis Sentinel: what a failover loses when the replica is behind, and what WAIT and min-replicas do about it', () => {
  const set = new SentinelSet({ replicaThroughProxy: true });
  const prefix = uniquePrefix('sentinel-lag');
  let writer: Jobcast;
  let waiter: Jobcast;
  let server: Server;
  let client: JobcastConnection;

  before(async () => {
    await set.start();
    const sentinel = { sentinels: set.sentinelList, name: set.name };
    writer = createJobcast({ sentinel, secret: CLUSTER_SECRET, keyPrefix: prefix, logger: createLogger('silent') });
    waiter = createJobcast({ sentinel, secret: CLUSTER_SECRET, keyPrefix: prefix, logger: createLogger('silent') });
    await Promise.all([writer.ready(), waiter.ready()]);
    server = createServer();
    writer.attachGateway(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = connect({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  });
  after(async () => {
    client?.close();
    await Promise.all([writer?.close(), waiter?.close()]);
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await set.destroy();
  });

  it('acknowledged writes the replica never got are lost; WAIT-acknowledged ones survive; min-replicas-max-lag bounds the window', async () => {
    // The primary refuses writes once no replica has acknowledged for over a second.
    await set.ask(set.primary.port, ['config', 'set', 'min-replicas-to-write', '1']);
    await set.ask(set.primary.port, ['config', 'set', 'min-replicas-max-lag', '1']);
    // A subscriber of the channel: it receives what the primary publishes, replicated or not.
    const seen: EventContext[] = [];
    const sub = client.channel('probe:plain', { token: await writer.token(['probe:plain']) });
    sub.on('*', (e) => seen.push(e));
    await sub.subscribe();
    const plain = probe(writer, 'probe:plain', false);
    const waited = probe(waiter, 'probe:wait', true);
    await waitFor(() => plain.acked.length >= 100 && waited.acked.length >= 10, 'the probes to be writing', 10_000);

    // The replica falls behind (nothing crosses its link): the primary keeps acknowledging
    // what it cannot send, until min-replicas-max-lag says the replica is too long silent.
    // The plain probe pauses at the freeze, with every write it had acknowledged on the
    // replica (WAIT) and none in flight, so the line between kept and lost is exact.
    await plain.pause();
    assert.equal(await writer.redis.wait(1, 5_000), 1, 'the replica had everything before the stall');
    set.proxy!.freeze();
    const stalledAt = Date.now();
    const inSync = { plain: plain.acked.length, waited: waited.acked.length };
    plain.resume();
    await waitFor(() => plain.error, 'the primary to refuse writes without a replica in reach', 10_000);
    const refusedAfterMs = Date.now() - stalledAt;
    assert.match(plain.error, /NOREPLICAS/);
    const ackedWhileBehind = plain.acked.length - inSync.plain;

    await set.killPrimary();
    set.proxy!.cut(); // the primary is gone, and with it what it had not sent
    await waitFor(async () => (await set.primaryPort().catch(() => 0)) === set.replica.port, 'the sentinels to promote the replica', 20_000);
    waited.stop();
    await waited.done;

    await waitFor(
      () =>
        writer.redis.ping().then(
          () => true,
          () => false,
        ),
      'the writer on the new primary',
      10_000,
    );
    const top = async (channel: string) => (await writer.store.read(channel)).offset;
    const plainTop = await top('probe:plain');
    const plainLost = plain.acked.filter((o) => o > plainTop).length;
    const lostEpoch = seen.at(-1)!.epoch;
    await waitFor(() => seen.length >= plain.acked.length, 'the subscriber to have received every acknowledged event', 10_000);

    // The gateway had forwarded the lost events: catching up on the new primary it finds the
    // channel behind them and moves it to a new epoch, so no other event gets their offsets,
    // even from a writer that never saw them.
    await waitFor(async () => (await waiter.store.read('probe:plain')).epoch !== lostEpoch, 'the gateway to move the channel to a new epoch', 15_000);
    const next = await waiter.trigger('probe:plain', 'after-failover', {});
    await waitFor(() => seen.some((e) => e.event === 'after-failover'), 'the subscriber to receive the event published after the failover', 10_000);
    assert.ok(next.offset <= plain.acked.at(-1)!, 'at an offset the subscriber had already seen in the old epoch');
    console.log(
      `sentinel failover, replica behind: ${JSON.stringify({ refusedAfterMs, ackedWhileBehind, plainLost, waitAcknowledged: waited.acked.length, waitAcknowledgedWhileBehind: waited.acked.length - inSync.waited })}`,
    );

    assert.equal(plainLost, ackedWhileBehind, 'every write acknowledged while the replica was behind is lost, and only those');
    assert.ok(plainLost > 0, 'the stall made the gap real');
    assert.ok(refusedAfterMs < 4_000, `min-replicas-max-lag 1 stopped acknowledging within seconds (${refusedAfterMs} ms)`);
    const waitedTop = await top('probe:wait');
    assert.equal(waited.acked.filter((o) => o > waitedTop).length, 0, 'no write WAIT confirmed on a replica was lost');
  });
});
