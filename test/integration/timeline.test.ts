import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { connect } from '../../client/connection.js';
import { jobChannel } from '../../shared/constants.js';
import { startStack, TEST_SECRET, type TestStack } from '../helpers/stack.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';

describe('the timeline of one job, across web, worker, gateway and browser', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  it('tells the story: enqueued by a request, started by a worker, published, delivered, acknowledged, partial fetched', async () => {
    const jobId = `tl-${Math.random().toString(36).slice(2, 8)}`;
    const token = await stack.jobcast.token([jobChannel(jobId)]);
    const jc = connect({ url: stack.url });
    try {
      const seen: string[] = [];
      const sub = jc.channel(jobChannel(jobId), { token });
      sub.on('*', (e) => seen.push(e.event));
      await sub.subscribe();
      await stack.jobcast.start(countJob, { steps: 2, label: 'story' }, { jobId, requestId: 'req-42' });
      await waitFor(() => seen.includes('completed'), 'completed');
      await sub.fetchPartial(stack.url);
      let timeline: Awaited<ReturnType<typeof stack.jobcast.timeline.read>> = [];
      await waitFor(async () => {
        timeline = await stack.jobcast.timeline.read(jobId, stack.jobcast.store);
        return timeline.some((e) => e.what === 'acknowledged') && timeline.some((e) => e.what === 'partial fetched');
      }, 'the whole story to be recorded');
      const whats = timeline.map((e) => e.what);
      assert.equal(whats[0], 'enqueued');
      assert.equal(timeline[0]!.detail.reqId, 'req-42', 'the request that started it');
      assert.ok(timeline.find((e) => e.what === 'started')?.detail.worker, 'which worker ran it');
      assert.deepEqual(
        timeline.filter((e) => e.what === 'published').map((e) => e.detail.event),
        ['queued', 'active', 'progress', 'progress', 'completed'],
      );
      const delivered = timeline.find((e) => e.what === 'delivered' && e.detail.event === 'completed');
      assert.deepEqual(delivered?.detail.connections, [jc.socketId], 'to which connection');
      assert.equal(timeline.find((e) => e.what === 'acknowledged')?.detail.connection, jc.socketId, 'the browser acknowledged it');
      assert.ok(whats.indexOf('partial fetched') > whats.lastIndexOf('published'));

      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'status', jobId], {
        env: {
          ...process.env,
          REDIS_URL: stack.redisUrl,
          JOBCAST_PREFIX: stack.prefix,
          JOBCAST_SECRET: TEST_SECRET,
          JOBCAST_DEMO: '0',
          JOBCAST_JOBS: 'test/helpers/test-jobs.ts',
          LOG_LEVEL: 'silent',
        },
      });
      assert.match(stdout, new RegExp(`count ${jobId}: completed`));
      for (const what of ['enqueued', 'started', 'published', 'delivered', 'acknowledged', 'partial fetched'])
        assert.match(stdout, new RegExp(`Z  ${what}`), what);
    } finally {
      jc.close();
    }
  });
});
