import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { connect, type JobcastConnection } from '../../client/connection.js';
import type { EventContext } from '../../client/subscription.js';
import { type JobOutcome, trackJob } from '../../client/track-job.js';
import { jobChannel } from '../../shared/channels.js';
import { countJob, flakyJob, startStack, type TestStack } from '../helpers/stack.js';
import { deferred, FLUSH_EVENT, flushChannel, waitFor } from '../helpers/wait.js';

describe('the whole path: start → worker → Redis → gateway → client → partial', () => {
  let stack: TestStack;
  let jc: JobcastConnection;
  before(async () => {
    stack = await startStack();
    jc = connect({ url: stack.url });
  });
  after(async () => {
    jc.close();
    await stack.close();
  });

  it('delivers ordered progress, one completed, and the rendered partial', async () => {
    const started = await stack.jobcast.start(countJob, { steps: 20, stepMs: 5, label: 'flow' }, { owner: 'alice' });
    assert.equal(started.channel, jobChannel(started.jobId));
    const events: EventContext[] = [];
    const sub = jc.channel(started.channel, { token: started.token });
    sub.on('*', (e) => events.push(e));
    await sub.subscribe();
    await waitFor(() => events.some((e) => e.event === 'completed'), 'the completed event');

    const offsets = events.map((e) => e.offset);
    assert.deepEqual(
      offsets,
      [...offsets].sort((a, b) => a - b),
      'offsets arrive in order',
    );
    assert.equal(new Set(offsets).size, offsets.length, 'no duplicates');
    const pcts = events.filter((e) => e.event === 'progress').map((e) => (e.data as { pct: number }).pct);
    assert.ok(pcts.length >= 1);
    assert.deepEqual(
      pcts,
      [...pcts].sort((a, b) => a - b),
      'progress never goes back',
    );
    assert.equal(pcts.at(-1), 100);
    assert.equal(events.filter((e) => e.event === 'completed').length, 1, 'exactly one outcome');
    sub.unsubscribe();

    const completed = events.find((e) => e.event === 'completed')!;
    const partialUrl = (completed.data as { partialUrl: string }).partialUrl;
    assert.equal(partialUrl, `/jobcast/jobs/${started.jobId}/partial`);
    const response = await fetch(stack.url + partialUrl, { headers: { authorization: `Bearer ${started.token}` } });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /Counted to 20 for flow/);
    assert.match(await sub.fetchPartial(stack.url), /Counted to 20 for flow/, 'the client fetches the partial with its token');

    const status = await fetch(`${stack.url}/jobcast/jobs/${started.jobId}?token=${started.token}`).then((r) => r.json());
    assert.equal(status.state, 'completed');
    assert.deepEqual(status.result, { counted: 20 });
    assert.equal(status.progress.pct, 100);
  });

  it('trackJob reports progress and calls onDone once with the outcome', async () => {
    const started = await stack.jobcast.start(countJob, { steps: 10, stepMs: 5 });
    const pcts: number[] = [];
    const done = deferred<JobOutcome>();
    let doneCalls = 0;
    await trackJob(jc, started.jobId, started.token, {
      onProgress: ({ pct }) => pcts.push(pct ?? -1),
      onDone: (outcome) => {
        doneCalls += 1;
        done.resolve(outcome);
      },
    });
    const outcome = await done.promise;
    assert.equal(outcome.state, 'completed');
    assert.equal(doneCalls, 1);
    assert.equal(pcts.at(-1), 100);
    jc.subscription(started.channel)?.unsubscribe();
  });

  it('shows a job that finished before anyone subscribed as finished (snapshot)', async () => {
    const started = await stack.jobcast.start(countJob, { steps: 5 });
    // Wait for the published outcome, not only BullMQ's record of it: the relay publishes it a moment later.
    await waitFor(async () => (await stack.jobcast.store.read(started.channel)).events.some((e) => e.event === 'completed'), 'the job to complete');
    const seen: EventContext[] = [];
    const sub = jc.channel(started.channel, { token: started.token });
    sub.on('*', (e) => seen.push(e));
    const states: { state: string; recovered?: boolean }[] = [];
    sub.onState((s) => states.push(s));
    await sub.subscribe();
    assert.deepEqual(
      seen.map((e) => e.event),
      ['active', 'progress', 'completed'],
      'the snapshot holds the newest lifecycle event, progress and outcome, in offset order',
    );
    assert.ok(seen.every((e) => e.replayed));
    assert.equal((seen[1]!.data as { pct: number }).pct, 100);
    assert.deepEqual(states.at(-1), { state: 'subscribed', recovered: false });
    assert.equal(sub.latest('completed')?.event, 'completed');
    sub.unsubscribe();
    sub.unsubscribe();
  });

  /** Subscribes before the job exists (own job id), so every event of it is seen live. */
  async function eventsOfJob(input: { failures: number }): Promise<EventContext[]> {
    const jobId = `flaky-${Math.random().toString(36).slice(2)}`;
    const token = await stack.jobcast.token([jobChannel(jobId)]);
    const events: EventContext[] = [];
    const sub = jc.channel(jobChannel(jobId), { token });
    sub.on('*', (e) => events.push(e));
    await sub.subscribe();
    await stack.jobcast.start(flakyJob, input, { jobId });
    await waitFor(() => events.some((e) => e.event === 'completed' || e.event === 'failed'), 'the outcome');
    // Anything after the outcome would be a bug: everything published before the marker has arrived.
    await flushChannel(stack.jobcast, jobChannel(jobId), () => events);
    sub.unsubscribe();
    return events.filter((e) => e.event !== FLUSH_EVENT);
  }

  it('shows each retry with attempt, total and error, then the outcome', async () => {
    const events = await eventsOfJob({ failures: 1 });
    const names = events.map((e) => e.event).filter((n) => n !== 'progress');
    assert.deepEqual(names, ['queued', 'active', 'retrying', 'active', 'completed']);
    const retrying = events.find((e) => e.event === 'retrying')!.data as { attempt: number; attempts: number; error: string; retryAt: number | null };
    assert.equal(retrying.attempt, 2);
    assert.equal(retrying.attempts, 3);
    assert.match(retrying.error, /upstream said no \(attempt 1\)/);
    assert.ok(retrying.retryAt === null || retrying.retryAt > 0);
  });

  it('ends a job whose retries are exhausted with exactly one failed event', async () => {
    const events = await eventsOfJob({ failures: 5 });
    const outcomes = events.filter((e) => ['completed', 'failed', 'cancelled'].includes(e.event));
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.event, 'failed');
    assert.deepEqual(outcomes[0]!.data, { error: 'upstream said no (attempt 3)', attempts: 3, retryable: false });
    assert.equal(events.filter((e) => e.event === 'retrying').length, 2);
  });

  it('lets many subscribers follow the same job, each receiving every event once', async () => {
    const started = await stack.jobcast.start(countJob, { steps: 30, stepMs: 10 });
    const clients = Array.from({ length: 5 }, () => connect({ url: stack.url }));
    try {
      const runs = clients.map(async (client) => {
        const seen: number[] = [];
        const done = deferred<void>();
        const sub = client.channel(started.channel, { token: started.token });
        sub.on('*', (e) => {
          seen.push(e.offset);
          if (e.event === 'completed') done.resolve();
        });
        await sub.subscribe();
        await done.promise;
        return seen;
      });
      for (const seen of await Promise.all(runs)) {
        assert.equal(new Set(seen).size, seen.length, 'no duplicates');
        assert.deepEqual(
          seen,
          [...seen].sort((a, b) => a - b),
          'in order',
        );
      }
    } finally {
      for (const client of clients) client.close();
    }
  });
});
