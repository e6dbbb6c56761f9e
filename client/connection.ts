import { io, type Socket } from 'socket.io-client';
import { ErrorCode } from '../shared/codes.js';
import { DEFAULT_SOCKET_PATH, PROTOCOL_VERSION } from '../shared/constants.js';
import type { ClientToServerEvents, ServerToClientEvents, StreamPosition, SubscribeAck, SubscribeRequest } from '../shared/protocol.js';
import { Emitter } from './emitter.js';
import { JobcastClientError } from './errors.js';
import { Subscription, type SubscriptionTransport, type TokenSource } from './subscription.js';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Gateway origin. @defaultValue the page's origin (required outside a browser) */
  url?: string;
  /** socket.io path. @defaultValue `/jobcast/socket.io` */
  path?: string;
  /** How long to wait for a subscribe acknowledgement before trying again. @defaultValue 10000 */
  ackTimeoutMs?: number;
  /** Allow HTTP long-polling as a fallback (needs sticky sessions). @defaultValue false */
  polling?: boolean;
}

export interface ConnectionEvents extends Record<string, unknown> {
  state: { state: ConnectionState; reason?: string };
  notice: { code: string; message: string };
}

/** Options of {@link JobcastConnection.subscribe}. */
export interface SubscribeOptions {
  /** Channel token from your server, or a function that fetches a fresh one. */
  token: TokenSource;
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
  readonly #transport: SubscriptionTransport;
  #state: ConnectionState = 'connecting';
  #closed = false;
  #socketId: string | undefined;
  readonly #emitter = new Emitter<ConnectionEvents>();

  constructor(options: ConnectOptions = {}) {
    const url = options.url ?? (typeof location === 'undefined' ? undefined : location.origin);
    if (!url) throw new JobcastClientError(ErrorCode.invalidInput, 'connect({ url }) is required outside a browser');
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.#socket = io(url, {
      path: options.path ?? DEFAULT_SOCKET_PATH,
      // WebSocket first and only by default: no sticky sessions needed behind a load balancer.
      transports: options.polling ? ['websocket', 'polling'] : ['websocket'],
      query: { v: String(PROTOCOL_VERSION) },
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.5,
    });
    const socket = this.#socket;
    socket.on('connect', () => {
      this.#setState('connected');
      for (const subscription of this.#subscriptions.values()) if (subscription.started) this.#sync(subscription);
    });
    socket.on('disconnect', (reason) => {
      for (const subscription of this.#subscriptions.values()) subscription.suspend();
      this.#setState(this.#closed ? 'disconnected' : 'connecting', reason);
      // A server-side disconnect (gateway shutting down) is not retried by socket.io itself.
      if (reason === 'io server disconnect' && !this.#closed) setTimeout(() => !this.#closed && socket.connect(), 200 + Math.random() * 800);
    });
    socket.on('connect_error', (error) => {
      this.#setState('connecting', error.message);
    });
    socket.on('event', (event) => this.#subscriptions.get(event?.channel)?.receive(event));
    socket.on('notice', (notice) => this.#emitter.emit('notice', notice));
    socket.on('hello', (hello) => void (this.#socketId = typeof hello?.socketId === 'string' ? hello.socketId : undefined));

    const self = this;
    this.#transport = {
      get connected() {
        return socket.connected;
      },
      subscribe: (request) => self.#request(request),
      unsubscribe: (channel) => void socket.emit('unsubscribe', { channel }, () => {}),
      start: (subscription) => self.#firstSync(subscription),
      ack: (channel, offset) => {
        if (socket.connected) socket.emit('ack', { channel, offset });
      },
      forget: (subscription) => {
        if (self.#subscriptions.get(subscription.channel) === subscription) self.#subscriptions.delete(subscription.channel);
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
    const subscription = new Subscription(this.#transport, channel, options.token, options.since);
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
    for (const subscription of [...this.#subscriptions.values()]) subscription.unsubscribe();
    this.#socket.disconnect();
    this.#setState('disconnected');
    this.#emitter.clear();
  }

  async #firstSync(subscription: Subscription): Promise<void> {
    try {
      await this.#retrySync(subscription);
    } catch (error) {
      subscription.unsubscribe();
      throw error;
    }
  }

  async #retrySync(subscription: Subscription): Promise<void> {
    for (;;) {
      if (!this.#socket.connected) await this.#connected();
      try {
        await subscription.sync();
        return;
      } catch (error) {
        // Timeouts and drops are retried on the next connect; refusals are final.
        if (error instanceof JobcastClientError && error.code !== ErrorCode.unavailable) throw error;
        if (this.#closed) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250 + Math.random() * 500));
      }
    }
  }

  #sync(subscription: Subscription): void {
    subscription.sync().catch((error: unknown) => {
      // A drop during the subscribe is retried on the next connect; anything else is reported.
      if (!(error instanceof JobcastClientError && error.code === ErrorCode.unavailable && !this.#socket.connected)) subscription.fail(error);
    });
  }

  #connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new JobcastClientError(ErrorCode.unavailable, 'connection closed'));
      this.#socket.once('connect', () => resolve());
    });
  }

  #request(request: SubscribeRequest): Promise<SubscribeAck> {
    return new Promise((resolve, reject) => {
      this.#socket.timeout(this.#ackTimeoutMs).emit('subscribe', request, (error: Error | null, ack: SubscribeAck) => {
        if (error) reject(new JobcastClientError(ErrorCode.unavailable, 'the gateway did not answer the subscribe in time'));
        else resolve(ack);
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
