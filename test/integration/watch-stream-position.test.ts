import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Redis } from 'ioredis';

import { createLogger } from '../../server/logger.js';
import { readStreamFrom, streamIdBefore } from '../../server/watch/stream-position-reader.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The watcher's stream reader: plain XREADs from a position kept in another key, moved only
 * after a read was handled. Real Redis; the stream written as BullMQ writes its events.
 */
describe('reading a watched stream from a kept position', () => {
  let url: string;
  let redis: Redis;
  let prefix: string;
  const log = createLogger('silent');

  before(async () => {
    url = await testRedisUrl();
    redis = new Redis(url);
    prefix = uniquePrefix('streampos');
  });
  after(async () => {
    await deleteKeys(url, prefix);
    redis.disconnect();
  });

  /** Reads `stream` from `positionKey` until `until(seen)`; returns every jobId handled, in order. */
  async function read(stream: string, positionKey: string, until: (seen: string[]) => boolean, handle?: (jobIds: string[]) => void) {
    const connection = new Redis(url);
    const seen: string[] = [];
    let running = true;
    const done = readStreamFrom({
      connection,
      stream,
      positionRedis: redis,
      positionKey,
      count: 3,
      running: () => running,
      logger: log,
      async handleBatch(entries) {
        const ids = entries.map((e) => e.jobId!);
        handle?.(ids);
        seen.push(...ids);
      },
    });
    try {
      await waitFor(() => until(seen), 'the reader', 10_000);
    } finally {
      running = false;
      await done;
      connection.disconnect();
    }
    return seen;
  }

  const add = async (stream: string, ...ids: string[]) => {
    for (const id of ids) await redis.xadd(stream, '*', 'event', 'progress', 'jobId', id);
  };

  it('compares stream ids as numbers, not strings', () => {
    assert.equal(streamIdBefore('9-0', '10-0'), true);
    assert.equal(streamIdBefore('10-0', '9-5'), false);
    assert.equal(streamIdBefore('5-2', '5-10'), true);
    assert.equal(streamIdBefore('5-0', '5-0'), false);
  });

  it('starts after what the stream held, moves past each handled read, and a second reader resumes there', async () => {
    const stream = `${prefix}a:events`;
    const position = `${prefix}a:position`;
    await add(stream, 'old-1', 'old-2');
    const first = read(stream, position, (seen) => seen.length >= 5);
    await waitFor(async () => (await redis.exists(position)) === 1, 'the position', 5000);
    await add(stream, '1', '2', '3', '4', '5');
    assert.deepEqual(await first, ['1', '2', '3', '4', '5']);
    await add(stream, '6', '7');
    assert.deepEqual(await read(stream, position, (seen) => seen.length >= 2), ['6', '7']);
  });

  it('a read whose handling failed is read again: nothing is skipped', async () => {
    const stream = `${prefix}b:events`;
    const position = `${prefix}b:position`;
    await redis.set(position, '0-0');
    await add(stream, '1', '2', '3', '4');
    let failures = 0;
    const seen = await read(
      stream,
      position,
      (s) => s.includes('4'),
      (ids) => {
        if (ids.includes('1') && failures++ === 0) throw new Error('the publish failed');
      },
    );
    assert.equal(failures, 2);
    assert.deepEqual(seen, ['1', '2', '3', '4']);
  });

  it('a stream behind its position (its Redis came back empty) is read from its start', async () => {
    const stream = `${prefix}c:events`;
    const position = `${prefix}c:position`;
    await redis.set(position, `${Date.now() + 86_400_000}-0`);
    await add(stream, '1', '2');
    assert.deepEqual(await read(stream, position, (seen) => seen.length >= 2), ['1', '2']);
    assert.equal(streamIdBefore((await redis.get(position))!, `${Date.now() + 1000}-0`), true);
  });
});
