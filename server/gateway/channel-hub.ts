import { isJobChannel, OUTCOME_EVENTS, SKIP_EVENT } from '../../shared/constants.js';
import type { ChannelEvent, LiveMessage, StreamPosition, SubscribeOk } from '../../shared/protocol.js';
import type { ChannelFeed, ChannelStore } from '../channels/channel-store.js';
import { UnavailableError } from '../errors.js';
import type { Timeline } from '../jobs/timeline.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { writeFrame } from './event-frames.js';
import { envelopeHead, LiveEvent } from './live-event.js';
import type { SlowConsumers } from './slow-consumers.js';
import { type StageProbe, wallNow } from './stage-probe.js';
import type { GatewaySocket } from './types.js';

/**
 * How long a join waits for Redis to confirm the live subscription. The subscriber connection
 * queues commands through an outage rather than failing them, so without a bound a subscribe
 * would hang unanswered until Redis is back; answering `unavailable` lets the client retry
 * and say why it is not live. Well under the client's acknowledgement timeout (5 s).
 */
export const JOIN_TIMEOUT_MS = 2000;

interface Entry {
  refs: number;
  /** Settles once Redis delivers this channel's live messages. */
  live: Promise<void>;
  /** Buffers of subscribers still reading the log: live events are held here meanwhile. */
  joining: Set<ChannelEvent[]>;
  /** Newest event forwarded, to re-read what a Redis reconnect made us miss. */
  last: StreamPosition | null;
  /** The socket.io connections that joined. */
  sockets: Set<GatewaySocket>;
  /** Subscribers of other transports. */
  members: Set<HubMember>;
  /** What this channel's live messages start with ({@link envelopeHead}). */
  head: string;
}

/**
 * A subscriber of a transport other than socket.io (the Pusher protocol): the hub hands it
 * each live event of the channels it joined, in order, and never writes to it otherwise.
 */
export interface HubMember {
  /** Pusher-style connection id, for `socket_id` exclusion and the timeline. */
  readonly socketId: string;
  /** True once the connection is gone: a join that finishes then is undone. */
  readonly closed: boolean;
  /** One live event of `event.channel`; called synchronously from the hub's forward loop. */
  deliver(event: ChannelEvent): void;
}

/**
 * One live Redis subscription per channel however many sockets hold it, and the join that
 * leaves no gap: subscribe live first, read the log, then hand over live events buffered
 * during the read, dropping what the read already returned.
 */
export class ChannelHub {
  readonly #entries = new Map<string, Entry>();
  readonly #store: ChannelStore;
  readonly #feed: ChannelFeed;
  readonly #log: Logger;

  readonly #slow: SlowConsumers;
  readonly #metrics: Metrics | undefined;
  /** Outcomes delivered by this gateway, by `channel#offset`: publish time, and whether acked. */
  readonly #outcomes = new Map<string, { ts: number; acked: boolean }>();

  readonly #timeline: Timeline | undefined;
  /** The benchmark's per-stage timing; undefined unless asked for (see stage-probe.ts). */
  readonly #probe: StageProbe | undefined;

  constructor(store: ChannelStore, feed: ChannelFeed, log: Logger, slow: SlowConsumers, metrics?: Metrics, timeline?: Timeline, probe?: StageProbe) {
    this.#timeline = timeline;
    this.#probe = probe;
    this.#slow = slow;
    this.#metrics = metrics;
    this.#store = store;
    this.#feed = feed;
    this.#log = log;
    feed.onMessage((channel, envelope) => this.#onLive(channel, envelope));
    feed.onResume(() => void this.#resume());
  }

  /** Live messages this process received from Redis (for channels its clients hold). */
  received = 0;

  /** A client says its application received an outcome: the first one counts. */
  ack(channel: string, offset: number, connection?: string): void {
    this.#timeline?.record(channel, 'acknowledged', { offset, ...(connection ? { connection } : {}) });
    const outcome = this.#outcomes.get(`${channel}#${offset}`);
    if (!outcome || outcome.acked) return;
    outcome.acked = true;
    this.#metrics?.outcomeAckLatency.observe(Math.max(0, Date.now() - outcome.ts) / 1000);
  }

  /** Outcomes delivered and not acknowledged by any subscriber yet. */
  get unacknowledged(): number {
    let n = 0;
    for (const outcome of this.#outcomes.values()) if (!outcome.acked) n += 1;
    return n;
  }

  #noteOutcome(channel: string, name: string, offset: number, ts: number): void {
    if (!(OUTCOME_EVENTS as readonly string[]).includes(name) || !isJobChannel(channel)) return;
    const key = `${channel}#${offset}`;
    if (this.#outcomes.has(key)) return;
    this.#outcomes.set(key, { ts, acked: false });
    // Bounded: the oldest records go first (a Map iterates in insertion order).
    if (this.#outcomes.size > 20_000) this.#outcomes.delete(this.#outcomes.keys().next().value!);
  }

  /** Subscriptions (joined or joining sockets) per channel in this process. */
  counts(): Map<string, number> {
    return new Map([...this.#entries].map(([channel, entry]) => [channel, entry.refs]));
  }

  /** Number of channels with a live Redis subscription in this process. */
  get channelCount(): number {
    return this.#entries.size;
  }

  /**
   * Subscribes `socket` to `channel` from `since`: resolves to the acknowledgement, after
   * which the socket is in the channel's room and receives every later event.
   */
  join(socket: GatewaySocket, channel: string, since: StreamPosition | undefined): Promise<SubscribeOk | null> {
    return this.#join(
      channel,
      since,
      socket.data.socketId,
      () => socket.disconnected,
      () => this.#entries.get(channel)?.sockets.add(socket),
      true,
    );
  }

  /** {@link join} for a subscriber of another transport: it gets every later event by `deliver`. */
  joinMember(member: HubMember, channel: string, since: StreamPosition | undefined): Promise<SubscribeOk | null> {
    // Pusher clients never acknowledge outcomes: theirs are not waited for.
    return this.#join(
      channel,
      since,
      member.socketId,
      () => member.closed,
      () => this.#entries.get(channel)?.members.add(member),
      false,
    );
  }

  /** Takes `member` out of `channel` (it must have joined it). */
  leaveMember(member: HubMember, channel: string): void {
    this.#entries.get(channel)?.members.delete(member);
    this.#release(channel);
  }

  async #join(
    channel: string,
    since: StreamPosition | undefined,
    socketId: string,
    gone: () => boolean,
    attach: () => void,
    acknowledges: boolean,
  ): Promise<SubscribeOk | null> {
    const entry = this.#acquire(channel);
    const buffer: ChannelEvent[] = [];
    entry.joining.add(buffer);
    let read;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        entry.live,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new UnavailableError('Redis is not answering; retry the subscribe')), JOIN_TIMEOUT_MS);
        }),
      ]);
      read = await this.#store.read(channel, since);
    } catch (error) {
      this.#release(channel);
      throw error;
    } finally {
      clearTimeout(timer);
      entry.joining.delete(buffer);
    }
    if (gone()) {
      this.#release(channel);
      return null;
    }
    const events = read.events;
    let top = read.offset;
    for (const event of buffer) {
      // Same epoch: only what the read did not cover. Another epoch: the log was lost during
      // the read; the newer events are all the client can still get.
      if (event.epoch !== read.epoch || event.offset > top) {
        events.push(event);
        if (event.epoch === read.epoch) top = event.offset;
      }
    }
    // Synchronous from here to the join: no live event can slip between ack and room.
    attach();
    if (acknowledges) for (const event of events) this.#noteOutcome(channel, event.event, event.offset, event.ts);
    const lastLifecycle = events.filter((e) => e.event !== 'progress').at(-1);
    if (lastLifecycle && isJobChannel(channel)) {
      this.#timeline?.record(channel, 'delivered', { event: lastLifecycle.event, offset: lastLifecycle.offset, connections: [socketId], replayed: true });
    }
    return { ok: true, channel, epoch: read.epoch, offset: top, recovered: read.recovered, events };
  }

  /** Takes `socket` out of `channel` (it must have joined it). */
  leave(socket: GatewaySocket, channel: string): void {
    this.#entries.get(channel)?.sockets.delete(socket);
    this.#release(channel);
  }

  #acquire(channel: string): Entry {
    let entry = this.#entries.get(channel);
    if (!entry) {
      const live = this.#feed.subscribe(channel);
      entry = { refs: 0, live, joining: new Set(), last: null, sockets: new Set(), members: new Set(), head: envelopeHead(channel) };
      this.#entries.set(channel, entry);
      const created = entry;
      // A failed SUBSCRIBE must not stay cached: the next join tries again.
      live.catch(() => {
        if (this.#entries.get(channel) === created && created.refs === 0) this.#entries.delete(channel);
      });
    }
    entry.refs += 1;
    return entry;
  }

  #release(channel: string): void {
    const entry = this.#entries.get(channel);
    if (!entry) return;
    entry.refs -= 1;
    if (entry.refs > 0) return;
    this.#entries.delete(channel);
    this.#feed.unsubscribe(channel).catch((error: unknown) => {
      this.#log.warn({ err: error, channel }, 'unsubscribe from Redis failed');
    });
  }

  #onLive(channel: string, envelope: string): void {
    this.received += 1;
    const receivedAt = this.#probe ? wallNow() : 0;
    const entry = this.#entries.get(channel);
    if (!entry) return;
    // Most messages are in the append scripts' layout and go on unparsed (live-event.ts).
    let live = LiveEvent.read(channel, entry.head, envelope);
    let exclude: string | undefined;
    if (!live) {
      const parsed = this.#parseLive(channel, envelope);
      if (!parsed) return;
      ({ live, exclude } = parsed);
    }
    this.#forward(entry, live, exclude);
    // Every write of the event returned by now: #forward writes synchronously.
    if (this.#probe?.sampled(live.offset)) this.#probe.note(channel, live.offset, receivedAt, wallNow());
  }

  /** A live message that is not in the scripts' layout (one naming a connection to exclude). */
  #parseLive(channel: string, envelope: string): { live: LiveEvent; exclude: string | undefined } | null {
    let message: LiveMessage;
    try {
      message = JSON.parse(envelope) as LiveMessage;
    } catch {
      this.#log.warn({ channel }, 'dropped a live message that is not JSON');
      return null;
    }
    if (typeof message.offset !== 'number' || typeof message.epoch !== 'string') {
      this.#log.warn({ channel }, 'dropped a live message without a position');
      return null;
    }
    const { exclude, ...event } = message;
    return { live: LiveEvent.of(event), exclude };
  }

  #forward(entry: Entry, live: LiveEvent, exclude?: string): void {
    for (const buffer of entry.joining) buffer.push(live.event);
    entry.last = { epoch: live.epoch, offset: live.offset };
    const sockets = entry.sockets;
    this.#metrics?.countDelivery(live.name, sockets.size + entry.members.size, live.ts);
    if (sockets.size) this.#noteOutcome(live.channel, live.name, live.offset, live.ts);
    // Deliveries of every lifecycle event and outcome are recorded; progress would be too many.
    if (this.#timeline && live.name !== 'progress' && isJobChannel(live.channel)) {
      const connections: string[] = [];
      for (const socket of sockets) if (connections.length < 20) connections.push(socket.data.socketId);
      for (const member of entry.members) if (connections.length < 20) connections.push(member.socketId);
      this.#timeline.record(live.channel, 'delivered', { event: live.name, offset: live.offset, connections });
    }
    // Pusher excludes the publisher's connection by sending it nothing; so do we.
    for (const member of entry.members) if (exclude === undefined || member.socketId !== exclude) member.deliver(live.event);
    if (!sockets.size) return;
    // One frame for every fast socket; slow ones get conflated delivery of their own, and the
    // excluded connection gets a marker instead, so it moves past the offset without taking
    // the hole for a loss and asking for the event again. Most of the time no socket is slow.
    const slow = this.#slow.slowCount > 0 ? this.#slow : null;
    const frame = live.frame;
    for (const socket of sockets) {
      if (exclude !== undefined && socket.data.socketId === exclude) socket.emit('event', { ...live.event, event: SKIP_EVENT, data: null });
      else if (!slow?.deliverTo(socket, live.channel, live) && !writeFrame(socket, frame)) socket.emit('event', live.event);
    }
  }

  /**
   * After a Redis reconnect: forward from the log whatever was published while we were away.
   * The command connection may come back a moment after the subscriber (after a failover
   * each asks the sentinels on its own): a failed catch-up is tried again, a few times.
   */
  async #resume(attempt = 1): Promise<void> {
    let failed = false;
    for (const [channel, entry] of this.#entries) {
      try {
        // This gateway forwarded everything up to entry.last: a channel now behind it lost
        // events in a Redis failover, and moves to a new epoch so their offsets stay unused.
        const read = await this.#store.read(channel, entry.last ?? undefined, { rebaseIfAhead: true });
        for (const event of read.events) {
          const last = entry.last;
          if (last && event.epoch === last.epoch && event.offset <= last.offset) continue;
          this.#forward(entry, LiveEvent.of(event));
        }
      } catch (error) {
        failed = true;
        this.#log.warn({ err: error, channel, attempt }, 'could not catch up a channel after a Redis reconnect');
      }
    }
    if (failed && attempt < 5) setTimeout(() => void this.#resume(attempt + 1), 500 * attempt).unref();
  }
}
