import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type JobcastConnection } from '../../client/connection.js';
import type { EventContext } from '../../client/subscription.js';
import { trackJob, type JobOutcome } from '../../client/track-job.js';
import { jobChannel } from '../../shared/channels.js';
import { countJob, startStack, type TestStack } from '../helpers/stack.js';
import { deferred, waitFor } from '../helpers/wait.js';

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
    assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'offsets arrive in order');
    assert.equal(new Set(offsets).size, offsets.length, 'no duplicates');
    const pcts = events.filter((e) => e.event === 'progress').map((e) => (e.data as { pct: number }).pct);
    assert.ok(pcts.length >= 1);
    assert.deepEqual(pcts, [...pcts].sort((a, b) => a - b), 'progress never goes back');
    assert.equal(pcts.at(-1), 100);
    assert.equal(events.filter((e) => e.event === 'completed').length, 1, 'exactly one outcome');
    sub.unsubscribe();

    const completed = events.find((e) => e.event === 'completed')!;
    const partialUrl = (completed.data as { partialUrl: string }).partialUrl;
    assert.equal(partialUrl, `/jobcast/jobs/${started.jobId}/partial`);
    const response = await fetch(stack.url + partialUrl, { headers: { authorization: `Bearer ${started.token}` } });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /Counted to 20 for flow/);

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
    await waitFor(async () => (await stack.jobcast.status(started.jobId)).state === 'completed', 'the job to complete');
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
        assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'in order');
      }
    } finally {
      for (const client of clients) client.close();
    }
  });
});
