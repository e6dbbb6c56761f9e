import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { io, type Socket } from 'socket.io-client';

import { DEFAULT_SOCKET_PATH } from '../../shared/constants.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { steadyClient } from '../helpers/steady-client.js';
import { waitFor } from '../helpers/wait.js';

const raw = (url: string) => io(url, { path: DEFAULT_SOCKET_PATH, transports: ['websocket'], reconnection: false, forceNew: true });

describe('floods are limited, and a well-behaved client does not notice', () => {
  let stack: TestStack;
  let steady: Awaited<ReturnType<typeof steadyClient>>;

  before(async () => {
    stack = await startStack({ worker: false });
    steady = await steadyClient(stack);
  });
  after(async () => {
    steady.close();
    await stack.close();
  });

  it('one client sending 10,000 subscribes in a second gets rate-limited acknowledgements, with a retry time', async () => {
    const token = await stack.jobcast.token(['room']);
    const socket = raw(stack.url);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const acks = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => socket.timeout(20_000).emitWithAck('subscribe', { channel: i % 2 ? 'room' : `room-${i}`, token })),
    );
    const limited = acks.filter((a) => !a.ok && a.error.code === 'jobcast:rate-limited');
    const accepted = acks.filter((a) => a.ok);
    console.log(`flood: 10,000 subscribes → ${accepted.length} accepted, ${limited.length} rate-limited`);
    assert.ok(limited.length >= 9_000, 'most were refused by the rate limit');
    assert.ok(accepted.length <= 100, 'at most the allowed rate got through');
    assert.ok(limited.every((a) => typeof a.error.retryAfterMs === 'number'));
    assert.ok(socket.connected, 'the flooding client is limited, not crashed into');
    socket.disconnect();
  });

  it('one address opening 2,000 connections gets at most the per-address limit (1,000)', async () => {
    const sockets: Socket[] = [];
    let refused = 0;
    try {
      for (let batch = 0; batch < 20; batch++) {
        const opened = await Promise.all(
          Array.from({ length: 100 }, () => {
            const s = raw(stack.url);
            sockets.push(s);
            return new Promise<boolean>((resolve) => {
              s.once('connect', () => resolve(true));
              s.once('connect_error', () => resolve(false));
            });
          }),
        );
        refused += opened.filter((ok) => !ok).length;
      }
      const connected = sockets.filter((s) => s.connected).length;
      console.log(`flood: 2,000 connections from one address → ${connected} held, ${refused} refused`);
      assert.ok(connected <= 1000 && connected >= 990, `held ${connected}`);
      assert.ok(refused >= 1000);
    } finally {
      for (const s of sockets) s.disconnect();
    }
    await waitFor(() => stack.gateway.stats().connections === 1, 'the flood connections to be gone');
  });

  it('thousands of subscribe/unsubscribe cycles leave nothing behind', async () => {
    const socket = raw(stack.url);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => stack.jobcast.token([`cycle-${i}`])));
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const listenersBefore = stack.gateway.io.listenerCount('connection');
    for (let round = 0; round < 150; round++) {
      await Promise.all(tokens.map((token, i) => socket.emitWithAck('subscribe', { channel: `cycle-${i}`, token })));
      await Promise.all(tokens.map((_, i) => socket.emitWithAck('unsubscribe', { channel: `cycle-${i}` })));
      await new Promise((r) => setTimeout(r, 25)); // stay under 50 subscribes per second per connection
    }
    socket.disconnect();
    await waitFor(() => stack.gateway.channelCount === 1, 'only the steady channel to remain subscribed in Redis');
    global.gc?.();
    const grownMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
    console.log(`cycles: 3,000 subscribe/unsubscribe pairs, heap ${grownMb >= 0 ? '+' : ''}${grownMb.toFixed(1)} MB`);
    assert.equal(stack.gateway.io.listenerCount('connection'), listenersBefore);
    assert.ok(grownMb < 50, `heap grew ${grownMb.toFixed(1)} MB`);
  });

  it('meanwhile the well-behaved client got every event, promptly', async () => {
    await steady.settle();
    const { offsets, latencies } = steady;
    assert.deepEqual(
      offsets,
      Array.from({ length: offsets.length }, (_, i) => i + 1),
    );
    const sorted = [...latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
    console.log(`steady client: ${offsets.length} events, p99 latency ${p99} ms during the floods`);
    assert.ok(p99 < 3000, `p99 ${p99} ms (a generous bound: this catches a stalled gateway, not a slow one)`);
  });
});
