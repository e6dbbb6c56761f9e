import PusherJs, { type Options } from 'pusher-js';
import WebSocket from 'ws';

import { deferred } from './wait.js';

// pusher-js is CommonJS (`module.exports = Pusher`) typed as an ES default export: under
// NodeNext the default import is the class at run time but the namespace to the compiler.
const Pusher = PusherJs as unknown as typeof PusherJs.default;
/** A pusher-js client. */
export type Pusher = InstanceType<typeof Pusher>;

/** pusher-js (the npm package, unchanged) pointed at a jobcast gateway instead of Pusher. */
export function pusherJs(gatewayUrl: string, key: string, options: Partial<Options> = {}): Pusher {
  const url = new URL(gatewayUrl);
  return new Pusher(key, {
    cluster: 'jobcast',
    wsHost: url.hostname,
    wsPort: Number(url.port),
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    ...options,
  });
}

/** Resolves when `pusher` is connected (rejects on failure or after `timeoutMs`). */
export function connected(pusher: Pusher, timeoutMs = 5000): Promise<string> {
  const done = deferred<string>();
  if (pusher.connection.state === 'connected') return Promise.resolve(pusher.connection.socket_id);
  const timer = setTimeout(() => done.reject(new Error(`pusher-js not connected after ${timeoutMs} ms (${pusher.connection.state})`)), timeoutMs);
  pusher.connection.bind('connected', () => {
    clearTimeout(timer);
    done.resolve(pusher.connection.socket_id);
  });
  return done.promise;
}

/** One frame as it came off the wire, parsed. */
export interface RawFrame {
  event: string;
  channel?: string;
  data?: unknown;
  jobcast?: { epoch: string; offset: number; recovered?: boolean };
  [extra: string]: unknown;
}

/**
 * A bare WebSocket speaking the Pusher protocol by hand, to see frames exactly as the gateway
 * sends them and to send what no SDK would.
 */
export class RawPusherSocket {
  readonly frames: RawFrame[] = [];
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: { match: (f: RawFrame) => boolean; resolve: (f: RawFrame) => void }[] = [];

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, options);
    const closed = deferred<{ code: number; reason: string }>();
    this.closed = closed.promise;
    this.ws.on('close', (code, reason) => closed.resolve({ code, reason: reason.toString() }));
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as RawFrame;
      this.frames.push(frame);
      this.#waiters = this.#waiters.filter((w) => (w.match(frame) ? (w.resolve(frame), false) : true));
    });
  }

  /** Opens `/app/<key>` with the query pusher-js sends. */
  static connect(
    gatewayUrl: string,
    key: string,
    query = 'protocol=7&client=js&version=8.6.0&flash=false',
    options: WebSocket.ClientOptions = {},
  ): RawPusherSocket {
    return new RawPusherSocket(`${gatewayUrl.replace(/^http/, 'ws')}/app/${encodeURIComponent(key)}?${query}`, options);
  }

  /** The first frame (already received or still to come) that `match` accepts. */
  next(match: (f: RawFrame) => boolean, what: string, timeoutMs = 5000): Promise<RawFrame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.frames).slice(0, 600)}`)), timeoutMs);
      this.#waiters.push({ match, resolve: (f) => (clearTimeout(timer), resolve(f)) });
    });
  }

  event(name: string, channel?: string): Promise<RawFrame> {
    return this.next((f) => f.event === name && (channel === undefined || f.channel === channel), `${name}${channel ? ` on ${channel}` : ''}`);
  }

  /** The socket id from `pusher:connection_established`. */
  async socketId(): Promise<string> {
    const frame = await this.event('pusher:connection_established');
    return (JSON.parse(frame.data as string) as { socket_id: string }).socket_id;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  close(): void {
    this.ws.terminate();
  }
}
