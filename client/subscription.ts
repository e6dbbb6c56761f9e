import { ErrorCode } from '../shared/codes.js';
import { isJobChannel, OUTCOME_EVENTS, type OutcomeEventName, SKIP_EVENT } from '../shared/constants.js';
import type { ChannelEvent, JobEventName, JobEventPayload, StreamPosition, SubscribeAck, SubscribeRequest } from '../shared/protocol.js';
import { callEach, Emitter, withListener, withoutListener } from './emitter.js';
import { JobcastClientError } from './errors.js';

/** What a listener of a channel event receives. */
export interface EventContext<Data = unknown> {
  channel: string;
  event: string;
  data: Data;
  offset: number;
  epoch: string;
  /** Publish time (ms since the epoch). */
  ts: number;
  /** True when this event comes from the channel's history or snapshot, not live. */
  replayed: boolean;
  /** Set on progress sent to a connection that fell behind: older progress was skipped for it. */
  conflated?: true;
}

export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed';

/**
 * Context of a subscription state change; `recovered` on `subscribed` says whether history was
 * complete. On `subscribing` (not live: events are not flowing) and `unsubscribed`, `code` and
 * `reason` say why: `jobcast:unavailable` while the connection is down or a resubscribe was
 * refused for a passing reason (it is being retried), an error code when refused for good.
 */
export interface SubscriptionStateContext {
  state: SubscriptionState;
  recovered?: boolean;
  code?: string;
  reason?: string;
}

type EventListener = (context: EventContext) => void;
const NO_LISTENERS: readonly EventListener[] = Object.freeze([]);

/** What a subscription keeps per event name. */
interface EventSlot {
  latest: EventContext | undefined;
  listeners: readonly EventListener[];
}

/** A token, or a function that returns a fresh one (called on every (re)subscribe). */
export type TokenSource = string | (() => string | Promise<string>);

/**
 * Fetches a fresh token for `channel` from the application (its refresh endpoint), called when
 * the gateway refused the current one as expired. Resolve `''` to say there is none any more.
 */
export type GetToken = (context: { channel: string }) => Promise<string>;

/** How a subscription reaches the gateway; implemented by the connection. */
export interface SubscriptionTransport {
  readonly connected: boolean;
  subscribe(request: SubscribeRequest): Promise<SubscribeAck>;
  unsubscribe(channel: string): void;
  start(subscription: Subscription): Promise<void>;
  /** Subscribes again from the subscription's position, retrying until it is live or refused for good. */
  resync(subscription: Subscription): void;
  /** Tells the gateway the application received an outcome event. */
  ack(channel: string, offset: number): void;
  forget(subscription: Subscription): void;
}

/**
 * One channel subscription. Delivers each event once and in order: it remembers the last
 * offset, drops anything at or below it, and after a reconnect or a detected gap resubscribes
 * from that position so the gateway replays what was missed.
 */
export class Subscription {
  // The fields every received event reads come first: an object's fields are laid out in the
  // order they are declared, and these then share the subscription's first cache lines.
  #inflight: Promise<void> | undefined;
  #state: SubscriptionState = 'subscribing';
  /**
   * The last event delivered (its epoch, null before any, and offset): plain fields of the
   * subscription, not an object of their own, since every received event reads and moves them.
   */
  #epoch: string | null;
  #offset: number;
  /**
   * Per event name, its newest context and its listeners: one lookup per received event finds
   * both. A page's subscriptions sit cold in memory between two events of their channel, so
   * each object an event has to reach costs a cache miss (test/bench/client-cost.ts).
   */
  readonly #slots = new Map<string, EventSlot>();
  /** Listeners of `'*'`. */
  #anyListeners: readonly EventListener[] = NO_LISTENERS;
  readonly channel: string;
  #token: TokenSource | undefined;
  readonly #getToken: GetToken | undefined;
  #transport: SubscriptionTransport;
  readonly #lifecycle = new Emitter<{ state: SubscriptionStateContext; error: { error: JobcastClientError } }>();
  /** Live events that arrived while a subscribe was being answered (same TCP read as the ack). */
  #held: ChannelEvent[] = [];
  #started: Promise<void> | undefined;
  #generation = 0;

  constructor(transport: SubscriptionTransport, channel: string, token: TokenSource | undefined, since?: StreamPosition, getToken?: GetToken) {
    if (token === undefined && !getToken) throw new JobcastClientError(ErrorCode.invalidInput, `subscribing to ${channel} needs a token or getToken`);
    this.#transport = transport;
    this.channel = channel;
    this.#token = token;
    this.#getToken = getToken;
    this.#epoch = since ? since.epoch : null;
    this.#offset = since ? since.offset : 0;
  }

  /** True when an expired token can be replaced without the page (a `getToken`, or a token function). */
  get refreshable(): boolean {
    return this.#getToken !== undefined || typeof this.#token === 'function';
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  /** True once `subscribe()` was called. */
  get started(): boolean {
    return this.#started !== undefined;
  }

  /** The last event delivered: pass it as `since` to resume elsewhere. */
  get position(): StreamPosition | null {
    return this.#epoch === null ? null : { epoch: this.#epoch, offset: this.#offset };
  }

  /**
   * Sends the subscribe and resolves once the gateway acknowledged it (retrying through
   * drops). Rejects on a refusal (bad token, bad channel); the subscription is then closed.
   */
  async subscribe(): Promise<this> {
    if (this.#state === 'unsubscribed') throw new JobcastClientError('jobcast:conflict', `subscription to ${this.channel} was closed`);
    this.#started ??= this.#transport.start(this);
    await this.#started;
    return this;
  }

  /**
   * Fetches the rendered result of a completed job (the `partialUrl` of its `completed`
   * event) with this subscription's token; resolves to the HTML.
   */
  async fetchPartial(base: string | URL = typeof location === 'undefined' ? '' : location.href): Promise<string> {
    const url = (this.latest<{ partialUrl?: string | null }>('completed')?.data ?? {}).partialUrl;
    if (!url) throw new JobcastClientError('jobcast:not-found', `no rendered result on ${this.channel} (not completed, or the job has no render)`);
    const token = await this.#currentToken();
    const response = await fetch(new URL(url, base), { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok)
      throw new JobcastClientError(
        response.status === 404 ? 'jobcast:not-found' : 'jobcast:unavailable',
        `the result could not be loaded (HTTP ${response.status})`,
      );
    return response.text();
  }

  /** The newest event of that name delivered so far (live, replayed or from the snapshot). */
  latest<E extends JobEventName>(event: E): EventContext<JobEventPayload<E>> | undefined;
  latest<Data = unknown>(event: string): EventContext<Data> | undefined;
  latest(event: string): EventContext | undefined {
    return this.#slots.get(event)?.latest;
  }

  /**
   * Listens to one channel event by name, or `'*'` for every one. Returns `off`. jobcast's own
   * job events (`progress`, `completed`, …) are typed from the shared catalogue; a custom event's
   * payload type is yours to give.
   */
  on<E extends JobEventName>(event: E, listener: (context: EventContext<JobEventPayload<E>>) => void): () => void;
  on<Data = unknown>(event: string, listener: (context: EventContext<Data>) => void): () => void;
  on(event: string, listener: (context: EventContext<never>) => void): () => void {
    // The payloads are the server's own (the gateway relays only what the append script built).
    const entry = listener as EventListener;
    if (event === '*') {
      this.#anyListeners = withListener(this.#anyListeners, entry);
      return () => void (this.#anyListeners = withoutListener(this.#anyListeners, entry));
    }
    const slot = this.#slot(event);
    slot.listeners = withListener(slot.listeners, entry);
    return () => void (slot.listeners = withoutListener(slot.listeners, entry));
  }

  #slot(name: string): EventSlot {
    let slot = this.#slots.get(name);
    if (!slot) this.#slots.set(name, (slot = { latest: undefined, listeners: NO_LISTENERS }));
    return slot;
  }

  /** Listens to state changes: `subscribing`, `subscribed` (with `recovered`), `unsubscribed`. */
  onState(listener: (context: SubscriptionStateContext) => void): () => void {
    return this.#lifecycle.on('state', listener);
  }

  /** Listens to errors after the first subscribe (a refused resubscribe, an expired token). */
  onError(listener: (context: { error: JobcastClientError }) => void): () => void {
    return this.#lifecycle.on('error', listener);
  }

  /** Stops receiving; safe to call twice. */
  unsubscribe(): void {
    this.#close();
  }

  /**
   * @internal The token was refused as expired: asks `getToken` for a fresh one (a token
   * function is called on every subscribe anyway). Rejects if the application has none.
   */
  async refreshToken(): Promise<void> {
    if (!this.#getToken) return;
    const token = await this.#getToken({ channel: this.channel });
    if (!token) throw new JobcastClientError(ErrorCode.tokenExpired, 'the token expired and the application has no fresh one');
    this.#token = token;
  }

  /** @internal Not live, and why (a refused resubscribe being retried, a lost connection). */
  waiting(code: string, reason: string): void {
    if (this.#state !== 'unsubscribed') this.#setState('subscribing', undefined, code, reason);
  }

  /** @internal Refused for good after the first subscribe: tells `onError`, then closes. */
  refused(error: unknown): void {
    if (this.#state === 'unsubscribed') return;
    const wrapped = this.#wrap(error);
    this.#lifecycle.emit('error', { error: wrapped });
    this.#close(wrapped.code, wrapped.message);
  }

  #close(code?: string, reason?: string): void {
    if (this.#state === 'unsubscribed') return;
    this.#setState('unsubscribed', undefined, code, reason);
    this.#transport.forget(this);
    if (this.#transport.connected) this.#transport.unsubscribe(this.channel);
  }

  async #currentToken(): Promise<string> {
    if (typeof this.#token === 'function') return this.#token();
    if (this.#token === undefined) await this.refreshToken();
    return this.#token as string;
  }

  /**
   * @internal Sends the subscribe (first time, after a reconnect, after a gap) and resolves on
   * the acknowledgement. Concurrent calls share one request; a reconnect makes it stale.
   */
  sync(): Promise<void> {
    if (this.#state === 'unsubscribed') return Promise.resolve();
    if (this.#inflight) return this.#inflight;
    const generation = this.#generation;
    const inflight = this.#syncOnce(generation).finally(() => {
      if (this.#inflight !== inflight) return;
      this.#inflight = undefined;
      const held = this.#held;
      this.#held = [];
      // Only after a successful subscribe: they continue the acknowledged position.
      if (this.#state === 'subscribed') for (const event of held) this.receive(event);
    });
    this.#inflight = inflight;
    return inflight;
  }

  async #syncOnce(generation: number): Promise<void> {
    if (!this.#transport.connected) throw new JobcastClientError('jobcast:unavailable', 'not connected');
    if (this.#state === 'subscribed') {
      // Resync on a live connection: the gateway holds us in the channel; leave it first
      // (packets arrive in order, so the subscribe below comes after).
      this.#transport.unsubscribe(this.channel);
      this.#setState('subscribing', undefined, ErrorCode.unavailable, 'events went missing on the way; asking for them again');
    }
    const token = await this.#currentToken();
    const request: SubscribeRequest = {
      channel: this.channel,
      token,
      ...(this.#epoch === null ? {} : { since: { epoch: this.#epoch, offset: this.#offset } }),
    };
    const ack = await this.#transport.subscribe(request);
    if (this.#state === 'unsubscribed') return;
    if (generation !== this.#generation) throw new JobcastClientError('jobcast:unavailable', 'the connection dropped during subscribe');
    if (!ack.ok) throw new JobcastClientError(ack.error.code, ack.error.message);
    if (this.#epoch !== null && this.#epoch !== ack.epoch) this.#epoch = null;
    // Subscribed before delivering: a listener may unsubscribe, and gap checks need the state.
    this.#state = 'subscribed';
    for (const event of ack.events) this.#deliver(event, true);
    if (this.#epoch !== ack.epoch || this.#offset < ack.offset) {
      this.#epoch = ack.epoch;
      this.#offset = ack.offset;
    }
    this.#setState('subscribed', ack.recovered);
  }

  /** @internal A live event from the gateway. */
  receive(event: ChannelEvent): void {
    if (this.#inflight) {
      // Several socket.io packets can be handled before the ack's continuation runs: hold them.
      this.#held.push(event);
      return;
    }
    if (this.#state !== 'subscribed') return;
    if (event.epoch === this.#epoch && event.offset > this.#offset + 1 && !event.conflated) {
      // Something went missing between us and the log: ask for it instead of skipping it.
      this.#transport.resync(this);
      return;
    }
    this.#deliver(event, false);
  }

  /** @internal The connection dropped: we will resubscribe from our position. */
  suspend(): void {
    this.#generation += 1;
    this.#inflight = undefined;
    this.#held = [];
    if (this.#state === 'subscribed') this.#setState('subscribing', undefined, ErrorCode.unavailable, 'the connection was lost');
  }

  #deliver(event: ChannelEvent, replayed: boolean): void {
    const epoch = event.epoch;
    if (epoch === this.#epoch && event.offset <= this.#offset) return;
    // The epoch's string is kept while it stays the same, not replaced by each event's copy.
    if (epoch !== this.#epoch) this.#epoch = epoch;
    this.#offset = event.offset;
    const name = event.event;
    if (name === SKIP_EVENT) return; // excluded by its publisher (socket_id)
    // Written out rather than spread: every context has the same shape, which keeps the
    // listeners' property reads monomorphic; `conflated` only where the gateway set it.
    const context: EventContext = {
      channel: event.channel,
      event: name,
      data: event.data,
      offset: event.offset,
      epoch: event.epoch,
      ts: event.ts,
      replayed,
    };
    if (event.conflated) context.conflated = true;
    const slot = this.#slot(name);
    slot.latest = context;
    // Outcomes are acknowledged, so operators can see that a person's page got the result;
    // before the listeners run, since a listener may unsubscribe on the outcome.
    if (name !== 'progress' && OUTCOME_EVENTS.includes(name as OutcomeEventName) && isJobChannel(event.channel))
      this.#transport.ack(event.channel, event.offset);
    callEach(slot.listeners, context);
    callEach(this.#anyListeners, context);
  }

  #setState(state: SubscriptionState, recovered?: boolean, code?: string, reason?: string): void {
    this.#state = state;
    this.#lifecycle.emit('state', {
      state,
      ...(recovered === undefined ? {} : { recovered }),
      ...(code === undefined ? {} : { code }),
      ...(reason === undefined ? {} : { reason }),
    });
  }

  #wrap(error: unknown): JobcastClientError {
    return error instanceof JobcastClientError
      ? error
      : new JobcastClientError(ErrorCode.unavailable, String((error as Error)?.message ?? error), { cause: error });
  }
}
