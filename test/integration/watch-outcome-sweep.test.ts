import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

import { channelKeys } from '../../server/channels/keys.js';
import { jobChannel } from '../../shared/channels.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A burst far bigger than the queue's event stream, finished while nobody watched: the
 * events that said so are gone, and every page that follows one of these jobs still gets its
 * outcome (from the outcome sweep, which reads BullMQ's finished sets).
 */
describe('watched queue: outcomes whose events the stream dropped', () => {
  const JOBS = 1500;
  let stack: TestStack;
  let connection: Redis;
  let queue: Queue;

  before(async () => {
    stack = await startStack({ worker: false, jobs: [] });
    connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    // A stream that holds a few hundred events: most of this burst's are trimmed unread.
    queue = new Queue('burst', { connection, prefix: `${stack.prefix}bull`, streams: { events: { maxLen: 100 } } });
  });
  after(async () => {
    await queue.close();
    connection.disconnect();
    await stack.close();
  });

  it('every followed job gets its outcome, more than one page of them, and the app keeps its stream length', async () => {
    await queue.pause();
    const jobs = await queue.addBulk(Array.from({ length: JOBS }, (_, i) => ({ name: 'burst', data: { i }, opts: { attempts: 1 } })));
    // Every job has a page open: its channel says queued (as the watcher said, earlier).
    const channels = jobs.map((job) => jobChannel(`burst:${job.id}`));
    for (let i = 0; i < channels.length; i += 100) {
      await Promise.all(channels.slice(i, i + 100).map((channel) => stack.jobcast.store.append(channel, 'queued', { job: 'burst', attempts: 1 })));
    }
    const worker = new Worker('burst', async (job) => (job.data.i % 10 === 0 ? Promise.reject(new Error('bad input')) : { ok: job.data.i }), {
      connection,
      prefix: `${stack.prefix}bull`,
      concurrency: 100,
    });
    await queue.resume();
    await waitFor(async () => {
      const counts = await queue.getJobCounts('completed', 'failed');
      return counts.completed! + counts.failed! === JOBS;
    }, 'the burst to finish');
    await worker.close();

    const watched = stack.jobcast.watchQueue('burst', { prefix: `${stack.prefix}bull` });
    await watched.ready;
    const outcomes = async () => {
      const pipeline = connection.pipeline();
      for (const channel of channels) pipeline.hget(channelKeys(stack.prefix, channel).meta, 's:outcome');
      return ((await pipeline.exec()) ?? []).map(([, envelope]) => (envelope ? (JSON.parse(String(envelope)) as { event: string }).event : null));
    };
    await waitFor(async () => (await outcomes()).every(Boolean), 'every followed job to get its outcome', 60_000);
    const seen = await outcomes();
    assert.equal(seen.filter((e) => e === 'failed').length, JOBS / 10);
    assert.equal(seen.filter((e) => e === 'completed').length, JOBS - JOBS / 10);
    // Watching did not rewrite the queue's own settings.
    assert.equal(await connection.hget(`${stack.prefix}bull:burst:meta`, 'opts.maxLenEvents'), '100');
  });
});
