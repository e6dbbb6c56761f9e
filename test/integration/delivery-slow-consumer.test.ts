import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { jobChannel } from '../../shared/constants.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, watch, type Watcher } from '../helpers/watchers.js';

// Enough bytes (about 9 MB) to fill the kernel's socket buffers on loopback and then some.
const PROGRESS = 9000;
const NOTES_EVERY = 500;

describe('a slow consumer gets conflated progress and every outcome; the gateway stays bounded', () => {
  let stack: TestStack;
  let proxy: TcpProxy;
  let watchers: Watcher[] = [];

  before(async () => {
    stack = await startStack({ worker: false, gateway: { slowConsumers: { highWaterBytes: 256 * 1024, intervalMs: 20 } } });
    proxy = await TcpProxy.start([Number(new URL(stack.url).port)]);
  });
  after(async () => {
    closeAll(watchers);
    await proxy.close();
    await stack.close();
  });

  it('skips stale progress for the slow client only, never a custom event or the outcome', async () => {
    const channel = jobChannel(`slow-${Math.random().toString(36).slice(2, 8)}`);
    const token = await stack.jobcast.token([channel]);
    const [fast] = await watch(stack.url, [{ channel, token }]);
    const [slow] = await watch(proxy.url, [{ channel, token }]);
    watchers = [fast!, slow!];
    proxy.stall();

    const padding = 'x'.repeat(900);
    const rssBefore = process.memoryUsage().rss;
    let notes = 0;
    // Appends on one connection run in call order, so a batch in flight keeps the sequence.
    let batch: Promise<unknown>[] = [];
    for (let i = 1; i <= PROGRESS; i++) {
      batch.push(stack.jobcast.store.append(channel, 'progress', { pct: (i / PROGRESS) * 100, message: padding }));
      if (i % NOTES_EVERY === 0) {
        batch.push(stack.jobcast.store.append(channel, 'note', { i }));
        notes += 1;
      }
      // Bursts well under the high-water mark: the fast client shares this process's event
      // loop, and must not look slow because one burst was written before it could read.
      if (i % 100 === 0) {
        await Promise.all(batch);
        batch = [];
      }
    }
    await Promise.all(batch);
    await stack.jobcast.store.append(channel, 'completed', { partialUrl: null, durationMs: 1 });
    await waitFor(() => fast!.done, 'the fast client to get the outcome', 30_000);
    const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    proxy.unstall();
    await waitFor(() => slow!.done, 'the slow client to get the outcome', 30_000);

    const count = (w: Watcher, name: string) => w.events.filter((e) => e === name).length;
    console.log(
      `slow consumer: fast got ${fast!.offsets.length} events, slow got ${slow!.offsets.length} (${count(slow!, 'progress')} progress), ` +
        `${stack.gateway.conflated} progress conflated, process RSS +${rssGrowthMb.toFixed(1)} MB while stalled`,
    );
    assert.equal(count(fast!, 'progress'), PROGRESS, 'a fast client gets every progress event');
    assert.equal(count(slow!, 'note'), notes, 'custom events are never dropped');
    assert.equal(count(slow!, 'completed'), 1, 'the outcome is always delivered');
    // The kernel's socket buffers take the first megabytes; past the gateway's high-water
    // mark, stale progress is replaced instead of queued.
    assert.ok(stack.gateway.conflated > PROGRESS / 10, 'stale progress was skipped for the slow client');
    assert.equal(count(slow!, 'progress') + stack.gateway.conflated, PROGRESS, 'each progress event was sent or replaced by a newer one');
    const offsets = slow!.offsets;
    assert.deepEqual(
      offsets,
      [...new Set(offsets)].sort((a, b) => a - b),
      'in order, nothing twice',
    );
    assert.equal(slow!.events.at(-1), 'completed');
    const lastProgress = slow!.events.lastIndexOf('progress');
    assert.ok(lastProgress >= 0, 'the newest progress reached the slow client');
  });
});
