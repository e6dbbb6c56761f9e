import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import PusherServer from 'pusher';

import { AppRegistry } from '../../server/apps/apps.js';
import { RawPusherSocket } from '../helpers/pusher-clients.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

const APP = { id: 'slow', key: 'slow-key', secret: 'slow-secret-0123456789', enabled: true };
// Enough bytes (about 9 MB) to fill the kernel's socket buffers on loopback and then some.
const PROGRESS = 9000;

describe('a slow Pusher client gets conflated progress and every outcome, like a socket.io one', () => {
  let stack: TestStack;
  let proxy: TcpProxy;
  const sockets: RawPusherSocket[] = [];

  before(async () => {
    stack = await startStack({
      worker: false,
      apps: new AppRegistry(APP),
      gateway: { slowConsumers: { highWaterBytes: 256 * 1024, intervalMs: 20 }, pusher: { activityTimeoutSeconds: 60 } },
    });
    proxy = await TcpProxy.start([Number(new URL(stack.url).port)]);
  });
  after(async () => {
    for (const s of sockets) s.close();
    await proxy.close();
    await stack.close();
  });

  it('skips stale progress for the slow connection only; custom events and the outcome always arrive, in order', async () => {
    const jobId = `slow-${Math.random().toString(36).slice(2, 8)}`;
    const channel = `job:${jobId}`;
    const name = `private-jobcast-job-${jobId}`;
    const sdk = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });
    const join = async (url: string) => {
      const socket = RawPusherSocket.connect(url, APP.key);
      sockets.push(socket);
      socket.send({ event: 'pusher:subscribe', data: { channel: name, auth: sdk.authorizeChannel(await socket.socketId(), name).auth } });
      await socket.event('pusher_internal:subscription_succeeded', name);
      return socket;
    };
    const fast = await join(stack.url);
    const slow = await join(proxy.url);
    proxy.stall();

    const padding = 'x'.repeat(900);
    let notes = 0;
    let batch: Promise<unknown>[] = [];
    for (let i = 1; i <= PROGRESS; i++) {
      batch.push(stack.jobcast.store.append(channel, 'progress', { pct: (i / PROGRESS) * 100, message: padding }));
      if (i % 500 === 0) {
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
    const events = (s: RawPusherSocket) => s.frames.filter((f) => f.channel === name && !f.event.startsWith('pusher'));
    await waitFor(() => events(fast).some((f) => f.event === 'completed'), 'the fast client to get the outcome', 30_000);
    proxy.unstall();
    await waitFor(() => events(slow).some((f) => f.event === 'completed'), 'the slow client to get the outcome', 30_000);

    const count = (s: RawPusherSocket, event: string) => events(s).filter((f) => f.event === event).length;
    console.log(
      `slow Pusher client: fast got ${events(fast).length} events, slow ${events(slow).length} (${count(slow, 'progress')} progress), ${stack.gateway.conflated} conflated`,
    );
    assert.equal(count(fast, 'progress'), PROGRESS, 'a fast client gets every progress event');
    assert.equal(count(slow, 'note'), notes, 'custom events are never dropped');
    assert.equal(count(slow, 'completed'), 1);
    assert.ok(stack.gateway.conflated > PROGRESS / 10, `stale progress was skipped (${stack.gateway.conflated})`);
    assert.equal(count(slow, 'progress') + stack.gateway.conflated, PROGRESS, 'each progress event was sent or replaced by a newer one');
    const offsets = events(slow).map((f) => f.jobcast!.offset);
    assert.deepEqual(
      offsets,
      [...offsets].sort((a, b) => a - b),
      'in order',
    );
    assert.equal(new Set(offsets).size, offsets.length, 'nothing twice');
    assert.equal(events(slow).at(-1)?.event, 'completed');
  });
});
