import type { ChannelEvent, StreamPosition } from '../../shared/protocol.js';

/** What a subscriber gets when it joins: missed events, or the state snapshot. */
export interface ReadResult {
  epoch: string;
  /** The channel's newest offset at the time of the read. */
  offset: number;
  /** True when `events` is every event after the requested position. */
  recovered: boolean;
  /** Missed events, or the snapshot (newest of each class), in offset order. */
  events: ChannelEvent[];
}

export interface AppendOptions {
  /** Clear the state snapshot first: the job was put back in the queue after an outcome. */
  reset?: boolean;
  /** A gateway connection id that should not get this event live (Pusher's `socket_id`). */
  exclude?: string;
  /**
   * A key in the channel's hash slot (a job's cancel request): if it holds a value when the
   * event is appended, `event` is appended instead, with data `{ [field]: value }`, in the
   * same atomic step (a worker's "active, unless cancelled meanwhile" in one round trip). The
   * event returned is the one stored.
   */
  insteadIfSet?: { key: string; event: string; field: string };
  /** A line for the job's timeline, written in the same step (see {@link TimelineWrite}). */
  record?: TimelineWrite;
}

/** One event of {@link ChannelStore.appendMany}. */
export interface AppendItem {
  channel: string;
  event: string;
  data: unknown;
  /** As {@link AppendOptions.reset}. */
  reset?: boolean;
}

/**
 * One entry pushed onto a capped list in the channel's hash slot (the job's timeline) by the
 * append itself, instead of a MULTI of its own. Never fails the append.
 */
export interface TimelineWrite {
  key: string;
  entry: string;
  /** Entries kept, newest. */
  max: number;
  ttlSeconds: number;
}

/**
 * The durable side of a channel: an offset-numbered log, a state snapshot, and the publish
 * that goes with every append. The seam between jobcast and Redis; one Redis implementation.
 */
export interface ChannelStore {
  /**
   * Appends and publishes one event atomically. Resolves to the stored event, or `null` when it
   * was dropped because the channel already has an outcome (outcomes happen once).
   */
  append(channel: string, event: string, data: unknown, options?: AppendOptions): Promise<ChannelEvent | null>;
  /**
   * Appends and publishes many events, each exactly as {@link append} would (one channel's in
   * their order), in as few Redis calls as the deployment allows: one on a single Redis, one
   * per channel on a cluster. Resolves to each item's stored event or `null` (dropped after an
   * outcome), in the items' order. Refuses the whole batch, writing nothing, when any item's
   * data is not JSON or too large. Each channel's events are atomic; a batch is not: when a
   * call fails, some channels may have their events and others not (append again, as after a
   * failed {@link append}).
   */
  appendMany(items: readonly AppendItem[]): Promise<(ChannelEvent | null)[]>;
  /**
   * Missed events after `since`, or the snapshot when there is no position or it is too old.
   * A position ahead of the channel is refused, unless `rebaseIfAhead`: then the channel lost
   * its newest events (a Redis failover), and it moves to a new epoch (answering the snapshot).
   */
  read(channel: string, since?: StreamPosition, options?: { rebaseIfAhead?: boolean }): Promise<ReadResult>;
  /** Stores a job's rendered partial for the retention period. */
  savePartial(channel: string, html: string): Promise<void>;
  /** The stored partial, or `null`. */
  loadPartial(channel: string): Promise<string | null>;
}

/** The live side: Redis pub/sub subscriptions shared by every client of one gateway process. */
export interface ChannelFeed {
  /** Resolves once messages of `channel` are being received. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Called with the raw envelope JSON of each live message. */
  onMessage(handler: (channel: string, envelope: string) => void): void;
  /** Called after the feed reconnected: messages published meanwhile were not received. */
  onResume(handler: () => void): void;
  close(): Promise<void>;
}
