import { io, type Socket } from 'socket.io-client';

import { ErrorCode } from '../shared/codes.js';
import { DEFAULT_SOCKET_PATH, PROTOCOL_VERSION } from '../shared/constants.js';
import type { ChannelEvent, ClientToServerEvents, ServerToClientEvents, StreamPosition, SubscribeAck, SubscribeRequest } from '../shared/protocol.js';
import { Emitter } from './emitter.js';
import { JobcastClientError } from './errors.js';
import { installEventFastPath } from './event-fast-path.js';
import { DEFAULT_RETRY, retryDelay, type RetryPolicy, transient } from './retry-policy.js';
import { type GetToken, Subscription, type SubscriptionTransport, type TokenSource } from './subscription.js';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Gateway origin. @defaultValue the page's origin (required outside a browser) */
  url?: string;
  /** socket.io path. @defaultValue `/jobcast/socket.io` */
  path?: string;
  /**
   * How long to wait for a subscribe acknowledgement; past it the connection is taken as dead
   * and replaced (a fresh connection resubscribes every channel from its position). @defaultValue 5000
   */
  ackTimeoutMs?: number;
  /**
   * How long one connect attempt (TCP, WebSocket upgrade, handshake) may take before it is
   * abandoned and retried. Doubles after each attempt that timed out (up to 20 s, for slow
   * networks) and is back to this value once connected. @defaultValue 2000
   */
  connectTimeoutMs?: number;
  /** Wait before the first reconnect attempt; doubles per failed attempt, ±50 % jitter. @defaultValue 250 */
  minReconnectDelayMs?: number;
  /** Longest wait between reconnect attempts. @defaultValue 5000 */
  maxReconnectDelayMs?: number;
  /** First wait before retrying a subscribe refused for a passing reason (Redis down). @defaultValue 250 */
  minResubscribeDelayMs?: number;
  /** Longest wait between subscribe retries, so a client is live again at most this long after Redis is back. @defaultValue 1500 */
  maxResubscribeDelayMs?: number;
  /** Allow HTTP long-polling as a fallback (needs sticky sessions). @defaultValue false */
  polling?: boolean;
}

/** socket.io-client's own connect timeout, kept as the ceiling of ours. */
const MAX_CONNECT_TIMEOUT_MS = 20_000;

export interface ConnectionEvents extends Record<string, unknown> {
  state: { state: ConnectionState; reason?: string };
  notice: { code: string; message: string };
}

/** Options of {@link JobcastConnection.subscribe}; give `token`, `getToken` or both. */
export interface SubscribeOptions {
  /** Channel token from your server, or a function called for one on every subscribe. */
  token?: TokenSource;
  /**
   * Called for a fresh token when the gateway refuses the current one as expired (a page open
   * longer than its token), as centrifuge-js's `getToken`; the subscription then resumes from
   * its position. Without it (and with a plain string token) an expired token is final.
   */
  getToken?: GetToken;
  /** Resume after this position (from `subscription.position`). */
  since?: StreamPosition;
}

/**
 * A connection to a jobcast gateway. Reconnects by itself with backoff and resubscribes each
 * channel from its last offset, so the application sees every event once, in order.
 */
export class JobcastConnection {
  readonly #socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #ackTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  #connectTimeout: number;
  readonly #retry: RetryPolicy;
  /** The one retry loop per subscription that is not live yet. */
  readonly #loops = new Map<Subscription, Promise<void>>();
  readonly #closing = new AbortController();
  readonly #transport: SubscriptionTransport;
  #state: ConnectionState = 'connecting';
  #closed = false;
  #socketId: string | undefined;
  readonly #emitter = new Emitter<ConnectionEvents>();

  constructor(options: ConnectOptions = {}) {
    const url = options.url ?? (typeof location === 'undefined' ? undefined : location.origin);
    if (!url) throw new JobcastClientError(ErrorCode.invalidInput, 'connect({ url }) is required outside a browser');
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.#connectTimeoutMs = this.#connectTimeout = options.connectTimeoutMs ?? 2000;
    this.#retry = {
      minDelayMs: options.minResubscribeDelayMs ?? DEFAULT_RETRY.minDelayMs,
      maxDelayMs: options.maxResubscribeDelayMs ?? DEFAULT_RETRY.maxDelayMs,
    };
    this.#socket = io(url, {
      path: options.path ?? DEFAULT_SOCKET_PATH,
      // WebSocket first and only by default: no sticky sessions needed behind a load balancer.
      transports: options.polling ? ['websocket', 'polling'] : ['websocket'],
      query: { v: String(PROTOCOL_VERSION) },
      // A connection cut before its handshake completes closes without an error socket.io
      // listens to while opening: only this timeout ends the attempt (20 s by default).
      timeout: this.#connectTimeout,
      reconnectionDelay: options.minReconnectDelayMs ?? 250,
      reconnectionDelayMax: options.maxReconnectDelayMs ?? 5000,
      randomizationFactor: 0.5,
    });
    const socket = this.#socket;
    socket.on('connect', () => {
      this.#setState('connected');
      if (this.#connectTimeout !== this.#connectTimeoutMs) socket.io.timeout((this.#connectTimeout = this.#connectTimeoutMs));
      for (const subscription of this.#subscriptions.values()) {
        if (subscription.started && !this.#loops.has(subscription)) this.#resync(subscription);
      }
    });
    socket.on('disconnect', (reason) => {
      for (const subscription of this.#subscriptions.values()) subscription.suspend();
      this.#setState(this.#closed ? 'disconnected' : 'connecting', reason);
      // A server-side disconnect (gateway shutting down) is not retried by socket.io itself.
      if (reason === 'io server disconnect' && !this.#closed) setTimeout(() => !this.#closed && socket.connect(), 200 + Math.random() * 800);
    });
    socket.on('connect_error', (error) => {
      // A slow network may need longer than the first timeout: give the next attempt more.
      if (error.message === 'timeout') socket.io.timeout((this.#connectTimeout = Math.min(MAX_CONNECT_TIMEOUT_MS, this.#connectTimeout * 2)));
      this.#setState('connecting', error.message);
    });
    const onEvent = (event: ChannelEvent) => this.#subscriptions.get(event?.channel)?.receive(event);
    // What the receive fast path does not take (nothing, while socket.io-client is as verified) comes here.
    socket.on('event', onEvent);
    installEventFastPath(socket, onEvent as (event: unknown) => void);
    socket.on('notice', (notice) => this.#emitter.emit('notice', notice));
    socket.on('hello', (hello) => void (this.#socketId = typeof hello?.socketId === 'string' ? hello.socketId : undefined));

    this.#transport = {
      get connected() {
        return socket.connected;
      },
      subscribe: (request) => this.#request(request),
      unsubscribe: (channel) => void socket.emit('unsubscribe', { channel }, () => {}),
      start: (subscription) => this.#firstSync(subscription),
      resync: (subscription) => this.#resync(subscription),
      ack: (channel, offset) => {
        if (socket.connected) socket.emit('ack', { channel, offset });
      },
      forget: (subscription) => {
        if (this.#subscriptions.get(subscription.channel) === subscription) this.#subscriptions.delete(subscription.channel);
      },
    };
  }

  /** Listens to connection states (`connecting`, `connected`, `disconnected`) or gateway notices. */
  on<K extends keyof ConnectionEvents & string>(event: K, listener: (context: ConnectionEvents[K]) => void): () => void {
    return this.#emitter.on(event, listener);
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The socket.io id of the current connection, or `undefined` while disconnected. */
  get id(): string | undefined {
    return this.#socket.id;
  }

  /**
   * This connection's id for publishers (`socket_id` in the HTTP API and Pusher SDKs): events
   * published with it are not delivered to this connection live.
   */
  get socketId(): string | undefined {
    return this.#socket.connected ? this.#socketId : undefined;
  }

  /**
   * A subscription to `channel`, not yet sent: add listeners, then `await sub.subscribe()`, so
   * the channel's snapshot and any replayed events reach them too.
   *
   * @example
   * ```ts
   * const sub = jc.channel(channel, { token });
   * sub.on('progress', ({ data }) => render(data));
   * await sub.subscribe();
   * ```
   */
  channel(channel: string, options: SubscribeOptions): Subscription {
    const existing = this.#subscriptions.get(channel);
    if (existing) throw new JobcastClientError(ErrorCode.conflict, `already subscribed to ${channel}`);
    const subscription = new Subscription(this.#transport, channel, options.token, options.since, options.getToken);
    this.#subscriptions.set(channel, subscription);
    return subscription;
  }

  /**
   * Subscribes to `channel`; resolves once the gateway acknowledged. Events already delivered
   * (the snapshot) are readable with `sub.latest(name)`; use {@link channel} to get them as events.
   */
  subscribe(channel: string, options: SubscribeOptions): Promise<Subscription> {
    return this.channel(channel, options).subscribe();
  }

  /** The subscription of `channel`, if any. */
  subscription(channel: string): Subscription | undefined {
    return this.#subscriptions.get(channel);
  }

  /** Closes the connection and every subscription; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    for (const subscription of [...this.#subscriptions.values()]) subscription.unsubscribe();
    this.#socket.disconnect();
    this.#setState('disconnected');
    this.#emitter.clear();
  }

  async #firstSync(subscription: Subscription): Promise<void> {
    try {
      await this.#untilLive(subscription);
    } catch (error) {
      subscription.unsubscribe();
      throw error;
    }
  }

  /** After a reconnect or a gap: the same retry loop; a final refusal goes to `onError`. */
  #resync(subscription: Subscription): void {
    this.#untilLive(subscription).catch((error: unknown) => subscription.refused(error));
  }

  #untilLive(subscription: Subscription): Promise<void> {
    let loop = this.#loops.get(subscription);
    if (!loop) {
      loop = this.#retryLoop(subscription).finally(() => this.#loops.delete(subscription));
      this.#loops.set(subscription, loop);
    }
    return loop;
  }

  /**
   * The one retry path of every subscribe, the first and each later one: waits for a
   * connection, subscribes, and on a refusal for a passing reason (Redis down, the gateway
   * shutting down, no answer in time) tries again after a jittered, growing, capped delay,
   * until the channel is live or refused for good (bad token, no right, bad request). An
   * expired token is replaced through `getToken` when the application gave one.
   */
  async #retryLoop(subscription: Subscription): Promise<void> {
    let attempt = 0;
    let refreshes = 0;
    const over = () => this.#closed || subscription.state === 'unsubscribed';
    for (;;) {
      if (over()) return this.#stopped(subscription);
      if (!this.#socket.connected) await this.#connected();
      if (over()) return this.#stopped(subscription);
      try {
        await subscription.sync();
        return;
      } catch (error) {
        if (over()) return this.#stopped(subscription);
        // Dropped meanwhile: the next connect is the retry, with socket.io's own backoff.
        if (!this.#socket.connected) continue;
        const code = error instanceof JobcastClientError ? error.code : ErrorCode.unavailable;
        const message = error instanceof Error ? error.message : String(error);
        if (code === ErrorCode.tokenExpired && subscription.refreshable && refreshes < 3) {
          refreshes += 1;
          subscription.waiting(code, 'the token expired; getting a fresh one');
          try {
            await subscription.refreshToken();
            continue;
          } catch (refreshError) {
            if (refreshError instanceof JobcastClientError) throw refreshError;
            // The refresh endpoint failed (network, 5xx): try again after the delay below.
          }
        } else if (error instanceof JobcastClientError && !transient(code)) {
          throw error;
        }
        subscription.waiting(code, message);
        await this.#pause(retryDelay(attempt++, this.#retry));
      }
    }
  }

  /** The loop ends without the channel live: a failure only if the connection was closed under it. */
  #stopped(subscription: Subscription): void {
    if (this.#closed && subscription.state !== 'unsubscribed') throw new JobcastClientError(ErrorCode.unavailable, 'connection closed');
  }

  /** Resolves on the next connect, or when the connection is closed. */
  #connected(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#closed) return resolve();
      const done = () => {
        this.#socket.off('connect', done);
        this.#closing.signal.removeEventListener('abort', done);
        resolve();
      };
      this.#socket.on('connect', done);
      this.#closing.signal.addEventListener('abort', done);
    });
  }

  /** Waits `ms`, or less if the connection is closed or replaced meanwhile (retry on the new one at once). */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#socket.off('connect', done);
        this.#closing.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#socket.on('connect', done);
      this.#closing.signal.addEventListener('abort', done);
    });
  }

  #request(request: SubscribeRequest): Promise<SubscribeAck> {
    return new Promise((resolve, reject) => {
      this.#socket.timeout(this.#ackTimeoutMs).emit('subscribe', request, (error: Error | null, ack: SubscribeAck) => {
        if (!error) return resolve(ack);
        // socket.io rejects pending acknowledgements on a disconnect, after marking it.
        if (!this.#socket.connected) return reject(new JobcastClientError(ErrorCode.unavailable, 'the connection dropped during subscribe'));
        // No answer in time: the path is probably dead without having closed (a silent drop).
        // A fresh connection is the cure; it resubscribes every channel from its position.
        if (this.#socket.connected) this.#socket.io.engine?.close();
        reject(new JobcastClientError(ErrorCode.unavailable, 'the gateway did not answer the subscribe in time'));
      });
    });
  }

  #setState(state: ConnectionState, reason?: string): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#emitter.emit('state', reason === undefined ? { state } : { state, reason });
  }
}

/**
 * Connects to a jobcast gateway.
 *
 * @example
 * ```ts
 * import { connect } from 'jobcast/client';
 * const jc = connect({ url: 'https://app.example.com' });
 * const sub = await jc.subscribe(channel, { token });
 * sub.on('progress', ({ data }) => console.log(data.pct));
 * ```
 */
export function connect(options: ConnectOptions = {}): JobcastConnection {
  return new JobcastConnection(options);
}
