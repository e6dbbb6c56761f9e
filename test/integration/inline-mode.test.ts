import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { startStack, type TestStack } from '../helpers/stack.js';
import { countJob, flakyJob } from '../helpers/test-jobs.js';

describe("inline mode: an app's tests need no worker process", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ inline: true, worker: false });
  });
  after(() => stack.close());

  const history = async (channel: string) => {
    const { epoch } = await stack.jobcast.store.read(channel);
    return (await stack.jobcast.store.read(channel, { epoch, offset: 0 })).events;
  };

  it('start() runs the job at once and resolves when it finished, with the same events, status and partial', async () => {
    const started = await stack.jobcast.start(countJob, { steps: 3, label: 'inline' });
    const events = await history(started.channel);
    assert.deepEqual(
      events.map((e) => e.event),
      ['queued', 'active', 'progress', 'progress', 'progress', 'completed'],
    );
    const status = await stack.jobcast.status(started.jobId);
    assert.equal(status.state, 'completed');
    assert.deepEqual(status.result, { counted: 3 });
    const partial = await fetch(`${stack.url}${status.partialUrl}?token=${started.token}`);
    assert.match(await partial.text(), /Counted to 3 for inline/);
    assert.equal(await stack.jobcast.queues.queue('count').count(), 0, 'nothing was queued for a worker');
  });

  it('retries and failures behave as with a worker', async () => {
    const recovered = await stack.jobcast.start(flakyJob, { failures: 1 });
    assert.deepEqual(
      (await history(recovered.channel)).map((e) => e.event).filter((e) => e !== 'progress'),
      ['queued', 'active', 'retrying', 'active', 'completed'],
    );
    const failed = await stack.jobcast.start(flakyJob, { failures: 5 });
    const events = await history(failed.channel);
    assert.equal(events.at(-1)?.event, 'failed');
    assert.deepEqual(events.at(-1)?.data, { error: 'upstream said no (attempt 3)', attempts: 3, retryable: false });
    assert.equal((await stack.jobcast.status(failed.jobId)).state, 'failed');
  });
});
