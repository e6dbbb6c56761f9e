import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';

import { Cluster, Redis } from 'ioredis';

import type { AppendItem } from '../../server/channels/channel-store.js';
import { channelKeys } from '../../server/channels/keys.js';
import { EAGER_BATCH_EVENTS, RedisChannelStore } from '../../server/channels/redis-channel-store.js';
import { InvalidInputError, PayloadTooLargeError } from '../../server/errors.js';
import type { ChannelEvent } from '../../shared/protocol.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { OwnRedisCluster } from '../helpers/redis-cluster.js';
import { waitFor } from '../helpers/wait.js';

const CHANNELS = ['job:a', 'job:b', 'job:c', 'job:d', 'job:e', 'news'];
const EVENTS = ['queued', 'active', 'progress', 'progress', 'progress', 'retrying', 'completed', 'failed', 'cancelled', 'note'];

/** A deterministic pseudo-random sequence (the same run every time, and a seed to vary it). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

/** Events over a few channels: lifecycle, progress, outcomes (often a second one), custom events, and put-backs. */
function script(seed: number, length: number): AppendItem[] {
  const next = random(seed);
  return Array.from({ length }, (_, i) => {
    const channel = CHANNELS[Math.floor(next() * CHANNELS.length)]!;
    const event = EVENTS[Math.floor(next() * EVENTS.length)]!;
    const reset = event === 'queued' && next() < 0.3;
    return { channel, event, data: { i, text: `"${i}" ✓` }, ...(reset ? { reset } : {}) };
  });
}

/**
 * Everything a reader or subscriber can observe of a channel: its log, its snapshot and
 * offset, whether both keys expire, and what was published; with epochs and timestamps
 * replaced by what is stable between two runs (the n-th epoch of the channel, no clock).
 */
async function observe(redis: Redis, prefix: string, channel: string, published: string[]) {
  const keys = channelKeys(prefix, channel);
  const epochs: string[] = [];
  const stable = (text: string) =>
    text
      .replace(/"epoch":"([^"]+)"/g, (_, e: string) => `"epoch":${epochs.includes(e) ? epochs.indexOf(e) : epochs.push(e) - 1}`)
      .replace(/"ts":\d+/g, '"ts":0');
  const meta = await redis.hgetall(keys.meta);
  const log = (await redis.xrange(keys.log, '-', '+')).map(([id, fields]) => `${id} ${stable(fields[1]!)}`);
  const live = published.map(stable);
  epochs.push(meta.epoch ?? '');
  const snapshot = Object.fromEntries(
    Object.entries(meta)
      .filter(([field]) => field !== 'x' && field !== 'epoch')
      .map(([field, value]) => [field, stable(value)]),
  );
  return {
    log,
    snapshot,
    epoch: epochs.indexOf(meta.epoch ?? ''),
    live,
    refreshedAt: 'x' in meta,
    expires: [(await redis.ttl(keys.meta)) > 0, (await redis.ttl(keys.log)) > 0],
  };
}

/** Collects what is published (or sharded-published) on the channels under `prefix`. */
async function listen(url: string, prefix: string, sharded: boolean) {
  const subscriber = new Redis(url);
  const published = new Map<string, string[]>();
  let count = 0;
  const heard = (live: string, message: string) => {
    const channel = CHANNELS.find((c) => channelKeys(prefix, c).live === live)!;
    published.set(channel, [...(published.get(channel) ?? []), message]);
    count++;
  };
  subscriber.on('message', heard);
  subscriber.on('smessage', heard);
  const lives = CHANNELS.map((c) => channelKeys(prefix, c).live);
  await (sharded ? subscriber.ssubscribe(...lives) : subscriber.subscribe(...lives));
  return { published, count: () => count, close: () => subscriber.disconnect() };
}

describe('append-batch-n.lua (RedisChannelStore.appendMany): many events in one call, each as append() stores it', () => {
  let redis: Redis;
  let url: string;
  const prefixes: string[] = [];
  const prefix = (name: string) => {
    const p = uniquePrefix(name);
    prefixes.push(p);
    return p;
  };
  const store = (p: string, options: { sharded?: boolean } = {}) =>
    new RedisChannelStore(redis, { prefix: p, historySize: 5, retentionSeconds: 60, maxEventBytes: 200, ...options });

  /** Two fresh prefixes, one for appends one by one and one for the way under test, each listened to. */
  async function twoWays(t: TestContext, name: string, sharded: boolean) {
    const one = prefix(`${name}-one`);
    const many = prefix(`${name}-many`);
    const [heardOne, heardMany] = await Promise.all([listen(url, one, sharded), listen(url, many, sharded)]);
    t.after(() => {
      heardOne.close();
      heardMany.close();
    });
    /** Once `published` events were heard on each side: every channel looks the same both ways. */
    async function assertSame(published: number) {
      await waitFor(() => heardOne.count() + heardMany.count() === 2 * published, 'every publish');
      for (const channel of CHANNELS) {
        assert.deepEqual(
          await observe(redis, many, channel, heardMany.published.get(channel) ?? []),
          await observe(redis, one, channel, heardOne.published.get(channel) ?? []),
          channel,
        );
      }
    }
    return { one, many, assertSame };
  }

  before(async () => {
    url = await testRedisUrl();
    redis = new Redis(url);
  });
  after(async () => {
    redis.disconnect();
    for (const p of prefixes) await deleteKeys(url, p);
  });

  for (const [seed, sharded] of [
    [1, false],
    [2, false],
    [3, true],
  ] as const) {
    it(`leaves every channel as one append() per event would, and returns the same (seed ${seed}${sharded ? ', one call per channel as on a cluster' : ''})`, async (t) => {
      const items = script(seed, 160);
      const { one, many, assertSame } = await twoWays(t, 'batch', sharded);
      const single = store(one, { sharded });
      const batched = store(many, { sharded });
      // Half the channels already have events, an outcome among them, before the batches.
      const before: AppendItem[] = [
        { channel: 'job:a', event: 'active', data: {} },
        { channel: 'job:b', event: 'completed', data: {} },
        { channel: 'news', event: 'note', data: {} },
      ];
      for (const item of before) {
        await single.append(item.channel, item.event, item.data);
        await batched.append(item.channel, item.event, item.data);
      }
      const storedOne: (ChannelEvent | null)[] = [];
      for (const item of items) storedOne.push(await single.append(item.channel, item.event, item.data, item.reset ? { reset: true } : {}));
      const storedMany = [];
      // Batches of every size, from one event to most of the run.
      const next = random(seed + 100);
      for (let i = 0; i < items.length;) {
        const size = 1 + Math.floor(next() * 60);
        storedMany.push(...(await batched.appendMany(items.slice(i, i + size))));
        i += size;
      }
      const shape = (e: (typeof storedOne)[number]) => e && { channel: e.channel, offset: e.offset, event: e.event, data: e.data };
      assert.deepEqual(storedMany.map(shape), storedOne.map(shape));
      assert.ok(
        storedOne.some((e) => e === null),
        'the run has events dropped after an outcome',
      );
      assert.ok(
        items.some((item, i) => item.reset && storedOne[i]?.offset),
        'and put-backs after one',
      );
      await assertSame(before.length + storedOne.filter(Boolean).length);
    });
  }

  it('returns the epoch and offset each event was stored under, with the data as stored', async () => {
    const s = store(prefix('returns'));
    const [a, b, c, d] = await s.appendMany([
      { channel: 'job:r1', event: 'queued', data: { job: 'x' } },
      { channel: 'job:r2', event: 'progress', data: { pct: 5, at: undefined } },
      { channel: 'job:r1', event: 'completed', data: null },
      { channel: 'job:r1', event: 'progress', data: { pct: 90 } },
    ]);
    assert.deepEqual([a?.offset, b?.offset, c?.offset, d], [1, 1, 2, null]);
    assert.deepEqual(b?.data, { pct: 5 }, 'JSON: undefined fields are not stored');
    const read = await s.read('job:r1', { epoch: a!.epoch, offset: 0 });
    assert.deepEqual(
      read.events.map((e) => [e.epoch, e.offset, e.event, e.ts]),
      [
        [a!.epoch, 1, 'queued', a!.ts],
        [c!.epoch, 2, 'completed', c!.ts],
      ],
    );
    assert.notEqual(a!.epoch, b!.epoch, 'each new channel its own epoch');
  });

  it('names up to 50 channels in one call (each by one character) and keeps every event on its own channel', async () => {
    const s = store(prefix('wide'));
    // 50 events make a call: these go out as three calls, each naming 50 channels (the last "R").
    const items: AppendItem[] = [
      ...Array.from({ length: 75 }, (_, i) => ({ channel: `job:w${i}`, event: 'progress', data: { pct: i % 100, i } })),
      ...Array.from({ length: 75 }, (_, i) => ({ channel: `job:w${i}`, event: 'completed', data: { i } })),
    ];
    const stored = await s.appendMany(items);
    assert.deepEqual(
      stored.map((e) => e && [e.channel, e.offset, e.event, (e.data as { i: number }).i]),
      items.map((item, k) => [item.channel, k < 75 ? 1 : 2, item.event, (item.data as { i: number }).i]),
    );
    for (const i of [0, 9, 10, 48, 49, 50, 74]) {
      const read = await s.read(`job:w${i}`, { epoch: stored[i]!.epoch, offset: 0 });
      assert.deepEqual(
        read.events.map((e) => [e.channel, e.offset, e.event, (e.data as { i: number }).i]),
        [
          [`job:w${i}`, 1, 'progress', i],
          [`job:w${i}`, 2, 'completed', i],
        ],
        `job:w${i}`,
      );
    }
  });

  it("when Redis comes back behind what it appended (a failover lost the newest events), the batch's next event on that channel starts a new epoch", async () => {
    const p = prefix('lost');
    const writer = store(p);
    const events = await writer.appendMany([1, 2, 3, 4, 5].map((i) => ({ channel: 'job:lost', event: 'note', data: { i } })));
    // What a promoted replica that had received only the first 3 events holds.
    const keys = channelKeys(p, 'job:lost');
    await redis.xdel(keys.log, '4-0', '5-0');
    await redis.hset(keys.meta, 'offset', 3);
    const [next, again, other] = await writer.appendMany([
      { channel: 'job:lost', event: 'note', data: { i: 6 } },
      { channel: 'job:lost', event: 'note', data: { i: 7 } },
      { channel: 'job:other', event: 'note', data: {} },
    ]);
    assert.notEqual(next!.epoch, events[0]!.epoch, 'offsets 4 and 5, which subscribers may have seen, are not given to other events');
    assert.deepEqual([next!.offset, again!.epoch, again!.offset, other!.offset], [4, next!.epoch, 5, 1]);
    assert.ok((await redis.ttl(keys.log)) > 55, 'the new log expires with the channel');
    const read = await writer.read('job:lost', { epoch: events[0]!.epoch, offset: 5 });
    assert.equal(read.recovered, false, 'a subscriber of the old epoch gets the snapshot');
    assert.deepEqual(
      (await redis.xrange(keys.log, '-', '+')).map(([id, fields]) => [id, (JSON.parse(fields[1]!) as { data: { i: number } }).data.i]),
      [
        ['4-0', 6],
        ['5-0', 7],
      ],
      'the new epoch has only its own events',
    );
  });

  it('refuses a batch with oversized or non-JSON data, writing nothing of it', async () => {
    const p = prefix('refuse');
    const s = store(p);
    const good = { channel: 'job:g', event: 'progress', data: { pct: 1 } };
    await assert.rejects(s.appendMany([good, { channel: 'job:g', event: 'note', data: { text: 'x'.repeat(300) } }]), PayloadTooLargeError);
    await assert.rejects(s.appendMany([good, { channel: 'job:g', event: 'note', data: () => 1 }]), InvalidInputError);
    assert.equal((await s.read('job:g')).offset, 0);
    assert.deepEqual(await s.appendMany([]), []);
  });

  it('keeps the TTL refresh of append(): both keys get the retention on the first batch and keep it', async () => {
    const p = prefix('ttl');
    const s = store(p);
    await s.appendMany([{ channel: 'job:t', event: 'queued', data: {} }]);
    const keys = channelKeys(p, 'job:t');
    await redis.expire(keys.meta, 10);
    await redis.expire(keys.log, 10);
    // Within 1% of the retention since the last refresh: none (as append-publish-4.lua).
    await s.appendMany([{ channel: 'job:t', event: 'active', data: {} }]);
    assert.ok((await redis.ttl(keys.meta)) <= 10);
    // The refresh mark is old: the batch refreshes both.
    await redis.hset(keys.meta, 'x', Date.now() - 60_000);
    await s.appendMany([{ channel: 'job:t', event: 'progress', data: {} }]);
    for (const key of [keys.meta, keys.log]) assert.ok((await redis.ttl(key)) > 55, `${key} has the retention again`);
  });

  it('coalescing (the worker store): appends issued in one tick go out together, a script call per 16, and leave every channel as one append() each', async (t) => {
    const items = script(4, 200);
    const { one, many, assertSame } = await twoWays(t, 'tick', false);
    const single = store(one);
    // A connection of its own, its script commands counted as they are sent.
    const connection = new Redis(url);
    t.after(() => connection.disconnect());
    const coalescing = new RedisChannelStore(connection, { prefix: many, historySize: 5, retentionSeconds: 60, maxEventBytes: 200, coalesce: true });
    const calls = { append: 0, batch: 0 };
    const scripted = connection as unknown as Record<'jobcastAppend' | 'jobcastAppendBatch', (...args: unknown[]) => unknown>;
    for (const [name, counter] of [
      ['jobcastAppend', 'append'],
      ['jobcastAppendBatch', 'batch'],
    ] as const) {
      const send = scripted[name].bind(connection);
      scripted[name] = (...args: unknown[]) => {
        calls[counter] += 1;
        return send(...args);
      };
    }
    const storedOne: (ChannelEvent | null)[] = [];
    for (const item of items) storedOne.push(await single.append(item.channel, item.event, item.data, item.reset ? { reset: true } : {}));
    // Ticks of every size; a put-back (an append with an option) in the middle of one goes
    // out on its own, after what was queued before it.
    const storedMany: (ChannelEvent | null)[] = [];
    const next = random(104);
    // At most one call per EAGER_BATCH_EVENTS plain appends of a tick, and one for the rest.
    let most = 0;
    for (let i = 0; i < items.length;) {
      const tick = items.slice(i, i + 1 + Math.floor(next() * 40));
      most += Math.ceil(tick.filter((item) => !item.reset).length / EAGER_BATCH_EVENTS) + tick.filter((item) => item.reset).length;
      storedMany.push(...(await Promise.all(tick.map((item) => coalescing.append(item.channel, item.event, item.data, item.reset ? { reset: true } : {})))));
      i += tick.length;
    }
    const shape = (e: ChannelEvent | null) => e && { channel: e.channel, offset: e.offset, event: e.event, data: e.data };
    assert.deepEqual(storedMany.map(shape), storedOne.map(shape));
    const resets = items.filter((item) => item.reset).length;
    assert.equal(calls.append, resets, 'only the appends with an option went one by one');
    assert.ok(calls.batch <= most, `${calls.batch} batch calls for ${items.length - resets} plain appends (at most ${most})`);
    assert.ok(calls.batch < items.length - resets, 'plain appends went out together');
    await assertSame(storedOne.filter(Boolean).length);
  });
});

describe('appendMany on a three-master Redis Cluster', () => {
  const cluster = new OwnRedisCluster();
  let client: Cluster;

  before(async () => {
    await cluster.start(3);
    client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
  });
  after(async () => {
    client?.disconnect();
    await cluster.destroy();
  });

  it('appends events of channels in different hash slots, in order per channel, sharded-published', async () => {
    const s = new RedisChannelStore(client, { prefix: 'jc:', sharded: true, retentionSeconds: 60 });
    const channels = ['job:1', 'job:2', 'job:3', 'job:4', 'job:5', 'job:6'];
    const items = channels.flatMap((channel) => ['queued', 'active', 'progress', 'completed', 'progress'].map((event, i) => ({ channel, event, data: { i } })));
    const stored = await s.appendMany(items);
    assert.deepEqual(
      stored.map((e) => e?.offset ?? null),
      channels.flatMap(() => [1, 2, 3, 4, null]),
    );
    for (const channel of channels) {
      const { epoch } = await s.read(channel);
      assert.deepEqual(
        (await s.read(channel, { epoch, offset: 0 })).events.map((e) => e.event),
        ['queued', 'active', 'progress', 'completed'],
      );
    }
  });
});
