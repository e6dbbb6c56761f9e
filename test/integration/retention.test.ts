import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Redis } from 'ioredis';

import { channelKeys } from '../../server/channels/keys.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';

const JOBS = 10_000;

describe('retention: 10,000 jobs and Redis comes back to a bounded size', () => {
  let stack: TestStack;
  let redis: Redis;
  before(async () => {
    stack = await startStack({ retentionSeconds: 2, retentionCount: 200, concurrency: 50 });
    redis = new Redis(stack.redisUrl);
  });
  after(async () => {
    redis.disconnect();
    await stack.close();
  });

  const keys = async () => {
    let n = 0;
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${stack.prefix}*`, 'COUNT', 5000);
      cursor = next;
      n += batch.length;
    } while (cursor !== '0');
    return n;
  };

  it('keeps at most the configured count of finished jobs, and lets channel state expire', async () => {
    const started = Date.now();
    for (let i = 0; i < JOBS; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, JOBS - i) }, () => stack.jobcast.start(countJob, { steps: 1 })));
    }
    const queue = stack.jobcast.queues.queue('count');
    await waitFor(
      async () => {
        const counts = await queue.getJobCounts('waiting', 'active');
        return (counts.waiting ?? 0) + (counts.active ?? 0) === 0;
      },
      'every job to run',
      120_000,
    );
    const peak = await keys();
    // Channel state expires after the retention; BullMQ trims finished jobs to the count.
    // A job that ends after every other: once its channel expired, all of them are past the retention.
    const last = await stack.jobcast.start(countJob, { steps: 1 });
    await waitFor(async () => (await stack.jobcast.status(last.jobId)).state === 'completed', 'the last job to complete');
    await waitFor(async () => (await redis.exists(channelKeys(stack.prefix, last.channel).meta)) === 0, 'the last channel to expire', 30_000);
    await stack.jobcast.start(countJob, { steps: 1 }); // a completion makes BullMQ apply the limits
    await waitFor(async () => (await keys()) < 1000, 'Redis to come back to a bounded key count', 30_000);
    const settled = await keys();
    const completed = (await queue.getJobCounts('completed')).completed ?? 0;
    console.log(
      `retention: ${JOBS} jobs in ${((Date.now() - started) / 1000).toFixed(1)} s; keys at the end of the run ${peak}, after retention ${settled}; completed jobs kept ${completed}`,
    );
    assert.ok(completed <= 201, `completed jobs kept: ${completed}`);
    assert.ok(settled < 1000, `keys: ${settled}`);
  });
});
