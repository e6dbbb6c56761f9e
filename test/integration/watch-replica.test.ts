import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

import { configFromEnv } from '../../server/config.js';
import { type BullWorkerProcess, startBullWorker } from '../helpers/bullmq-worker.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, followBullJob, type Watcher } from '../helpers/watchers.js';

/** Calls of `command` the server answered since it started (`INFO commandstats`). */
async function calls(redis: Redis, command: string): Promise<number> {
  const text = await redis.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(text)?.[1] ?? 0);
}

/**
 * `replica` (JOBCAST_WATCH_REPLICA_URL): the watcher reads a watched queue's events from a
 * read-only replica of the queue's Redis, so the primary the workers use answers none of its
 * reads. A real primary and replica, an unmodified BullMQ worker process, a real client.
 */
describe('watching a BullMQ queue from a replica of its Redis', () => {
  const primary = new OwnRedis();
  const replica = new OwnRedis();
  let stack: TestStack;
  let primaryRedis: Redis;
  let replicaRedis: Redis;
  let queue: Queue;
  let worker: BullWorkerProcess | undefined;
  const watchers: Watcher[] = [];

  before(async () => {
    await primary.start();
    replica.extraArgs = ['--replicaof', '127.0.0.1', String(primary.port)];
    await replica.start();
    primaryRedis = new Redis(primary.url, { maxRetriesPerRequest: null });
    replicaRedis = new Redis(replica.url);
    await waitFor(async () => (await replicaRedis.info('replication')).includes('master_link_status:up'), 'the replica to follow its primary', 20_000);
    stack = await startStack({ worker: false, jobs: [] });
    queue = new Queue('invoices', { connection: primaryRedis });
  });
  after(async () => {
    closeAll(watchers);
    await worker?.stop('SIGKILL');
    await queue.close();
    await stack.close();
    primaryRedis.disconnect();
    replicaRedis.disconnect();
    await replica.destroy();
    await primary.destroy();
  });

  it('JOBCAST_WATCH_REPLICA_URL is read, and refused when it is not a URL', () => {
    assert.equal(configFromEnv({ JOBCAST_WATCH_REPLICA_URL: 'redis://10.0.0.2:6379' }).watchQueues.replicaUrl, 'redis://10.0.0.2:6379');
    assert.throws(() => configFromEnv({ JOBCAST_WATCH_REPLICA_URL: '10.0.0.2' }), /JOBCAST_WATCH_REPLICA_URL/);
    assert.throws(
      () => stack.jobcast.watchQueue('invoices', { connection: primary.url, replica: '10.0.0.2:6379' }),
      /replica "10.0.0.2:6379" of queue invoices/,
    );
  });

  it("a page follows an unmodified BullMQ worker's job; the primary answers none of the watcher's reads", async () => {
    await stack.jobcast.watchQueue('invoices', { connection: primary.url, replica: replica.url }).ready;
    worker = await startBullWorker({ REDIS_URL: primary.url, QUEUE: 'invoices' });
    await followBullJob(stack.url, stack.jobcast, queue, { steps: 4, stepMs: 30 }, watchers);
    // The stream was read on the replica only: the primary never saw an XREAD.
    assert.ok((await calls(replicaRedis, 'xread')) > 0);
    assert.equal(await calls(primaryRedis, 'xread'), 0);
    assert.equal(await calls(primaryRedis, 'xreadgroup'), 0);
  });
});
