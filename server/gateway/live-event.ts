import type { ChannelEvent } from '../../shared/protocol.js';
import { eventFrame, textFrame } from './event-frames.js';

/**
 * One event on its way to a channel's subscribers, as the hub's forward loop reads it: its
 * position, name and time at once, its WebSocket frame and its object each made only when
 * first asked for, then kept.
 *
 * The envelope the append scripts publish is already the JSON of the event, laid out as
 * `{"channel":…,"epoch":"…","offset":N,"event":"…","data":…,"ts":N}` (redis-channel-store.ts
 * encodes every part with JSON.stringify; the scripts only join them). So a live message in
 * that layout needs no JSON.parse to be forwarded: its frame is the envelope inside socket.io's
 * event packet, byte for byte what socket.io would have encoded from the parsed object. Only a
 * subscriber that needs the object (one joining, a slow one, a Pusher connection, the timeline
 * of a lifecycle event) has it parsed, once. A message in any other layout (one that names a
 * connection to exclude, or not written by these scripts) is parsed as before.
 */
export class LiveEvent {
  readonly channel: string;
  readonly epoch: string;
  readonly offset: number;
  /** The event's name (`progress`, `completed`, …). */
  readonly name: string;
  readonly ts: number;
  #json: string | null;
  #event: ChannelEvent | null;
  #frame: Buffer | null = null;

  private constructor(channel: string, epoch: string, offset: number, name: string, ts: number, json: string | null, event: ChannelEvent | null) {
    this.channel = channel;
    this.epoch = epoch;
    this.offset = offset;
    this.name = name;
    this.ts = ts;
    this.#json = json;
    this.#event = event;
  }

  /** An event already parsed (read from the log, or a live message in another layout). */
  static of(event: ChannelEvent): LiveEvent {
    return new LiveEvent(event.channel, event.epoch, event.offset, event.event, event.ts, null, event);
  }

  /**
   * The live message `envelope` of `channel` read without parsing it, or null when it is not in
   * the scripts' layout. `head` is {@link envelopeHead} of the channel.
   */
  static read(channel: string, head: string, envelope: string): LiveEvent | null {
    if (!envelope.startsWith(head)) return null;
    const epochEnd = envelope.indexOf('"', head.length);
    if (epochEnd < 0 || !envelope.startsWith(',"offset":', epochEnd + 1)) return null;
    const epoch = envelope.slice(head.length, epochEnd);
    const offsetAt = epochEnd + 11;
    const offsetEnd = envelope.indexOf(',', offsetAt);
    if (offsetEnd < 0 || !envelope.startsWith(',"event":"', offsetEnd)) return null;
    const offset = digits(envelope, offsetAt, offsetEnd);
    const nameAt = offsetEnd + 10;
    const nameEnd = envelope.indexOf('"', nameAt);
    if (nameEnd < 0 || !envelope.startsWith(',"data":', nameEnd + 1)) return null;
    const name = envelope.slice(nameAt, nameEnd);
    // The last member is the time; anything after it (an `exclude`) takes the parsing path.
    const tsAt = envelope.lastIndexOf(',"ts":') + 6;
    const ts = tsAt > 6 && envelope.endsWith('}') ? digits(envelope, tsAt, envelope.length - 1) : -1;
    if (offset <= 0 || ts < 0 || epoch.includes('\\') || name.includes('\\')) return null;
    return new LiveEvent(channel, epoch, offset, name, ts, envelope, null);
  }

  /** The event as an object, parsed the first time it is asked for. */
  get event(): ChannelEvent {
    this.#event ??= JSON.parse(this.#json!) as ChannelEvent;
    return this.#event;
  }

  /** The complete WebSocket frame of socket.io's `event` packet of this event, built once. */
  get frame(): Buffer {
    this.#frame ??= this.#json === null ? eventFrame(this.#event!) : textFrame(Buffer.from(`42["event",${this.#json}]`));
    return this.#frame;
  }
}

/** What every envelope of `channel` in the scripts' layout starts with, up to its epoch. */
export const envelopeHead = (channel: string) => `{"channel":${JSON.stringify(channel)},"epoch":"`;

/** The non-negative integer written in `text` from `start` to `end`, or -1 if it is not one. */
function digits(text: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i) - 48;
    if (code < 0 || code > 9) return -1;
    value = value * 10 + code;
  }
  return value;
}
