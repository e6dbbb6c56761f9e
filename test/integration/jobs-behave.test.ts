import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { ConflictError } from '../../server/errors.js';
import { jobChannel } from '../../shared/constants.js';
import { startStack, TEST_USER, type TestStack } from '../helpers/stack.js';
import { exportJob, pickyJob, reportJob, slowpokeJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';

describe('jobs that behave: uniqueness and time limits', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  const finished = (jobId: string) =>
    waitFor(async () => ['completed', 'failed', 'cancelled'].includes((await stack.jobcast.status(jobId)).state), `job ${jobId} to finish`, 15_000);

  it('a duplicate start while one runs joins it: same job, same channel, a token of its own', async () => {
    const account = `acct-${Math.random().toString(36).slice(2, 8)}`;
    const first = await stack.jobcast.start(reportJob, { account });
    const second = await stack.jobcast.start(reportJob, { account });
    assert.equal(second.jobId, first.jobId);
    assert.equal(second.channel, first.channel);
    const other = await stack.jobcast.start(reportJob, { account: `${account}-b` });
    assert.notEqual(other.jobId, first.jobId, 'another key is another job');
    assert.equal(
      (await stack.jobcast.queues.queue('report').getJobs(['waiting', 'active', 'delayed', 'completed'])).filter((j) => j.data.account === account).length,
      1,
    );
    await finished(first.jobId);
    const later = await stack.jobcast.start(reportJob, { account });
    assert.notEqual(later.jobId, first.jobId, 'once it finished, the key is free');
    await finished(later.jobId);
  });

  it('with onDuplicate reject, a duplicate is refused with 409 and nothing is queued', async () => {
    const account = `acct-${Math.random().toString(36).slice(2, 8)}`;
    const first = await stack.jobcast.start(exportJob, { account });
    await assert.rejects(
      stack.jobcast.start(exportJob, { account }),
      (e: unknown) => e instanceof ConflictError && e.status === 409 && e.message.includes(first.jobId),
    );
    const response = await fetch(`${stack.url}/jobcast/jobs/export`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...TEST_USER },
      body: JSON.stringify({ account }),
    });
    assert.equal(response.status, 409);
    await finished(first.jobId);
  });

  /** Every event of a job, read from its log once its outcome was published. */
  async function history(jobId: string) {
    await finished(jobId);
    // BullMQ records the outcome first; the relay publishes it a moment later.
    await waitFor(
      async () => (await stack.jobcast.store.read(jobChannel(jobId))).events.some((e) => ['completed', 'failed', 'cancelled'].includes(e.event)),
      'the outcome event',
    );
    const first = await stack.jobcast.store.read(jobChannel(jobId));
    return (await stack.jobcast.store.read(jobChannel(jobId), { epoch: first.epoch, offset: 0 })).events;
  }

  it('retryIf: an error not worth retrying ends the job at once, with one failed and no retrying', async () => {
    const started = await stack.jobcast.start(pickyJob, { transient: false });
    const events = await history(started.jobId);
    assert.deepEqual(
      events.map((e) => e.event),
      ['queued', 'active', 'failed'],
    );
    assert.equal((await stack.jobcast.status(started.jobId)).attemptsMade, 1);
  });

  it('a backoff function sets when the next attempt starts, and each retry says so', async () => {
    const started = await stack.jobcast.start(pickyJob, { transient: true });
    const events = await history(started.jobId);
    assert.deepEqual(
      events.map((e) => e.event),
      ['queued', 'active', 'retrying', 'active', 'retrying', 'active', 'failed'],
    );
    const waits = events.filter((e) => e.event === 'retrying').map((e) => (e.data as { retryAt: number }).retryAt - e.ts);
    assert.ok(waits[0]! >= 100 && waits[0]! <= 1000, `first retry after ~150 ms (${waits[0]})`);
    assert.ok(waits[1]! >= 250 && waits[1]! <= 1500, `second retry after ~300 ms (${waits[1]})`);
    assert.match((events.at(-1)!.data as { error: string }).error, /attempt 3/);
  });

  it('a job past its time limit fails with a timeout, even if its handler ignores the signal', async () => {
    const started = await stack.jobcast.start(slowpokeJob, {});
    await finished(started.jobId);
    const status = await stack.jobcast.status(started.jobId);
    assert.equal(status.state, 'failed');
    assert.match(status.error ?? '', /timed out after 300 ms/);
  });
});
