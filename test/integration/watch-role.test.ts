import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

import { watchLeaseKey } from '../../server/channels/keys.js';
import { configFromEnv } from '../../server/config.js';
import { type BullWorkerProcess, startBullWorker } from '../helpers/bullmq-worker.js';
import { type RoleProcess, startRole } from '../helpers/processes.js';
import { deleteKeys } from '../helpers/redis.js';
import { startStack, TEST_SECRET, type TestStack } from '../helpers/stack.js';
import { closeAll, followBullJob, type Watcher } from '../helpers/watchers.js';

/**
 * `jobcast watch` publishes a watched queue's events from a process of its own; the serving
 * process (here the SDK with `publish: false`, as the roles do with JOBCAST_WATCH_IN=watch)
 * still mints the tokens and serves the pages, and never publishes.
 */
describe('the watch role: publishing watched queues from a process of its own', () => {
  let stack: TestStack;
  let connection: Redis;
  let queue: Queue;
  let bullPrefix: string;
  let watcher: RoleProcess | undefined;
  let worker: BullWorkerProcess | undefined;
  let otherWatcher: RoleProcess | undefined;
  let otherWorker: BullWorkerProcess | undefined;
  /** "Another Redis" for the queue: another database of the test Redis, so its keys are apart. */
  let queueRedisUrl: string;
  const watchers: Watcher[] = [];

  before(async () => {
    stack = await startStack({ worker: false, jobs: [] });
    bullPrefix = `${stack.prefix}bull`;
    connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    queue = new Queue('reports', { connection, prefix: bullPrefix });
    await stack.jobcast.watchQueue('reports', { prefix: bullPrefix, publish: false }).ready;
    const url = new URL(stack.redisUrl);
    url.pathname = '/7';
    queueRedisUrl = url.toString();
  });
  after(async () => {
    closeAll(watchers);
    await worker?.stop('SIGKILL');
    await watcher?.stop('SIGKILL');
    await otherWorker?.stop('SIGKILL');
    await otherWatcher?.stop('SIGKILL');
    await deleteKeys(queueRedisUrl, stack.prefix);
    await queue.close();
    connection.disconnect();
    await stack.close();
  });

  const env = () => ({
    REDIS_URL: stack.redisUrl,
    JOBCAST_PREFIX: stack.prefix,
    JOBCAST_SECRET: TEST_SECRET,
    JOBCAST_WATCH_QUEUES: 'reports',
    JOBCAST_WATCH_PREFIX: bullPrefix,
  });

  it('JOBCAST_WATCH_IN says who publishes: the serving roles by default, or only `jobcast watch`', () => {
    assert.equal(configFromEnv({}).watchQueues.in, 'serving');
    assert.equal(configFromEnv({ JOBCAST_WATCH_IN: 'watch' }).watchQueues.in, 'watch');
    assert.throws(() => configFromEnv({ JOBCAST_WATCH_IN: 'workers' }), /JOBCAST_WATCH_IN/);
  });

  it('refuses to start with nothing to watch, saying what to set', async () => {
    const { JOBCAST_WATCH_QUEUES: _unset, ...rest } = env();
    await assert.rejects(startRole('watch', rest), /nothing to watch: set JOBCAST_WATCH_QUEUES/);
  });

  it("a page follows an unmodified BullMQ worker's job through the watch process; the serving process publishes nothing", async () => {
    watcher = await startRole('watch', env());
    worker = await startBullWorker({ REDIS_URL: stack.redisUrl, QUEUE: 'reports', BULL_PREFIX: bullPrefix });
    await followBullJob(stack.url, stack.jobcast, queue, { steps: 4, stepMs: 30 }, watchers);
    // The one publisher is the watch process: it holds the lease, this process never asked.
    const holder = await connection.get(watchLeaseKey(stack.prefix, bullPrefix, 'reports'));
    assert.match(holder ?? '', new RegExp(`:${watcher.child.pid}:`));
  });

  it("JOBCAST_WATCH_REDIS_URL: the queue lives in another Redis, the channel log stays in jobcast's", async () => {
    assert.throws(() => stack.jobcast.watchQueue('ledger', { connection: '127.0.0.1:6379' }), /pass a redis:\/\/ or rediss:\/\/ URL/);
    assert.throws(() => configFromEnv({ JOBCAST_WATCH_REDIS_URL: '127.0.0.1:6379' }), /JOBCAST_WATCH_REDIS_URL/);
    const queueConnection = new Redis(queueRedisUrl, { maxRetriesPerRequest: null });
    const ledger = new Queue('ledger', { connection: queueConnection, prefix: bullPrefix });
    try {
      await stack.jobcast.watchQueue('ledger', { prefix: bullPrefix, publish: false, connection: queueRedisUrl }).ready;
      otherWatcher = await startRole('watch', { ...env(), JOBCAST_WATCH_QUEUES: 'ledger', JOBCAST_WATCH_REDIS_URL: queueRedisUrl });
      otherWorker = await startBullWorker({ REDIS_URL: queueRedisUrl, QUEUE: 'ledger', BULL_PREFIX: bullPrefix });
      const { job, started } = await followBullJob(stack.url, stack.jobcast, ledger, { steps: 3, stepMs: 20 }, watchers);
      // The queue's keys are only in its own Redis; the job's channel only in jobcast's.
      const channelMeta = `${stack.prefix}{job:${started.jobId}}:meta`;
      assert.equal(await connection.exists(channelMeta), 1);
      assert.equal(await queueConnection.exists(channelMeta), 0);
      assert.equal(await connection.exists(`${bullPrefix}:ledger:${job.id}`), 0);
      assert.equal(await queueConnection.exists(`${bullPrefix}:ledger:${job.id}`), 1);
    } finally {
      await ledger.close();
      queueConnection.disconnect();
    }
  });
});
