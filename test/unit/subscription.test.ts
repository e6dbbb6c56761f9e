import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Subscription, type SubscriptionTransport } from '../../client/subscription.js';
import type { ChannelEvent, SubscribeAck, SubscribeRequest } from '../../shared/protocol.js';

const ev = (offset: number, event = 'progress', epoch = 'e1'): ChannelEvent => ({ channel: 'c', epoch, offset, event, data: { pct: offset }, ts: 0 });

/** A transport whose acks the test answers by hand, to order acks and live events exactly. */
function transport() {
  const requests: { request: SubscribeRequest; answer: (ack: SubscribeAck) => void }[] = [];
  const unsubscribes: string[] = [];
  const t: SubscriptionTransport = {
    connected: true,
    subscribe: (request) => new Promise((answer) => requests.push({ request, answer })),
    unsubscribe: (channel) => void unsubscribes.push(channel),
    start: (sub) => sub.sync(),
    resync: (sub) => void sub.sync(),
    ack: () => {},
    forget: () => {},
  };
  return { t, requests, unsubscribes };
}

describe('client subscription: once, in order, no gaps', () => {
  it('holds live events that arrive before the ack continuation runs, and delivers them after', async () => {
    const { t, requests } = transport();
    const sub = new Subscription(t, 'c', 'token');
    const seen: number[] = [];
    sub.on('*', (e) => seen.push(e.offset));
    const subscribed = sub.subscribe();
    await Promise.resolve();
    // The ack and the next live event are handled in the same tick, as socket.io does for
    // packets read together.
    requests[0]!.answer({ ok: true, channel: 'c', epoch: 'e1', offset: 3, recovered: false, events: [ev(2, 'queued'), ev(3)] });
    sub.receive(ev(4));
    await subscribed;
    assert.deepEqual(seen, [2, 3, 4]);
  });

  it('drops duplicates and asks again from its position when it sees a gap', async () => {
    const { t, requests, unsubscribes } = transport();
    const sub = new Subscription(t, 'c', () => 'fresh-token');
    const seen: number[] = [];
    sub.on('*', (e) => seen.push(e.offset));
    const subscribed = sub.subscribe();
    await new Promise((r) => setImmediate(r));
    requests[0]!.answer({ ok: true, channel: 'c', epoch: 'e1', offset: 1, recovered: false, events: [ev(1)] });
    await subscribed;
    sub.receive(ev(1));
    sub.receive(ev(2));
    sub.receive(ev(5));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(unsubscribes, ['c'], 'a resync leaves the channel first');
    assert.deepEqual(requests[1]!.request, { channel: 'c', token: 'fresh-token', since: { epoch: 'e1', offset: 2 } });
    requests[1]!.answer({ ok: true, channel: 'c', epoch: 'e1', offset: 5, recovered: true, events: [ev(3), ev(4), ev(5)] });
    await new Promise((r) => setImmediate(r));
    sub.receive(ev(6));
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
  });

  it('takes a new epoch as a fresh start', async () => {
    const { t, requests } = transport();
    const sub = new Subscription(t, 'c', 'token', { epoch: 'old', offset: 40 });
    const seen: string[] = [];
    sub.on('*', (e) => seen.push(`${e.epoch}:${e.offset}:${e.replayed}`));
    const states: unknown[] = [];
    sub.onState((s) => states.push(s));
    const subscribed = sub.subscribe();
    await Promise.resolve();
    requests[0]!.answer({ ok: true, channel: 'c', epoch: 'new', offset: 2, recovered: false, events: [ev(2, 'completed', 'new')] });
    await subscribed;
    assert.deepEqual(seen, ['new:2:true']);
    assert.deepEqual(sub.position, { epoch: 'new', offset: 2 });
    assert.deepEqual(states.at(-1), { state: 'subscribed', recovered: false });
  });

  it('rejects on a refusal and unsubscribe is safe twice', async () => {
    const { t, requests } = transport();
    const sub = new Subscription(t, 'c', 'token');
    const subscribed = sub.subscribe();
    await Promise.resolve();
    requests[0]!.answer({ ok: false, error: { code: 'jobcast:unauthorized', message: 'no' } });
    await assert.rejects(subscribed, /no/);
    sub.unsubscribe();
    sub.unsubscribe();
    assert.equal(sub.state, 'unsubscribed');
  });

  it('gives each name its listeners and the newest event, `*` every event, and `off` stops one listener', async () => {
    const { t, requests } = transport();
    const sub = new Subscription(t, 'c', 'token');
    const seen: string[] = [];
    const onProgress = (e: { offset: number }) => void seen.push(`progress ${e.offset}`);
    const offProgress = sub.on('progress', onProgress);
    sub.on('progress', onProgress); // the same function twice is one listener
    const offOther = sub.on('progress', (e) => void seen.push(`other ${e.offset}`));
    sub.on('*', (e) => void seen.push(`* ${e.event} ${e.offset}`));
    sub.on('completed', (e) => void seen.push(`completed ${e.offset}`));
    const subscribed = sub.subscribe();
    await Promise.resolve();
    requests[0]!.answer({ ok: true, channel: 'c', epoch: 'e1', offset: 1, recovered: true, events: [ev(1)] });
    await subscribed;
    assert.equal(sub.latest('progress')?.offset, 1);
    assert.equal(sub.latest('progress')?.replayed, true);
    offOther();
    sub.receive(ev(2));
    offProgress();
    offProgress(); // safe twice
    sub.receive(ev(3));
    sub.receive(ev(4, 'completed'));
    assert.deepEqual(seen, ['progress 1', 'other 1', '* progress 1', 'progress 2', '* progress 2', '* progress 3', 'completed 4', '* completed 4']);
    assert.equal(sub.latest('progress')?.offset, 3, 'kept with no listener left');
    assert.equal(sub.latest('progress')?.replayed, false);
    assert.equal(sub.latest('completed')?.offset, 4);
    assert.equal(sub.latest('failed'), undefined);
    assert.deepEqual(sub.position, { epoch: 'e1', offset: 4 });
  });
});
