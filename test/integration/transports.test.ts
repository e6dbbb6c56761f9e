import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { io, type Socket } from 'socket.io-client';

import { DEFAULT_SOCKET_PATH } from '../../shared/constants.js';
import type { ChannelEvent } from '../../shared/protocol.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Broadcasts go out as one pre-built WebSocket frame per event, written straight to each
 * WebSocket; long-polling connections (and any the fast path cannot take) go through
 * socket.io. Both must carry exactly the same events.
 */
describe('the same events over a WebSocket and over long-polling', () => {
  let stack: TestStack;
  const sockets: Socket[] = [];
  before(async () => {
    stack = await startStack({ worker: false });
  });
  after(async () => {
    for (const socket of sockets) socket.disconnect();
    await stack.close();
  });

  async function subscriber(transport: 'websocket' | 'polling', channel: string, token: string): Promise<ChannelEvent[]> {
    const socket = io(stack.url, { path: DEFAULT_SOCKET_PATH, transports: [transport], upgrade: false });
    sockets.push(socket);
    const events: ChannelEvent[] = [];
    socket.on('event', (event: ChannelEvent) => events.push(event));
    const ack = (await socket.emitWithAck('subscribe', { channel, token })) as { ok: boolean };
    assert.equal(ack.ok, true);
    assert.equal(socket.io.engine.transport.name, transport);
    return events;
  }

  it('delivers 300 events, in order, identical on both transports', async () => {
    const channel = 'job:transports-1';
    const token = await stack.jobcast.token([channel]);
    const [viaWs, viaPolling] = await Promise.all([subscriber('websocket', channel, token), subscriber('polling', channel, token)]);
    const data = (i: number) => ({ i, text: `é ✓ "quoted" ${'x'.repeat(i)}` }); // multi-byte, escapes, growing frame sizes
    for (let i = 1; i <= 300; i++) await stack.jobcast.store.append(channel, i % 50 === 0 ? 'note' : 'progress', data(i));
    await waitFor(() => viaWs.length === 300 && viaPolling.length === 300, 'both subscribers to have 300 events');
    assert.deepEqual(viaWs, viaPolling);
    assert.deepEqual(
      viaWs.map((e) => e.offset),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    assert.deepEqual(viaWs[199]!.data, data(200));
  });
});
