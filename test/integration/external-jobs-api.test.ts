import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { connect, type JobcastConnection } from '../../client/connection.js';
import type { EventContext } from '../../client/subscription.js';
import { ExternalJobs } from '../../server/external-jobs/external-jobs.js';
import { ADMIN_TOKEN, EXTERNAL_APP, OTHER_APP, send, sign, startExternalStack } from '../helpers/external-jobs.js';
import { waitFor } from '../helpers/wait.js';

/** The external-jobs API over HTTP, signed as the Ruby and Python helpers sign, against real Redis. */
describe('external jobs: the signed API for other job systems', () => {
  let stack: Awaited<ReturnType<typeof startExternalStack>>;
  let jc: JobcastConnection;
  const app = `/apps/${EXTERNAL_APP.id}/external-jobs`;
  let n = 0;
  const rid = () => `r-${++n}`;
  const post = (path: string, body: unknown) => send(sign(stack.url, 'POST', path, body));
  const report = (id: string, body: Record<string, unknown>) => post(`${app}/${id}/events`, { requestId: rid(), ...body });
  const open = (id: string, extra: Record<string, unknown> = {}) => post(app, { id, requestId: rid(), ...extra });

  before(async () => {
    stack = await startExternalStack({ maxPartialBytes: 1000 });
    jc = connect({ url: stack.url });
  });
  after(async () => {
    jc?.close();
    await stack?.close();
  });

  async function listen(channel: string, token: string): Promise<EventContext[]> {
    const seen: EventContext[] = [];
    const sub = jc.channel(channel, { token });
    sub.on('*', (e) => seen.push(e));
    await sub.subscribe();
    return seen;
  }

  it("opens a channel for the caller's id, idempotently, and reports reach a subscriber in order; the partial is served with the token", async () => {
    const first = await open('jid-1', { name: 'search', attempts: 2 });
    assert.equal(first.status, 201);
    assert.equal(first.body.created, true);
    assert.equal(first.body.jobId, ExternalJobs.jobIdOf(EXTERNAL_APP.id, 'jid-1'));
    assert.equal(first.body.channel, `job:${first.body.jobId}`);
    const again = await open('jid-1', { name: 'search', attempts: 2 });
    assert.equal(again.status, 200);
    assert.deepEqual([again.body.jobId, again.body.channel, again.body.created], [first.body.jobId, first.body.channel, false]);

    const seen = await listen(first.body.channel, again.body.token);
    await waitFor(() => seen.length === 1, 'the snapshot');
    assert.equal(seen[0]!.event, 'queued', 'opening twice published one queued');
    const sent: [string, Record<string, unknown>][] = [
      ['active', { attempt: 1 }],
      ['progress', { pct: 10, stage: 'Indexing' }],
      ['retrying', { attempt: 2, error: 'index busy', retryInSeconds: 1 }],
      ['active', { attempt: 2 }],
      ['progress', { pct: null, message: 'almost' }],
      ['completed', { html: '<p class="found">3 results</p>' }],
    ];
    for (const [type, body] of sent) {
      const answer = await report('jid-1', { type, ...body });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.event, type);
    }
    await waitFor(() => seen.length === 7, 'every event');
    assert.deepEqual(
      seen.map((e) => e.event),
      ['queued', 'active', 'progress', 'retrying', 'active', 'progress', 'completed'],
    );
    assert.deepEqual(
      seen.map((e) => e.offset),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(seen[3]!.data, { attempt: 2, attempts: 2, error: 'index busy', retryAt: (seen[3]!.data as { retryAt: number }).retryAt });
    assert.ok(Math.abs((seen[3]!.data as { retryAt: number }).retryAt - (Date.now() + 1000)) < 5000);
    assert.deepEqual(seen[5]!.data, { pct: null, message: 'almost' });
    const completed = seen[6]!.data as { partialUrl: string; durationMs: number };
    assert.equal(completed.partialUrl, `/jobcast/jobs/${first.body.jobId}/partial`);

    const partial = await fetch(`${stack.url}${completed.partialUrl}`, { headers: { authorization: `Bearer ${again.body.token}` } });
    assert.equal(partial.status, 200);
    assert.equal(await partial.text(), '<p class="found">3 results</p>');
    assert.equal((await fetch(`${stack.url}${completed.partialUrl}`)).status, 401, "the same token check as jobcast's own partials");

    const status = await send(sign(stack.url, 'GET', `${app}/jid-1`));
    assert.equal(status.status, 200);
    assert.equal(status.body.state, 'completed');
    assert.equal(status.body.name, 'search');
    assert.equal(status.body.id, 'jid-1');
    assert.equal(status.body.attemptsMade, 2);
    assert.equal(status.body.partialUrl, completed.partialUrl);
    assert.ok(status.body.createdAt <= status.body.startedAt && status.body.startedAt <= status.body.finishedAt);
    // What `jobcast status` and the admin console read.
    assert.deepEqual(await stack.jobcast.status(first.body.jobId), status.body);
    const timeline = await fetch(`${stack.url}/admin/api/jobs/${first.body.jobId}/timeline`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const { status: shown, entries } = (await timeline.json()) as {
      status: { state: string; id: string };
      entries: { what: string; detail: { event?: string } }[];
    };
    assert.deepEqual([shown.state, shown.id], ['completed', 'jid-1']);
    assert.deepEqual(
      entries.filter((e) => e.what === 'published').map((e) => e.detail.event),
      ['queued', 'active', 'progress', 'retrying', 'active', 'progress', 'completed'],
    );
    assert.ok(entries.some((e) => e.what === 'enqueued'));
    const live = await fetch(`${stack.url}/admin/api/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.match(await live.text(), new RegExp(first.body.channel), "the console's live stream carries them");
  });

  it('keeps exactly one outcome: a second outcome, progress or heartbeat after it is 409 and changes nothing', async () => {
    const { body: opened } = await open('jid-2');
    await report('jid-2', { type: 'progress', pct: 50 });
    assert.equal((await report('jid-2', { type: 'failed', error: 'disk full' })).status, 200);
    const before = await stack.jobcast.store.read(opened.channel);
    for (const body of [
      { type: 'completed', html: '<p>late</p>' },
      { type: 'failed', error: 'again' },
      { type: 'progress', pct: 90 },
      { type: 'active' },
      { type: 'heartbeat' },
    ]) {
      const answer = await report('jid-2', body);
      assert.equal(answer.status, 409, body.type);
      assert.equal(answer.body.error.code, 'jobcast:conflict');
    }
    assert.deepEqual(await stack.jobcast.store.read(opened.channel), before);
    assert.equal(await stack.jobcast.store.loadPartial(opened.channel), null, 'the refused completion stored no partial');
    const status = await stack.jobcast.status(opened.jobId);
    assert.deepEqual([status.state, status.error], ['failed', 'disk full']);
  });

  it('completes with a URL the browser fetches instead of a stored partial', async () => {
    const { body: opened } = await open('jid-url');
    const done = await report('jid-url', { type: 'completed', url: '/orders/7/receipt' });
    assert.equal(done.status, 200);
    const outcome = (await stack.jobcast.store.read(opened.channel)).events.find((e) => e.event === 'completed');
    assert.equal((outcome?.data as { partialUrl: string }).partialUrl, '/orders/7/receipt');
    assert.equal((await stack.jobcast.status(opened.jobId)).partialUrl, '/orders/7/receipt');
    assert.equal(await stack.jobcast.store.loadPartial(opened.channel), null);
  });

  it('applies a report retried with the same request id once, even when it is the identical signed request', async () => {
    const { body: opened } = await open('jid-3');
    const body = { type: 'progress', pct: 30, requestId: 'sidekiq-retry-1' };
    const signed = sign(stack.url, 'POST', `${app}/jid-3/events`, body);
    const first = await send(signed);
    assert.deepEqual(first, { status: 200, body: { jobId: opened.jobId, event: 'progress', offset: 2, duplicate: false } });
    const resent = await send(signed);
    assert.deepEqual(resent, { status: 200, body: { ...first.body, duplicate: true } }, 'the replayed signed request gets the first answer, not 401');
    const resigned = await send(sign(stack.url, 'POST', `${app}/jid-3/events`, body, EXTERNAL_APP, Math.floor(Date.now() / 1000) - 5));
    assert.deepEqual(resigned, { status: 200, body: { ...first.body, duplicate: true } });
    assert.equal((await stack.jobcast.store.read(opened.channel)).offset, 2, 'nothing appended twice');

    // Outcomes too: the completion's retry is answered, the partial stays the first one.
    const done = { type: 'completed', html: '<p>first</p>', requestId: 'done-1' };
    const completed = await send(sign(stack.url, 'POST', `${app}/jid-3/events`, done));
    assert.equal(completed.status, 200);
    const retried = await send(
      sign(stack.url, 'POST', `${app}/jid-3/events`, { ...done, html: '<p>second</p>' }, EXTERNAL_APP, Math.floor(Date.now() / 1000) - 3),
    );
    assert.deepEqual(retried.body, { ...completed.body, duplicate: true });
    assert.equal(await stack.jobcast.store.loadPartial(opened.channel), '<p>first</p>');

    // A refused report's signed request, sent again, meets the replay rule as every signed write does.
    const refused = sign(stack.url, 'POST', `${app}/jid-3/events`, { type: 'progress', pct: 99, requestId: 'late-1' });
    assert.equal((await send(refused)).status, 409);
    const replayed = await send(refused);
    assert.equal(replayed.status, 401);
    assert.match(replayed.body.error.message, /replay/);
    // And an open replayed as is would hand out a token: refused.
    const openTwice = sign(stack.url, 'POST', app, { id: 'jid-3b' });
    assert.equal((await send(openTwice)).status, 201);
    assert.equal((await send(openTwice)).status, 401);
  });

  it('refuses hostile and broken input with the right status, naming the field, changing nothing', async () => {
    const { body: opened } = await open('jid-4');
    const wrongSecret = { ...EXTERNAL_APP, secret: 'not-the-secret-0123456789' };
    const forged = await send(sign(stack.url, 'POST', `${app}/jid-4/events`, { type: 'progress', pct: 1, requestId: 'f' }, wrongSecret));
    assert.equal(forged.status, 401);
    assert.equal(forged.body.error.code, 'jobcast:unauthorized');
    const unsigned = await fetch(`${stack.url}${app}/jid-4/events`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(unsigned.status, 401);

    assert.equal((await report('nobody', { type: 'progress', pct: 1 })).status, 404);
    assert.equal((await send(sign(stack.url, 'GET', `${app}/nobody`))).status, 404);
    // Another app's job is as unknown as a missing one, over every endpoint.
    const theirs = send(sign(stack.url, 'POST', `/apps/${OTHER_APP.id}/external-jobs/jid-4/events`, { type: 'progress', pct: 1, requestId: 'o' }, OTHER_APP));
    assert.equal((await theirs).status, 404);

    const tooBig = await report('jid-4', { type: 'completed', html: 'x'.repeat(1001) });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error.code, 'jobcast:payload-too-large');

    const malformed: [string, unknown, string][] = [
      [`${app}/jid-4/events`, { requestId: 'm1' }, 'type'],
      [`${app}/jid-4/events`, { type: 'explode', requestId: 'm2' }, 'type'],
      [`${app}/jid-4/events`, { type: 'progress', pct: 150, requestId: 'm3' }, 'pct'],
      [`${app}/jid-4/events`, { type: 'progress', pct: 5 }, 'requestId'],
      [`${app}/jid-4/events`, { type: 'retrying', attempt: 2, requestId: 'm4' }, 'error'],
      [`${app}/jid-4/events`, { type: 'failed', error: '', requestId: 'm5' }, 'error'],
      [`${app}/jid-4/events`, { type: 'completed', url: 'javascript:alert(1)', requestId: 'm6' }, 'url'],
      [`${app}/jid-4/events`, { type: 'completed', url: '/r', html: '<p>', requestId: 'm7' }, 'url'],
      [`${app}/jid-4/events`, [1, 2], 'body'],
      [`${app}/bad%20id/events`, { type: 'progress', pct: 5, requestId: 'm8' }, 'id'],
      [app, { name: 'no id' }, 'id'],
      [app, { id: 'has space' }, 'id'],
      [app, { id: 'j', stalledAfterSeconds: 10, failedAfterSeconds: 5 }, 'failedAfterSeconds'],
      [app, { id: 'j', stalledAfterSeconds: -1 }, 'stalledAfterSeconds'],
    ];
    for (const [path, body, field] of malformed) {
      const answer = await post(path, body);
      assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, 'jobcast:invalid-input');
      assert.equal(answer.body.error.field, field, JSON.stringify(answer.body));
    }
    const notJson = await send({ ...sign(stack.url, 'POST', `${app}/jid-4/events`, '{"type":'), body: '{"type":' });
    assert.equal(notJson.status, 400);
    assert.equal((await stack.jobcast.store.read(opened.channel)).offset, 1, 'still just queued');
    assert.equal((await report('jid-4', { type: 'completed', html: '<p>fits</p>' })).status, 200, 'the job is still usable');
  });

  it('marks a silent job stalled, then failed, checked once across sweeping processes', async () => {
    const { body: opened } = await open('jid-5', { stalledAfterSeconds: 10, failedAfterSeconds: 20 });
    const t0 = Date.now();
    const jobs = stack.jobcast.externalJobs;
    assert.equal((await report('jid-5', { type: 'progress', pct: 5 })).status, 200);
    const heardAt = Date.now();
    assert.equal(await jobs.sweepDeadlines(t0 + 9_000), 0, 'nothing due yet');
    // Two processes sweeping at the same moment: the job is claimed by one.
    const counts = await Promise.all([jobs.sweepDeadlines(heardAt + 10_500), jobs.sweepDeadlines(heardAt + 10_500)]);
    assert.deepEqual(counts.sort(), [0, 1]);
    let events = (await stack.jobcast.store.read(opened.channel, { epoch: (await stack.jobcast.store.read(opened.channel)).epoch, offset: 0 })).events;
    assert.deepEqual(
      events.map((e) => e.event),
      ['queued', 'progress', 'stalled'],
    );
    assert.equal((await stack.jobcast.status(opened.jobId)).state, 'stalled');
    // Still silent, past the second deadline (claims of the first sweep have lapsed by then).
    assert.equal(await jobs.sweepDeadlines(heardAt + 41_000), 1);
    const snapshot = await stack.jobcast.store.read(opened.channel);
    events = (await stack.jobcast.store.read(opened.channel, { epoch: snapshot.epoch, offset: 0 })).events;
    assert.deepEqual(
      events.map((e) => e.event),
      ['queued', 'progress', 'stalled', 'failed'],
    );
    assert.match((events[3]!.data as { error: string }).error, /no report for \d+ s/);
    assert.equal((await stack.jobcast.status(opened.jobId)).state, 'failed');
    assert.equal((await report('jid-5', { type: 'completed', html: '<p>too late</p>' })).status, 409, 'the worker that comes back finds the outcome taken');
    assert.equal(await jobs.sweepDeadlines(heardAt + 100_000), 0, 'and the job left the schedule');
  });

  it('a report restarts the clock: a job that keeps reporting never stalls', async () => {
    const { body: opened } = await open('jid-6', { stalledAfterSeconds: 10 });
    const t0 = Date.now();
    await report('jid-6', { type: 'heartbeat' });
    assert.equal(await stack.jobcast.externalJobs.sweepDeadlines(t0 + 9_999), 0);
    await report('jid-6', { type: 'retrying', attempt: 2, error: 'busy', retryAt: t0 + 60_000 });
    // Waiting for the announced retry is not silence: the clock starts at the retry time.
    assert.equal(await stack.jobcast.externalJobs.sweepDeadlines(t0 + 65_000), 0);
    assert.equal(await stack.jobcast.externalJobs.sweepDeadlines(t0 + 70_500), 1);
    assert.equal((await stack.jobcast.status(opened.jobId)).state, 'stalled');
    await report('jid-6', { type: 'active', attempt: 2 });
    assert.equal((await stack.jobcast.status(opened.jobId)).state, 'active', 'a stalled job that reports again is running');
  });
});
