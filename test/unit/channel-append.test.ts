import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Redis } from 'ioredis';

import { channelKeys } from '../../server/channels/keys.js';
import { RedisChannelStore } from '../../server/channels/redis-channel-store.js';
import { cancelKeys } from '../../server/jobs/cancellation.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

/** What append-publish-4.lua does beyond the log itself: the guard, the TTL refresh, trimming. */
describe('append-publish-4.lua: the guarded append, TTLs and approximate trimming', () => {
  let redis: Redis;
  let url: string;
  const prefix = uniquePrefix('append3');
  const store = (historySize = 100) => new RedisChannelStore(redis, { prefix, historySize, retentionSeconds: 60 });
  const history = async (s: RedisChannelStore, channel: string) => {
    const { epoch } = await s.read(channel);
    return (await s.read(channel, { epoch, offset: 0 })).events;
  };

  before(async () => {
    url = await testRedisUrl();
    redis = new Redis(url);
  });
  after(async () => {
    redis.disconnect();
    await deleteKeys(url, prefix);
  });

  it('appends `active` while no cancel request is there, and `cancelled` with its reason (escaped) once one is', async () => {
    const s = store();
    const channel = 'job:guarded';
    const flag = cancelKeys(prefix, 'guarded').flag;
    const guard = { insteadIfSet: { key: flag, event: 'cancelled', field: 'reason' } };
    const active = await s.append(channel, 'active', { attempt: 1 }, guard);
    assert.equal(active?.event, 'active');
    assert.deepEqual(active?.data, { attempt: 1 });
    await redis.set(flag, 'stop "now" / ✓', 'EX', 60);
    const cancelled = await s.append(channel, 'active', { attempt: 2 }, guard);
    assert.equal(cancelled?.event, 'cancelled');
    assert.deepEqual(cancelled?.data, { reason: 'stop "now" / ✓' });
    // What was stored and published is what append returned; `cancelled` is an outcome.
    assert.deepEqual(
      (await history(s, channel)).map((e) => [e.event, e.data]),
      [
        ['active', { attempt: 1 }],
        ['cancelled', { reason: 'stop "now" / ✓' }],
      ],
    );
    assert.equal(await s.append(channel, 'active', { attempt: 3 }, guard), null, 'nothing after the outcome');
  });

  it('writes the timeline line in the same step, capped, with its TTL, and never fails the append for it', async () => {
    const s = store();
    const list = `${prefix}{job:timed}:timeline`;
    const record = (n: number) => ({ key: list, entry: JSON.stringify({ n }), max: 3, ttlSeconds: 30 });
    for (let n = 1; n <= 5; n++) assert.ok(await s.append('job:timed', 'note', { n }, { record: record(n) }));
    assert.deepEqual(
      (await redis.lrange(list, 0, -1)).map((l) => (JSON.parse(l) as { n: number }).n),
      [3, 4, 5],
    );
    assert.ok((await redis.ttl(list)) > 25);
    await redis.del(list);
    await redis.set(list, 'not a list');
    const stored = await s.append('job:timed', 'note', { n: 6 }, { record: record(6) });
    assert.equal(stored?.offset, 6, 'the event is stored even though the timeline write failed');
  });

  it('gives both keys the retention TTL on the first append, and keeps it on later ones', async () => {
    const s = store();
    await s.append('c:ttl', 'note', { n: 1 });
    const keys = channelKeys(prefix, 'c:ttl');
    for (const key of [keys.meta, keys.log]) assert.ok((await redis.ttl(key)) > 55, `${key} has the TTL`);
    await s.append('c:ttl', 'note', { n: 2 });
    for (const key of [keys.meta, keys.log]) assert.ok((await redis.ttl(key)) > 55, `${key} still has it`);
  });

  it('replays at most historySize events even though trimming is approximate', async () => {
    const s = store(10);
    for (let i = 1; i <= 150; i++) await s.append('c:trim', 'note', { i });
    const keys = channelKeys(prefix, 'c:trim');
    assert.ok((await redis.xlen(keys.log)) < 150, 'the log was trimmed');
    const { epoch } = await s.read('c:trim');
    const recent = await s.read('c:trim', { epoch, offset: 140 });
    assert.equal(recent.recovered, true);
    assert.deepEqual(
      recent.events.map((e) => e.offset),
      [141, 142, 143, 144, 145, 146, 147, 148, 149, 150],
    );
    const older = await s.read('c:trim', { epoch, offset: 139 });
    assert.equal(older.recovered, false, 'eleven missed is more than historySize: the snapshot instead');
  });
});
