import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import Pusher from 'pusher';

import { connect, type JobcastConnection } from '../../client/connection.js';
import type { EventContext } from '../../client/subscription.js';
import { AppRegistry } from '../../server/apps/apps.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { FLUSH_EVENT, flushChannel, waitFor } from '../helpers/wait.js';

const APP = { id: '4242', key: 'app-key-1', secret: 'app-secret-0123456789', enabled: true };
const OTHER = { id: 'other', key: 'other-key', secret: 'other-secret-0123456789', enabled: true };
const OFF = { id: 'off', key: 'off-key', secret: 'off-secret-0123456789ab', enabled: false };

/** The SDK sends `body` as JSON; its typings say string, so objects pass through here. */
const post = (client: Pusher, path: string, body: object) => client.post({ path, body: body as unknown as string });

describe('the official pusher server SDK, pointed at jobcast', () => {
  let stack: TestStack;
  let pusher: Pusher;
  let jc: JobcastConnection;
  const url = () => new URL(stack.url);

  before(async () => {
    stack = await startStack({ apps: new AppRegistry(APP, [OTHER, OFF]) });
    pusher = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: url().hostname, port: url().port, useTLS: false });
    jc = connect({ url: stack.url });
  });
  after(async () => {
    jc.close();
    await stack.close();
  });

  async function listen(channel: string, connection = jc): Promise<EventContext[]> {
    const seen: EventContext[] = [];
    const sub = connection.channel(channel, { token: await stack.jobcast.token([channel]) });
    sub.on('*', (e) => seen.push(e));
    await sub.subscribe();
    return seen;
  }

  it('trigger to one channel, then to several: subscribers get the events in order', async () => {
    const one = await listen('orders');
    const many = await Promise.all(['news-a', 'news-b', 'news-c'].map((c) => listen(c)));
    await pusher.trigger('orders', 'order-shipped', { id: 7, items: ['a'] });
    await pusher.trigger(['news-a', 'news-b', 'news-c'], 'headline', { text: 'hello' });
    await pusher.trigger('orders', 'order-delivered', { id: 7 });
    await waitFor(() => one.length === 2 && many.every((m) => m.length === 1), 'the events');
    assert.deepEqual(
      one.map((e) => [e.event, e.offset]),
      [
        ['order-shipped', 1],
        ['order-delivered', 2],
      ],
    );
    assert.deepEqual(one[0]!.data, { id: 7, items: ['a'] });
    for (const m of many) assert.deepEqual(m[0]!.data, { text: 'hello' });
  });

  it('triggerBatch publishes up to ten events, in order, through the same log', async () => {
    const seen = await listen('batch');
    await pusher.triggerBatch(Array.from({ length: 10 }, (_, i) => ({ channel: 'batch', name: 'step', data: { i } })));
    await waitFor(() => seen.length === 10, 'ten events');
    assert.deepEqual(
      seen.map((e) => (e.data as { i: number }).i),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    const read = await stack.jobcast.store.read('batch', { epoch: seen[0]!.epoch, offset: 0 });
    assert.equal(read.recovered, true, 'recoverable like any other event');
    assert.equal(read.events.length, 10);
  });

  it('leaves out the connection named by socket_id', async () => {
    const other = connect({ url: stack.url });
    try {
      const mine = await listen('chat');
      const theirs = await listen('chat', other);
      await waitFor(() => jc.socketId, 'the connection id');
      await pusher.trigger('chat', 'message', { text: 'from me' }, { socket_id: jc.socketId! });
      await pusher.trigger('chat', 'message', { text: 'to all' });
      await waitFor(() => theirs.length === 2 && mine.length === 1, 'delivery');
      assert.deepEqual(
        mine.map((e) => e.data),
        [{ text: 'to all' }],
        'the sender did not get its own event, and saw no gap',
      );
    } finally {
      other.close();
    }
  });

  it('answers channel info with subscription counts across the gateway', async () => {
    const a = connect({ url: stack.url });
    const b = connect({ url: stack.url });
    try {
      await listen('lobby', a);
      await listen('lobby', b);
      await waitFor(async () => {
        const res = await pusher.get({ path: '/channels/lobby', params: { info: 'subscription_count' } });
        return ((await res.json()) as { subscription_count: number }).subscription_count === 2;
      }, 'the count to reach 2');
      const list = (await (await pusher.get({ path: '/channels', params: { filter_by_prefix: 'lob', info: 'subscription_count' } })).json()) as {
        channels: Record<string, { subscription_count: number }>;
      };
      assert.deepEqual(list.channels, { lobby: { subscription_count: 2 } });
    } finally {
      a.close();
      b.close();
    }
  });

  it('refuses oversized events with 413 and publishes nothing', async () => {
    await assert.rejects(pusher.trigger('big', 'x', { blob: 'y'.repeat(11_000) }), (e: { status?: number }) => e.status === 413);
    assert.equal((await stack.jobcast.store.read('big')).offset, 0);
  });

  it("keeps apps apart: another app cannot publish to or read this app's channels", async () => {
    const mine = await listen('shared-name');
    const other = new Pusher({ appId: OTHER.id, key: OTHER.key, secret: OTHER.secret, host: url().hostname, port: url().port, useTLS: false });
    await other.trigger('shared-name', 'hello', { from: 'other' });
    const res = await post(other, '/tokens', { channels: ['shared-name'] });
    const { channels } = (await res.json()) as { channels: string[] };
    assert.deepEqual(channels, ['app:other:shared-name'], "the other app's channel is its own");
    assert.equal((await stack.jobcast.store.read('app:other:shared-name')).offset, 1);
    // Had the other app's event landed on this channel, it would come before the marker.
    await flushChannel(stack.jobcast, 'shared-name', () => mine);
    assert.deepEqual(
      mine.map((e) => e.event),
      [FLUSH_EVENT],
      "this app's subscribers saw nothing",
    );
    const cross = new Pusher({ appId: APP.id, key: OTHER.key, secret: OTHER.secret, host: url().hostname, port: url().port, useTLS: false });
    await assert.rejects(cross.trigger('shared-name', 'x', {}), (e: { status?: number }) => e.status === 401, "another app's key cannot sign for this app");
  });

  it('starts, reads and cancels jobs over the signed API; another app sees no such job', async () => {
    const res = await post(pusher, '/jobs/count', { steps: 500, stepMs: 20 });
    assert.equal(res.status, 202);
    const started = (await res.json()) as { jobId: string; channel: string; token: string };
    const status = (await (await pusher.get({ path: `/jobs/${started.jobId}` })).json()) as { name: string };
    assert.equal(status.name, 'count');
    const other = new Pusher({ appId: OTHER.id, key: OTHER.key, secret: OTHER.secret, host: url().hostname, port: url().port, useTLS: false });
    await assert.rejects(other.get({ path: `/jobs/${started.jobId}` }), (e: { status?: number }) => e.status === 404);
    const cancelled = await post(pusher, `/jobs/${started.jobId}/cancel`, {});
    assert.equal(cancelled.status, 202);
    await waitFor(async () => (await stack.jobcast.status(started.jobId)).state === 'cancelled', 'the job to be cancelled');
    const bad = post(pusher, '/jobs/count', { steps: 'lots' });
    await assert.rejects(bad, (e: { status?: number; body?: string }) => e.status === 400 && /steps/.test(e.body ?? ''));
  });

  describe('signatures: each refused with the right status, nothing published', () => {
    /** Signs like the SDK does, with knobs to get it wrong. */
    function signed(options: { secret?: string; timestamp?: number; body?: string; tamperBody?: string; appId?: string; key?: string } = {}) {
      const appId = options.appId ?? APP.id;
      const body = options.body ?? JSON.stringify({ name: 'ev', channel: 'sig', data: '{"ok":true}' });
      const path = `/apps/${appId}/events`;
      const query: Record<string, string> = {
        auth_key: options.key ?? APP.key,
        auth_timestamp: String(options.timestamp ?? Math.floor(Date.now() / 1000)),
        auth_version: '1.0',
        body_md5: createHash('md5').update(body).digest('hex'),
      };
      const toSign = Object.keys(query)
        .sort()
        .map((k) => `${k}=${query[k]}`)
        .join('&');
      query.auth_signature = createHmac('sha256', options.secret ?? APP.secret)
        .update(`POST\n${path}\n${toSign}`)
        .digest('hex');
      return () =>
        fetch(`${stack.url}${path}?${new URLSearchParams(query)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: options.tamperBody ?? body,
        });
    }

    it('accepts a correct signature once; a replay, a wrong secret, a stale clock or an altered body get 401; an unknown or disabled app 403', async () => {
      const good = signed();
      assert.equal((await good()).status, 200);
      assert.equal((await good()).status, 401, 'replay');
      assert.equal((await signed({ secret: 'wrong-secret-0123456789' })()).status, 401);
      assert.equal((await signed({ timestamp: Math.floor(Date.now() / 1000) - 3600 })()).status, 401, 'stale timestamp');
      assert.equal((await signed({ tamperBody: JSON.stringify({ name: 'ev', channel: 'sig', data: '{"ok":false}' }) })()).status, 401, 'altered body');
      assert.equal((await signed({ appId: 'nope' })()).status, 403);
      assert.equal((await signed({ appId: OFF.id, key: OFF.key, secret: OFF.secret })()).status, 403);
      assert.equal((await stack.jobcast.store.read('sig')).offset, 1, 'only the good request published');
    });
  });
});

describe('write limits per app key', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ apps: new AppRegistry(APP, [OTHER]), triggersPerSecond: 20 });
  });
  after(() => stack.close());

  it('past the rate, 429 with the time to wait; other apps keep publishing', async () => {
    const { hostname, port } = new URL(stack.url);
    const client = (app: typeof APP) => new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: hostname, port, useTLS: false });
    let refusal = '';
    // 100 at once against 20 a second: even a burst straddling three windows has 40 refused.
    const statuses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        client(APP)
          .trigger('busy', 'tick', { i })
          .then(
            (r) => r.status,
            (e: { status?: number; body?: string }) => ((refusal = e.body ?? ''), e.status),
          ),
      ),
    );
    const limited = statuses.filter((s) => s === 429).length;
    console.log(`rate: 100 writes at once → ${statuses.filter((s) => s === 200).length} accepted, ${limited} got 429`);
    assert.ok(limited >= 40, `${limited} limited`);
    assert.ok(statuses.every((s) => s === 200 || s === 429));
    assert.match(refusal, /"code":"jobcast:rate-limited".*"retryAfterMs":\d+/);
    assert.equal((await client(OTHER).trigger('calm', 'tick', {})).status, 200);
  });
});
