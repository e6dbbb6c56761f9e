import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';

import { createJobcast, type Jobcast } from '../../server/index.js';
import { createLogger } from '../../server/logger.js';
import { type BullWorkerProcess, startBullWorker } from '../helpers/bullmq-worker.js';
import { startStack, TEST_SECRET, type TestStack } from '../helpers/stack.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, watch, type Watcher } from '../helpers/watchers.js';

const OUTCOMES = ['completed', 'failed', 'cancelled'];
const outcomesOf = (w: Watcher) => w.events.filter((e) => OUTCOMES.includes(e));

describe('watching an existing BullMQ queue run by an unmodified BullMQ worker process', () => {
  let stack: TestStack;
  let bullPrefix: string;
  let emails: Queue;
  let connection: Redis;
  const workers: BullWorkerProcess[] = [];
  const watchers: Watcher[] = [];
  const render = (result: { sent: number }) => `<p class="sent">Sent ${result.sent} emails</p>`;

  before(async () => {
    stack = await startStack({ worker: false, jobs: [] });
    // Under the test's key prefix, so the stack's cleanup removes the queue too.
    bullPrefix = `${stack.prefix}bull`;
    emails = new Queue('emails', { connection: (connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null })), prefix: bullPrefix });
    await stack.jobcast.watchQueue('emails', { prefix: bullPrefix, render }).ready;
    workers.push(await startBullWorker({ REDIS_URL: stack.redisUrl, QUEUE: 'emails', BULL_PREFIX: bullPrefix }));
  });
  after(async () => {
    closeAll(watchers);
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await emails.close();
    connection.disconnect();
    await stack.close();
  });

  /** Adds a job and subscribes to it while the queue is paused (`hold`: the caller resumes), so nothing starts unseen. */
  async function follow(data: Record<string, unknown>, opts: { attempts?: number; backoff?: number; hold?: boolean } = {}, subscribers = 1) {
    await emails.pause();
    const job = await emails.add('welcome', data, {
      attempts: opts.attempts ?? 1,
      ...(opts.backoff ? { backoff: { type: 'fixed', delay: opts.backoff } } : {}),
    });
    const started = await stack.jobcast.tokenForJob(job);
    const ws = await watch(
      stack.url,
      Array.from({ length: subscribers }, () => started),
    );
    watchers.push(...ws);
    if (!opts.hold) await emails.resume();
    return { job, started, ws };
  }

  it('progress, one completed and the rendered partial; a late subscriber and the status API see it finished', async () => {
    const { job, started, ws } = await follow({ steps: 10, stepMs: 100, shape: 'object' });
    assert.equal(started.jobId, `emails:${job.id}`);
    assert.equal(started.channel, `job:emails:${job.id}`);
    const [w] = ws;
    const seen: unknown[] = [];
    w!.subscription.on('progress', (e) => seen.push(e.data));
    await waitFor(() => w!.done, 'the outcome', 20_000);
    assert.deepEqual(outcomesOf(w!), ['completed']);
    // Ten reports, 100 ms apart; a watcher that lags may skip those superseded in the same read
    // (a stall of the test process can put several in one), never add one.
    const count = w!.events.filter((e) => e === 'progress').length;
    assert.ok(count >= 2 && count <= 10, `progress events: ${w!.events.join(',')}`);
    assert.ok(w!.events.includes('active'));
    // An object's percentage, stage and message drive the view; its other fields travel as data.
    assert.deepEqual(seen.at(-1), { pct: 100, stage: 'Sending 10 of 10', message: '10 sent', data: { batch: 10 } });

    const partial = await fetch(`${stack.url}/jobcast/jobs/${encodeURIComponent(started.jobId)}/partial`, {
      headers: { authorization: `Bearer ${started.token}` },
    });
    assert.equal(partial.status, 200);
    assert.equal(await partial.text(), '<p class="sent">Sent 10 emails</p>');

    const [late] = await watch(stack.url, [started]);
    watchers.push(late!);
    await waitFor(() => late!.done, 'the late subscriber to see the outcome');
    assert.deepEqual(outcomesOf(late!), ['completed']);

    const status = await fetch(`${stack.url}/jobcast/jobs/${started.jobId}`, { headers: { authorization: `Bearer ${started.token}` } });
    const body = (await status.json()) as { state: string; result: unknown; partialUrl: string };
    assert.equal(body.state, 'completed');
    assert.deepEqual(body.result, { sent: 10 });
    assert.equal(body.partialUrl, `/jobcast/jobs/${encodeURIComponent(started.jobId)}/partial`);
  });

  it('a number is a percentage; a subscriber whose connection is cut mid-job misses nothing', async () => {
    const proxy = await TcpProxy.start([Number(new URL(stack.url).port)]);
    try {
      await emails.pause();
      const job = await emails.add('welcome', { steps: 20, stepMs: 60 });
      const started = await stack.jobcast.tokenForJob(job);
      const [w] = await watch(proxy.url, [started]);
      watchers.push(w!);
      const pcts: unknown[] = [];
      w!.subscription.on('progress', (e) => pcts.push((e.data as { pct: unknown }).pct));
      await emails.resume();
      await waitFor(() => pcts.length >= 5, 'some progress');
      assert.ok(proxy.cut() > 0, 'the connection was cut');
      await waitFor(() => w!.done, 'the outcome after reconnecting', 20_000);
      assert.ok(w!.catchUps.length >= 1, 'it reconnected');
      assert.deepEqual(
        w!.offsets,
        Array.from({ length: w!.offsets.length }, (_, i) => w!.offsets[0]! + i),
        'every offset once, in order',
      );
      assert.deepEqual(
        pcts,
        [...new Set(pcts)].sort((a, b) => Number(a) - Number(b)),
        'each value once, only forward',
      );
      assert.equal(pcts.at(-1), 100);
      assert.deepEqual(outcomesOf(w!), ['completed']);
    } finally {
      await proxy.close();
    }
  });

  it('retries with backoff show as retrying; a job that fails every attempt ends in one failed', async () => {
    // Held until the listeners are on, so no retry comes before them.
    const retried = await follow({ steps: 2, stepMs: 10, failAttempts: 2 }, { attempts: 3, backoff: 300, hold: true });
    const failing = await follow({ steps: 2, stepMs: 10, failForGood: true }, { attempts: 2, backoff: 200, hold: true });
    const retries: { attempt: number; attempts: number; error: string; retryAt: number | null }[] = [];
    retried.ws[0]!.subscription.on('retrying', (e) => retries.push(e.data as (typeof retries)[number]));
    let failed: unknown;
    failing.ws[0]!.subscription.on('failed', (e) => (failed = e.data));
    await emails.resume();
    await waitFor(() => retried.ws[0]!.done && failing.ws[0]!.done, 'both outcomes', 20_000);

    assert.deepEqual(outcomesOf(retried.ws[0]!), ['completed']);
    assert.deepEqual(
      retries.map((r) => [r.attempt, r.attempts]),
      [
        [2, 3],
        [3, 3],
      ],
    );
    assert.match(retries[0]!.error, /mail server said no \(attempt 1\)/);
    assert.ok(
      retries.every((r) => typeof r.retryAt === 'number' && r.retryAt > Date.now() - 60_000),
      'when the next attempt starts',
    );

    assert.deepEqual(outcomesOf(failing.ws[0]!), ['failed']);
    assert.equal(failing.ws[0]!.events.filter((e) => e === 'retrying').length, 1);
    assert.deepEqual(failed, { error: 'mail server said no (attempt 2)', attempts: 2, retryable: false });
  });

  it('cancel: a waiting job is removed; a running one cannot be stopped when the workers do not take cancel requests', async () => {
    const waiting = await follow({ steps: 2 }, { hold: true });
    const cancelled = await fetch(`${stack.url}/jobcast/jobs/${waiting.started.jobId}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${waiting.started.token}` },
    });
    assert.equal(cancelled.status, 202);
    assert.deepEqual(await cancelled.json(), { jobId: waiting.started.jobId, state: 'cancelled' });
    await waitFor(() => waiting.ws[0]!.done, 'cancelled');
    assert.deepEqual(outcomesOf(waiting.ws[0]!), ['cancelled']);
    assert.equal(await emails.getJob(waiting.job.id!), undefined, 'removed from the queue');
    await emails.resume();

    const running = await follow({ steps: 20, stepMs: 50 });
    await waitFor(() => running.ws[0]!.events.includes('progress'), 'running');
    const refused = await fetch(`${stack.url}/jobcast/jobs/${running.started.jobId}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${running.started.token}` },
    });
    assert.equal(refused.status, 409);
    assert.match(
      ((await refused.json()) as { error: { message: string } }).error.message,
      /already running, and the workers of queue emails cannot be told to stop it/,
    );
    await waitFor(() => running.ws[0]!.done, 'it finishes on its own', 20_000);
    assert.deepEqual(outcomesOf(running.ws[0]!), ['completed']);
  });

  it('jobcast status prints a watched job (JOBCAST_WATCH_QUEUES)', async () => {
    const job = await emails.add('welcome', { steps: 2, stepMs: 50 });
    const started = await stack.jobcast.tokenForJob(job);
    const [w] = await watch(stack.url, [started]);
    watchers.push(w!);
    await waitFor(() => w!.done, 'the outcome');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'status', started.jobId], {
      env: {
        ...process.env,
        REDIS_URL: stack.redisUrl,
        JOBCAST_PREFIX: stack.prefix,
        JOBCAST_SECRET: TEST_SECRET,
        JOBCAST_WATCH_QUEUES: 'emails',
        JOBCAST_WATCH_PREFIX: bullPrefix,
        LOG_LEVEL: 'silent',
      },
      timeout: 20_000,
    });
    assert.match(stdout, new RegExp(`^welcome ${started.jobId}: completed \\(100%\\), attempt 1 of 1`));
  });

  it('clear errors: a job id not in the queue, a queue not watched, an id that is not a watched job', async () => {
    await assert.rejects(stack.jobcast.tokenForJob({ queueName: 'emails', id: 'nope' }), {
      status: 404,
      message: `no job "nope" in queue emails (prefix ${bullPrefix})`,
    });
    await assert.rejects(stack.jobcast.tokenForJob({ queueName: 'reports', id: '1' }), {
      status: 404,
      message: /queue "reports" is not watched; call jobcast.watchQueue\("reports"\) first/,
    });
    await assert.rejects(stack.jobcast.status('reports:1'), { status: 404 });
    const status = await fetch(`${stack.url}/jobcast/jobs/emails:a%20b`, { headers: { authorization: 'Bearer x' } });
    assert.equal(status.status, 400);
    assert.throws(() => stack.jobcast.watchQueue('emails', { prefix: 'elsewhere' }), /already watched/);
  });

  it('a queue that does not exist yet is watched anyway, with a log line saying where to look', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const jc = createJobcast({ redisUrl: stack.redisUrl, secret: TEST_SECRET, keyPrefix: stack.prefix, logger });
    try {
      await jc.watchQueue('not-yet', { prefix: bullPrefix }).ready;
      assert.ok(
        lines.some((l) =>
          l.includes(
            `queue not-yet (prefix ${bullPrefix}) has no keys in this Redis yet; watching it anyway. If your producers use another Redis or prefix, pass { connection, prefix }`,
          ),
        ),
        lines.join('\n'),
      );
    } finally {
      await jc.close();
    }
  });
});

describe('watched queue: a worker SIGKILLed mid-job, and two watching processes', () => {
  let stack: TestStack;
  let second: Jobcast;
  let bullPrefix: string;
  let queue: Queue;
  let connection: Redis;
  const workers: BullWorkerProcess[] = [];
  const watchers: Watcher[] = [];

  before(async () => {
    stack = await startStack({ worker: false, jobs: [] });
    bullPrefix = `${stack.prefix}bull`;
    queue = new Queue('kills', { connection: (connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null })), prefix: bullPrefix });
    // A second jobcast process's worth of watching: same Redis and key prefix, its own connections.
    second = createJobcast({ redisUrl: stack.redisUrl, secret: TEST_SECRET, keyPrefix: stack.prefix, logger: createLogger('silent') });
    await Promise.all([
      stack.jobcast.watchQueue('kills', { prefix: bullPrefix, leaseMs: 1500 }).ready,
      second.watchQueue('kills', { prefix: bullPrefix, leaseMs: 1500 }).ready,
    ]);
  });
  after(async () => {
    closeAll(watchers);
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await queue.close();
    connection.disconnect();
    await second.close();
    await stack.close();
  });

  it('every subscriber sees the stall and exactly the outcome BullMQ records, once; with two watchers each event is published once', async () => {
    const env = { REDIS_URL: stack.redisUrl, QUEUE: 'kills', BULL_PREFIX: bullPrefix, STALLED_MS: '1000' };
    const doomed = await startBullWorker(env);
    workers.push(doomed);
    const jobs = await Promise.all([1, 2, 3].map(() => queue.add('long', { steps: 20, stepMs: 100 })));
    const started = await Promise.all(jobs.map((j) => stack.jobcast.tokenForJob(j)));
    const ws = await watch(
      stack.url,
      started.flatMap((s) => [s, s, s]),
    );
    watchers.push(...ws);
    // Progress of the run after the stall, per subscriber.
    const pcts = new Map<Watcher, number[]>(ws.map((w) => [w, []]));
    for (const w of ws) w.subscription.on('progress', (e) => void (w.events.includes('stalled') && pcts.get(w)!.push((e.data as { pct: number }).pct)));
    await waitFor(() => ws.every((w) => w.events.filter((e) => e === 'progress').length >= 3), 'every job running');
    doomed.child.kill('SIGKILL');
    workers.push(await startBullWorker(env));
    await waitFor(() => ws.every((w) => w.done), 'every subscriber to see an outcome', 30_000);
    // Give a second, wrong outcome the time to show up if the design allowed one.
    await new Promise((r) => setTimeout(r, 1500));
    for (const [i, s] of started.entries()) {
      const recorded = await jobs[i]!.getState();
      const status = await stack.jobcast.status(s.jobId);
      for (const w of ws.filter((x) => x.channel === s.channel)) {
        assert.deepEqual(outcomesOf(w), [recorded], `${s.jobId}: exactly the outcome BullMQ recorded`);
        assert.equal(status.state, recorded);
        assert.ok(w.events.includes('stalled'), `${s.jobId}: the stall was shown`);
        assert.equal(new Set(w.offsets).size, w.offsets.length, 'no duplicates');
        // Two watchers, one publisher at a time: after the stall the second run's progress
        // comes once each (a value twice would be an event published twice), up to 100 %.
        const afterStall = w.events.slice(w.events.lastIndexOf('stalled'));
        assert.equal(afterStall.filter((e) => e === 'active').length, 1, `${s.jobId}: ${afterStall.join(',')}`);
        const second = pcts.get(w)!;
        assert.deepEqual(
          second,
          [...new Set(second)].sort((a, b) => a - b),
          `${s.jobId}: each progress once: ${second.join(',')}`,
        );
        assert.equal(second.at(-1), 100);
      }
    }
  });
});

describe('watched queue with cancelRunning: workers that opt in stop a running job from the page', () => {
  let stack: TestStack;
  let queue: Queue;
  let connection: Redis;
  let worker: BullWorkerProcess | undefined;
  const watchers: Watcher[] = [];

  before(async () => {
    stack = await startStack({ worker: false, jobs: [] });
    const prefix = `${stack.prefix}bull`;
    queue = new Queue('exports', { connection: (connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null })), prefix });
    await stack.jobcast.watchQueue('exports', { prefix, cancelRunning: true }).ready;
    worker = await startBullWorker({ REDIS_URL: stack.redisUrl, QUEUE: 'exports', BULL_PREFIX: prefix, CANCELLABLE: '1' });
  });
  after(async () => {
    closeAll(watchers);
    await worker?.stop('SIGKILL');
    await queue.close();
    connection.disconnect();
    await stack.close();
  });

  it('a running job ends cancelled (not failed), with the reason, once', async () => {
    const job = await queue.add('export', { steps: 100, stepMs: 50 }, { attempts: 3 });
    const started = await stack.jobcast.tokenForJob(job);
    const [w] = await watch(stack.url, [started]);
    watchers.push(w!);
    await waitFor(() => w!.events.filter((e) => e === 'progress').length >= 2, 'running');
    assert.deepEqual(await stack.jobcast.cancel(started.jobId, 'not needed any more'), { jobId: started.jobId, state: 'cancelling' });
    let reason: unknown;
    w!.subscription.on('cancelled', (e) => (reason = (e.data as { reason: string }).reason));
    await waitFor(() => w!.done, 'cancelled', 15_000);
    assert.deepEqual(outcomesOf(w!), ['cancelled']);
    assert.equal(reason, 'not needed any more');
    assert.equal(await job.getState(), 'failed', 'BullMQ recorded the stopped run as failed; the page says cancelled');
    assert.equal((await stack.jobcast.status(started.jobId)).state, 'cancelled');
  });
});
