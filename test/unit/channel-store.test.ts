import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Redis } from 'ioredis';

import { channelKeys } from '../../server/channels/keys.js';
import { RedisChannelStore } from '../../server/channels/redis-channel-store.js';
import { InvalidInputError, PayloadTooLargeError } from '../../server/errors.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

describe('channel log (append-publish-2.lua, read-since-2.lua) on a real Redis', () => {
  let redis: Redis;
  let url: string;
  const prefix = uniquePrefix('store');
  const store = () => new RedisChannelStore(redis, { prefix, historySize: 5, retentionSeconds: 60, maxEventBytes: 100 });

  before(async () => {
    url = await testRedisUrl();
    redis = new Redis(url);
  });
  after(async () => {
    redis.disconnect();
    await deleteKeys(url, prefix);
  });

  it('numbers events 1, 2, 3… within one epoch and publishes each', async () => {
    const s = store();
    const sub = new Redis(url);
    const live: string[] = [];
    await sub.subscribe(channelKeys(prefix, 'a').live);
    sub.on('message', (_c, m) => live.push(m));
    const first = await s.append('a', 'progress', { pct: 1 });
    const second = await s.append('a', 'note', { text: 'hi' });
    assert.equal(first?.offset, 1);
    assert.equal(second?.offset, 2);
    assert.equal(first?.epoch, second?.epoch);
    for (let i = 0; i < 50 && live.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    sub.disconnect();
    assert.deepEqual(
      live.map((m) => JSON.parse(m).offset),
      [1, 2],
    );
    assert.deepEqual(JSON.parse(live[1]!).data, { text: 'hi' });
  });

  it('replays exactly the events after a position while the log holds them', async () => {
    const s = store();
    const events = [];
    for (let i = 1; i <= 4; i++) events.push(await s.append('b', 'progress', { pct: i }));
    const epoch = events[0]!.epoch;
    const read = await s.read('b', { epoch, offset: 1 });
    assert.equal(read.recovered, true);
    assert.deepEqual(
      read.events.map((e) => e.offset),
      [2, 3, 4],
    );
    const upToDate = await s.read('b', { epoch, offset: 4 });
    assert.deepEqual([upToDate.recovered, upToDate.events.length, upToDate.offset], [true, 0, 4]);
  });

  it('answers with the snapshot and recovered=false once the log was trimmed past the position', async () => {
    const s = store();
    await s.append('job:c', 'queued', { job: 'x', attempts: 1 });
    const first = await s.append('job:c', 'progress', { pct: 0 });
    for (let i = 1; i <= 8; i++) await s.append('job:c', 'progress', { pct: i * 10 });
    await s.append('job:c', 'completed', { partialUrl: null, durationMs: 1 });
    const read = await s.read('job:c', { epoch: first!.epoch, offset: 1 });
    assert.equal(read.recovered, false);
    assert.deepEqual(
      read.events.map((e) => e.event),
      ['queued', 'progress', 'completed'],
    );
    assert.deepEqual(read.events[1]!.data, { pct: 80 });
    assert.equal(read.offset, 11);
  });

  it('keeps exactly one outcome: a second outcome and later lifecycle events are dropped', async () => {
    const s = store();
    assert.ok(await s.append('job:d', 'completed', { partialUrl: null, durationMs: 1 }));
    assert.equal(await s.append('job:d', 'failed', { error: 'x', attempts: 1, retryable: false }), null);
    assert.equal(await s.append('job:d', 'progress', { pct: 5 }), null);
    assert.ok(await s.append('job:d', 'custom-note', {}), 'custom events are never dropped');
    const reset = await s.append('job:d', 'queued', { job: 'x', attempts: 1 }, { reset: true });
    assert.ok(reset, 'a reset (job queued again) clears the outcome');
    const read = await s.read('job:d');
    assert.deepEqual(
      read.events.map((e) => e.event),
      ['custom-note', 'queued'],
    );
  });

  it('starts a new epoch when the channel was lost, and refuses a position from the future', async () => {
    const s = store();
    const before = await s.append('e', 'progress', { pct: 1 });
    await redis.del(channelKeys(prefix, 'e').meta, channelKeys(prefix, 'e').log);
    const after = await s.append('e', 'progress', { pct: 2 });
    assert.notEqual(after!.epoch, before!.epoch);
    assert.equal(after!.offset, 1);
    const read = await s.read('e', { epoch: before!.epoch, offset: 1 });
    assert.equal(read.recovered, false, 'a position from a lost epoch cannot be recovered');
    await assert.rejects(s.read('e', { epoch: after!.epoch, offset: 99 }), /ahead of channel/);
  });

  it("when Redis comes back behind what a writer appended (a failover lost the newest events), that writer's next event starts a new epoch", async () => {
    const writer = store();
    const events = [];
    for (let i = 1; i <= 5; i++) events.push((await writer.append('lost-tail', 'note', { i }))!);
    await loseNewest('lost-tail', 3);
    const next = await writer.append('lost-tail', 'note', { i: 6 });
    assert.notEqual(next!.epoch, events[0]!.epoch, 'offsets 4 and 5, which subscribers may have seen, are not given to other events');
    assert.equal(next!.offset, 4);
    const read = await writer.read('lost-tail', { epoch: events[0]!.epoch, offset: 5 });
    assert.equal(read.recovered, false, 'a subscriber of the old epoch gets the snapshot');
    assert.equal(read.epoch, next!.epoch);
    const again = await writer.append('lost-tail', 'note', { i: 7 });
    assert.deepEqual([again!.epoch, again!.offset], [next!.epoch, 5], 'and the new epoch goes on as usual');
  });

  it('a writer that never saw the lost events cannot tell: it continues the offsets, until the one that saw them writes', async () => {
    const seen = store();
    const first = await seen.append('lost-tail-other', 'note', { i: 1 });
    await seen.append('lost-tail-other', 'note', { i: 2 });
    await loseNewest('lost-tail-other', 1);
    const other = await store().append('lost-tail-other', 'note', { from: 'other' });
    assert.deepEqual([other!.epoch, other!.offset], [first!.epoch, 2], 'offset 2 is given again (the documented limit)');
    const back = await seen.append('lost-tail-other', 'note', { i: 3 });
    assert.equal(back!.epoch, first!.epoch, 'the channel is not behind this writer any more');
  });

  it('a gateway catching up from a position the channel no longer reaches moves it to a new epoch, which every writer then continues', async () => {
    const first = await store().append('lost-tail-gateway', 'note', { i: 1 });
    await store().append('lost-tail-gateway', 'note', { i: 2 });
    await loseNewest('lost-tail-gateway', 1);
    const seenUpTo = { epoch: first!.epoch, offset: 2 };
    await assert.rejects(store().read('lost-tail-gateway', seenUpTo), /ahead of channel/, "a client's position from the future is still refused");
    const read = await store().read('lost-tail-gateway', seenUpTo, { rebaseIfAhead: true });
    assert.notEqual(read.epoch, first!.epoch);
    assert.deepEqual([read.offset, read.recovered], [1, false]);
    const next = await store().append('lost-tail-gateway', 'note', { from: 'a writer that saw nothing' });
    assert.deepEqual([next!.epoch, next!.offset], [read.epoch, 2]);
  });

  /** Makes a channel what a promoted replica that had received only its first `kept` events holds. */
  async function loseNewest(channel: string, kept: number): Promise<void> {
    const keys = channelKeys(prefix, channel);
    const ids = (await redis.xrange(keys.log, '-', '+')).map(([id]) => id).filter((id) => Number(id.split('-')[0]) > kept);
    if (ids.length) await redis.xdel(keys.log, ...ids);
    await redis.xsetid(keys.log, `${kept}-0`);
    await redis.hset(keys.meta, 'offset', kept);
  }

  it('gives an empty channel a stable epoch that later appends continue', async () => {
    const s = store();
    const empty = await s.read('f');
    assert.deepEqual([empty.offset, empty.events.length], [0, 0]);
    const next = await s.append('f', 'hello', {});
    assert.equal(next!.epoch, empty.epoch);
    const read = await s.read('f', { epoch: empty.epoch, offset: 0 });
    assert.deepEqual([read.recovered, read.events.length], [true, 1]);
  });

  it('refuses oversized and non-JSON data, writing nothing', async () => {
    const s = store();
    await assert.rejects(s.append('g', 'big', { text: 'x'.repeat(200) }), PayloadTooLargeError);
    await assert.rejects(
      s.append('g', 'fn', () => 1),
      InvalidInputError,
    );
    assert.equal((await s.read('g')).offset, 0);
  });

  it('escapes channel and event names inside the envelope', async () => {
    const s = store();
    const event = await s.append('h', 'quote"and\\slash', { ok: true });
    assert.equal(event!.event, 'quote"and\\slash');
  });
});
