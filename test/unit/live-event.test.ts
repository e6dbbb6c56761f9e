import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { eventFrame } from '../../server/gateway/event-frames.js';
import { envelopeHead, LiveEvent } from '../../server/gateway/live-event.js';
import type { ChannelEvent } from '../../shared/protocol.js';

/** A live message exactly as redis-channel-store.ts and the append scripts lay it out. */
const envelope = (channel: string, epoch: string, offset: number, event: string, data: unknown, ts: number, exclude?: string) =>
  `{"channel":${JSON.stringify(channel)},"epoch":"${epoch}","offset":${offset},"event":${JSON.stringify(event)},"data":${JSON.stringify(data)},"ts":${ts}` +
  (exclude === undefined ? '}' : `,"exclude":${JSON.stringify(exclude)}}`);

describe('a live message read without parsing it', () => {
  const channel = 'job:report-7';
  const head = envelopeHead(channel);

  it('gives the position, name and time, the object, and the very frame socket.io would send', () => {
    const data = { pct: 40, stage: 'Rendering "page" 2/3 — ünïcode', nested: { ts: 1, offset: 2 } };
    const text = envelope(channel, 'a1b2c3', 41, 'progress', data, 1764680000123);
    const live = LiveEvent.read(channel, head, text);
    assert.ok(live, 'a message in the scripts’ layout is read');
    assert.deepEqual([live.channel, live.epoch, live.offset, live.name, live.ts], [channel, 'a1b2c3', 41, 'progress', 1764680000123]);
    const parsed = JSON.parse(text) as ChannelEvent;
    assert.deepEqual(live.event, parsed);
    assert.ok(live.frame.equals(eventFrame(parsed)), 'the frame is byte for byte the one built from the parsed event');
    assert.equal(live.frame, live.frame, 'built once');
  });

  it('leaves to the parser a message naming a connection to exclude', () => {
    assert.equal(LiveEvent.read(channel, head, envelope(channel, 'e', 3, 'client-typing', { a: 1 }, 5, '12.34')), null);
  });

  it('leaves to the parser anything not in the layout, and never misreads it', () => {
    const bad = [
      envelope('job:other', 'e', 1, 'progress', 1, 5), // another channel's head
      '{"epoch":"e","channel":"job:report-7","offset":1,"event":"progress","data":1,"ts":5}',
      `${head}e","offset":x1,"event":"progress","data":1,"ts":5}`,
      `${head}e","offset":0,"event":"progress","data":1,"ts":5}`,
      `${head}e","offset":1,"event":"pro\\"gress","data":1,"ts":5}`,
      `${head}e\\"x","offset":1,"event":"progress","data":1,"ts":5}`,
      `${head}e","offset":1,"event":"progress","data":1,"ts":5`,
      `${head}e","offset":1,"event":"progress","data":1,"ts":-5}`,
      `${head}e","offset":1,"event":"progress","data":1}`,
      'not json',
    ];
    for (const text of bad) assert.equal(LiveEvent.read(channel, head, text), null, text);
  });

  it('wraps an event that was parsed already (read from the log)', () => {
    const event: ChannelEvent = { channel, epoch: 'e', offset: 9, event: 'completed', data: { ok: true }, ts: 7 };
    const live = LiveEvent.of(event);
    assert.equal(live.event, event);
    assert.equal(live.name, 'completed');
    assert.ok(live.frame.equals(eventFrame(event)));
  });
});
