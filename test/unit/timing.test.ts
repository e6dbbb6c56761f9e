import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';

import { EtaEstimator } from '../../client/ui/format.js';
import { LiveEvent } from '../../server/gateway/live-event.js';
import { SlowConsumers } from '../../server/gateway/slow-consumers.js';
import type { GatewayServer, GatewaySocket } from '../../server/gateway/types.js';
import type { ChannelEvent } from '../../shared/protocol.js';

// Time-driven rules, checked with node:test's mock timers: no waiting, no flakiness.
describe('time-driven rules, on mock timers', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('the ETA waits for 5 % and 2 s of evidence, then extrapolates the rate since the first report', () => {
    const eta = new EtaEstimator();
    assert.equal(eta.update(0), null, 'the first report only starts the clock');
    mock.timers.tick(1000);
    assert.equal(eta.update(10), null, 'one second is too little to go on');
    mock.timers.tick(1000);
    assert.equal(eta.update(20), 8000, '20 % in 2 s: 80 % left takes 8 s');
    mock.timers.tick(2000);
    assert.equal(eta.update(20), 16_000, 'a stall stretches the estimate');
    eta.reset();
    assert.equal(eta.update(50), null, 'after a reset it starts over');
  });

  it('a socket past the high-water mark gets only the newest progress once it drains, and outcomes at once', () => {
    const sent: ChannelEvent[] = [];
    const socket = { conn: { transport: { socket: { bufferedAmount: 0 } } }, emit: (_name: string, event: ChannelEvent) => void sent.push(event) };
    const io = { of: () => ({ sockets: new Map([['a', socket]]) }) } as unknown as GatewayServer;
    let conflatedCalls = 0;
    const slow = new SlowConsumers(io, { highWaterBytes: 1000, intervalMs: 100, onConflated: () => void (conflatedCalls += 1) });
    const s = socket as unknown as GatewaySocket;
    const progress = (offset: number): ChannelEvent => ({ channel: 'job:a', epoch: 'e', offset, event: 'progress', data: { pct: offset }, ts: 0 });

    assert.equal(slow.deliverTo(s, 'job:a', LiveEvent.of(progress(1))), false, 'a socket that keeps up is not held');
    socket.conn.transport.socket.bufferedAmount = 5000;
    mock.timers.tick(100);
    assert.equal(slow.slowCount, 1, 'the sweep marks it slow');
    assert.equal(slow.deliverTo(s, 'job:a', LiveEvent.of(progress(2))), true);
    assert.equal(slow.deliverTo(s, 'job:a', LiveEvent.of(progress(3))), true);
    assert.equal(conflatedCalls, 1, 'progress 2 was replaced by 3');
    assert.equal(sent.length, 0, 'nothing is written while it is slow');

    assert.equal(slow.deliverTo(s, 'job:a', LiveEvent.of({ ...progress(4), event: 'completed', data: {} })), true);
    assert.deepEqual(
      sent.map((e) => [e.offset, e.event, e.conflated]),
      [
        [3, 'progress', true],
        [4, 'completed', undefined],
      ],
      'an outcome goes at once, after the progress it held',
    );

    assert.equal(slow.deliverTo(s, 'job:a', LiveEvent.of(progress(5))), true);
    socket.conn.transport.socket.bufferedAmount = 100;
    mock.timers.tick(100);
    assert.equal(slow.slowCount, 0, 'below the low-water mark it is fast again');
    assert.deepEqual(sent.at(-1)?.offset, 5, 'and gets the progress it was owed');
    slow.close();
  });
});
