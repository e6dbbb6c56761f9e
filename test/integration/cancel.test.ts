import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { connect, type JobcastConnection } from '../../client/connection.js';
import type { EventContext } from '../../client/subscription.js';
import { jobChannel } from '../../shared/constants.js';
import { countJob, startStack, type TestStack } from '../helpers/stack.js';
import { flushChannel, waitFor } from '../helpers/wait.js';

describe('cancellation: from the HTTP API with a token that grants it', () => {
  let stack: TestStack;
  let idle: TestStack;
  let jc: JobcastConnection;
  before(async () => {
    [stack, idle] = await Promise.all([startStack(), startStack({ worker: false })]);
    jc = connect({ url: stack.url });
  });
  after(async () => {
    jc.close();
    await Promise.all([stack.close(), idle.close()]);
  });

  const cancel = (s: TestStack, jobId: string, token: string) =>
    fetch(`${s.url}/jobcast/jobs/${jobId}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });

  it('stops a running job: its handler is aborted and subscribers get one cancelled', async () => {
    const jobId = `cancel-${Math.random().toString(36).slice(2, 8)}`;
    const token = await stack.jobcast.token([jobChannel(jobId)], { rights: ['subscribe', 'cancel'] });
    const events: EventContext[] = [];
    const sub = jc.channel(jobChannel(jobId), { token });
    sub.on('*', (e) => events.push(e));
    await sub.subscribe();
    await stack.jobcast.start(countJob, { steps: 500, stepMs: 20 }, { jobId });
    await waitFor(() => events.filter((e) => e.event === 'progress').length >= 3, 'the job to be under way');

    const response = await cancel(stack, jobId, token);
    assert.equal(response.status, 202);
    assert.deepEqual(await response.json(), { jobId, state: 'cancelling' });
    await waitFor(() => events.some((e) => e.event === 'cancelled'), 'the cancelled event');
    await flushChannel(stack.jobcast, jobChannel(jobId), () => events);
    const outcomes = events.filter((e) => ['completed', 'failed', 'cancelled'].includes(e.event));
    assert.deepEqual(
      outcomes.map((e) => e.event),
      ['cancelled'],
    );
    assert.deepEqual(outcomes[0]!.data, { reason: 'cancelled by the user' });
    const progressCount = events.filter((e) => e.event === 'progress').length;
    assert.ok(progressCount < 500, 'the handler stopped');
    assert.equal((await stack.jobcast.status(jobId)).state, 'cancelled');

    const again = await cancel(stack, jobId, token);
    assert.equal(again.status, 409);
    assert.match((await again.json()).error.message, /already cancelled/);
    sub.unsubscribe();
  });

  it('removes a job still waiting for a worker', async () => {
    const started = await idle.jobcast.start(countJob, { steps: 3 });
    const response = await cancel(idle, started.jobId, started.token);
    assert.deepEqual(await response.json(), { jobId: started.jobId, state: 'cancelled' });
    assert.equal(await idle.jobcast.queues.queue('count').getJob(started.jobId), undefined);
    const read = await idle.jobcast.store.read(started.channel);
    assert.equal(read.events.at(-1)?.event, 'cancelled');
  });

  it('refuses without the cancel right (403), for finished jobs (409) and unknown ones (404); nothing changes', async () => {
    const started = await stack.jobcast.start(countJob, { steps: 300, stepMs: 10 });
    const watchOnly = await stack.jobcast.token([started.channel], { rights: ['subscribe'] });
    assert.equal((await cancel(stack, started.jobId, watchOnly)).status, 403);
    assert.equal((await cancel(stack, started.jobId, 'garbage')).status, 401);
    assert.notEqual((await stack.jobcast.status(started.jobId)).state, 'cancelled');
    await stack.jobcast.cancel(started.jobId);

    const done = await stack.jobcast.start(countJob, { steps: 1 });
    await waitFor(async () => (await stack.jobcast.status(done.jobId)).state === 'completed', 'the job to complete');
    const finished = await cancel(stack, done.jobId, done.token);
    assert.equal(finished.status, 409);
    assert.match((await finished.json()).error.message, /already completed/);
    assert.equal((await stack.jobcast.status(done.jobId)).state, 'completed');

    const ghost = await stack.jobcast.token(['job:ghost'], { rights: ['cancel'] });
    assert.equal((await cancel(stack, 'ghost', ghost)).status, 404);
  });
});
