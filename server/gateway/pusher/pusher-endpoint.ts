import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';

import { RateLimiterMemory } from 'rate-limiter-flexible';
import { type WebSocket, WebSocketServer } from 'ws';

import { PusherCode } from '../../../shared/pusher-codes.js';
import { PUSHER_PATH_PREFIX, PUSHER_PROTOCOL_VERSIONS } from '../../../shared/pusher-protocol.js';
import type { App } from '../../apps/apps.js';
import { originAllowed, type Origins } from '../../http/security.js';
import type { Logger } from '../../logger.js';
import type { ChannelNamespace } from './pusher-channels.js';
import { PusherConnection, type PusherConnectionContext } from './pusher-connection.js';
import { closeReason, connectionEstablished, errorFrame } from './pusher-frames.js';

/** Options of the Pusher protocol endpoint, as a gateway passes them. */
export interface PusherEndpointOptions {
  /**
   * Seconds of silence after which the gateway pings a client, told to clients as
   * `activity_timeout` (they ping after that long too). @defaultValue 10
   */
  activityTimeoutSeconds?: number;
  /** How long a ping waits for any message before the connection is closed (4201). @defaultValue 4000 */
  pongTimeoutMs?: number;
  /** Largest client message; bigger ones get `pusher:error` 4300 (Pusher's 10 KB). @defaultValue 10240 */
  maxMessageBytes?: number;
  /** Client events one connection may send per second (Pusher's 10). @defaultValue 10 */
  clientEventsPerSecond?: number;
}

/** What the Pusher endpoint takes from the gateway it is part of. */
export interface PusherEndpointContext extends PusherEndpointOptions {
  apps: ChannelNamespace & { defaultAppId: string; byKey(key: string): App | undefined };
  hub: PusherConnectionContext['hub'];
  append: PusherConnectionContext['append'];
  appOfJob: PusherConnectionContext['appOfJob'];
  origins: Origins;
  /** Takes a connection slot for `ip`; false when the address is at its limit. */
  admit(ip: string): boolean;
  release(ip: string): void;
  clientIp(req: IncomingMessage): string;
  nextSocketId(): string;
  consumeSubscribe(socketId: string): Promise<void>;
  maxSubscriptions: number;
  highWaterBytes: number;
  lowWaterBytes: number;
  onConflated(): void;
  log: Logger;
}

/** The hard cap on a client message: ws closes the connection (1009) past it, before parsing. */
const MAX_FRAME_BYTES = 256 * 1024;

/**
 * The Pusher Channels protocol at `/app/<key>` on the gateway's HTTP server, beside socket.io:
 * a `ws` server in noServer mode takes the upgrades of that path only (engine.io takes its
 * own path and leaves other upgrades alone long enough for this one to answer).
 */
export class PusherEndpoint {
  readonly #cx: PusherEndpointContext;
  readonly #http: HttpServer;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
  readonly #connections = new Set<PusherConnection>();
  readonly #connectionContext: PusherConnectionContext;
  readonly #sweep: ReturnType<typeof setInterval>;
  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head);
  #closing: Promise<void> | undefined;

  constructor(http: HttpServer, cx: PusherEndpointContext) {
    this.#cx = cx;
    this.#http = http;
    const activityTimeoutMs = (cx.activityTimeoutSeconds ?? 10) * 1000;
    const clientEvents = new RateLimiterMemory({ points: cx.clientEventsPerSecond ?? 10, duration: 1 });
    this.#connectionContext = {
      hub: cx.hub,
      apps: cx.apps,
      append: cx.append,
      appOfJob: cx.appOfJob,
      consumeSubscribe: cx.consumeSubscribe,
      consumeClientEvent: async (id) => void (await clientEvents.consume(id)),
      maxSubscriptions: cx.maxSubscriptions,
      maxMessageBytes: cx.maxMessageBytes ?? 10_240,
      activityTimeoutMs,
      pongTimeoutMs: cx.pongTimeoutMs ?? 4000,
      highWaterBytes: cx.highWaterBytes,
      lowWaterBytes: cx.lowWaterBytes,
      onConflated: cx.onConflated,
      log: cx.log,
    };
    http.on('upgrade', this.#onUpgrade);
    // One timer for every connection: the heartbeat and the drain of slow ones. A silent
    // connection is pinged after the activity timeout and closed a pong timeout later.
    this.#sweep = setInterval(
      () => {
        const now = Date.now();
        for (const connection of this.#connections) connection.checkAlive(now);
      },
      Math.min(1000, Math.max(50, activityTimeoutMs / 10)),
    );
    this.#sweep.unref();
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  get slowCount(): number {
    let n = 0;
    for (const connection of this.#connections) if (connection.slow) n += 1;
    return n;
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Split by hand: `new URL` throws on some request targets, and this runs for every upgrade.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    if (!path.startsWith(PUSHER_PATH_PREFIX)) return;
    if (this.#closing) {
      socket.destroy();
      return;
    }
    // Refusals travel inside the WebSocket, as Pusher sends them, so clients act on the code
    // (a failed upgrade would only make them retry).
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      try {
        this.#accept(ws, req, path.slice(PUSHER_PATH_PREFIX.length), new URLSearchParams(q < 0 ? '' : target.slice(q + 1)));
      } catch (error) {
        this.#cx.log.error({ err: error }, 'Pusher connection setup failed');
        ws.terminate();
      }
    });
  }

  #accept(ws: WebSocket, req: IncomingMessage, rawKey: string, query: URLSearchParams): void {
    const refuse = (code: number, message: string) => {
      ws.send(errorFrame(code, message));
      ws.close(code, closeReason(message));
    };
    ws.on('error', () => {});
    let key = '';
    try {
      key = decodeURIComponent(rawKey);
    } catch {
      // a malformed escape: no key
    }
    if (!key || key.includes('/')) return refuse(PusherCode.pathNotFound, 'connect to /app/<app key>');
    const protocol = query.get('protocol');
    if (protocol === null) return refuse(PusherCode.noProtocol, 'the protocol query parameter is required (7)');
    if (!(PUSHER_PROTOCOL_VERSIONS as readonly number[]).includes(Number(protocol)))
      return refuse(PusherCode.unsupportedProtocol, `protocol ${protocol.slice(0, 10)} is not supported; use 7`);
    if (!originAllowed(this.#cx.origins, req.headers.origin)) return refuse(PusherCode.unauthorized, 'origin not allowed');
    const app = this.#cx.apps.byKey(key);
    if (!app) return refuse(PusherCode.unknownApp, `app key ${JSON.stringify(key).slice(0, 60)} does not exist`);
    if (!app.enabled) return refuse(PusherCode.appDisabled, `app ${app.id} is disabled`);
    const ip = this.#cx.clientIp(req);
    if (!this.#cx.admit(ip)) return refuse(PusherCode.overCapacity, 'too many connections from this address; try again later');

    const connection = new PusherConnection(ws, app, this.#cx.nextSocketId(), this.#connectionContext);
    this.#connections.add(connection);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return void ws.send(errorFrame(PusherCode.invalidMessage, 'binary messages are not part of the protocol'));
      try {
        connection.receive(data as Buffer);
      } catch (error) {
        this.#cx.log.error({ err: error }, 'Pusher message handling failed');
      }
    });
    ws.once('close', () => {
      this.#connections.delete(connection);
      connection.released();
      this.#cx.release(ip);
    });
    ws.send(connectionEstablished(connection.socketId, this.#connectionContext.activityTimeoutMs / 1000));
  }

  /** Tells every client to reconnect elsewhere (4200) and stops taking upgrades; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sweep);
      this.#http.off('upgrade', this.#onUpgrade);
      for (const connection of this.#connections) connection.close(PusherCode.reconnect, 'gateway shutting down; reconnect');
      this.#connections.clear();
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    })();
    return this.#closing;
  }
}
