import { randomInt } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { IncomingMessage } from 'node:http';

import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { Server } from 'socket.io';

import { ErrorCode } from '../../shared/codes.js';
import { DEFAULT_SOCKET_PATH, type Failure, OutcomeAck, SubscribeRequest, UnsubscribeRequest } from '../../shared/protocol.js';
import type { ChannelFeed, ChannelStore } from '../channels/channel-store.js';
import { JobcastError } from '../errors.js';
import { originAllowed } from '../http/security.js';
import type { Timeline } from '../jobs/timeline.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { RedisClient } from '../redis/connect.js';
import type { TokenSigner } from '../tokens.js';
import { ChannelHub } from './channel-hub.js';
import { releaseHandshake, settleIdle, trackUpgradeResponses } from './idle-connection.js';
import { PresenceWriter } from './presence.js';
import { PusherEndpoint, type PusherEndpointContext, type PusherEndpointOptions } from './pusher/pusher-endpoint.js';
import { type SlowConsumerOptions, SlowConsumers } from './slow-consumers.js';
import { stageProbeFromEnv } from './stage-probe.js';
import type { GatewayServer, GatewaySocket } from './types.js';

/** Options of {@link attachGateway}. */
export interface GatewayOptions {
  store: ChannelStore;
  feed: ChannelFeed;
  signer: TokenSigner;
  logger: Logger;
  /** socket.io path. @defaultValue `/jobcast/socket.io` */
  path?: string;
  /** Browser origins allowed to connect; `true` reflects any origin. @defaultValue true */
  origins?: string[] | true;
  /** Channels one connection may hold at once. @defaultValue 100 */
  maxSubscriptionsPerConnection?: number;
  /** Connections one client IP may hold at once. @defaultValue 1000 */
  maxConnectionsPerIp?: number;
  /** Subscribes one connection may send per second. @defaultValue 50 */
  subscribesPerSecond?: number;
  /** Take the client IP from X-Forwarded-For (behind a proxy you run). @defaultValue false */
  trustProxy?: boolean;
  /** When a client counts as slow and gets conflated progress. */
  slowConsumers?: SlowConsumerOptions;
  /** Where to publish this gateway's subscription counts (channel info across gateways). */
  presence?: { redis: RedisClient; keyPrefix: string };
  metrics?: Metrics;
  /** Where deliveries and acknowledgements of job events are recorded. */
  timeline?: Timeline;
  /**
   * Heartbeats, tuned for a progress bar: a ping every `intervalMs`, a connection with no
   * answer within `timeoutMs` more is closed, on both ends (the client learns both values in
   * the handshake). A silent drop is found within their sum. @defaultValue 5000 and 5000
   */
  heartbeat?: { intervalMs?: number; timeoutMs?: number };
  /**
   * The Pusher Channels protocol at `/app/<key>` for these apps' keys (off without apps).
   * `appOfJob`: which app started a job, so only that app's clients reach its channel.
   */
  pusher?: PusherEndpointOptions & { apps: PusherEndpointContext['apps']; appOfJob: PusherEndpointContext['appOfJob'] };
}

/** A running gateway: the socket.io server and the hub of live channels. */
export interface Gateway {
  io: GatewayServer;
  /** Live Redis subscriptions held by this process. */
  readonly channelCount: number;
  /** Progress events not sent to slow clients because a newer one replaced them. */
  readonly conflated: number;
  /** Connections, channels held, and live messages received from Redis so far. */
  stats(): {
    connections: number;
    pusherConnections: number;
    channels: number;
    subscriptions: number;
    received: number;
    slow: number;
    unacknowledgedOutcomes: number;
  };
  /** Tells clients to reconnect elsewhere, closes every connection; idempotent. */
  close(): Promise<void>;
}

/**
 * Attaches the jobcast socket.io gateway to an HTTP server.
 *
 * @example
 * ```ts
 * const gateway = attachGateway(httpServer, { store, feed, signer, logger });
 * ```
 */
export function attachGateway(httpServer: HttpServer, options: GatewayOptions): Gateway {
  const log = options.logger.child({ role: 'gateway' });
  const maxSubs = options.maxSubscriptionsPerConnection ?? 100;
  const io: GatewayServer = new Server(httpServer, {
    path: options.path ?? DEFAULT_SOCKET_PATH,
    cors: { origin: options.origins ?? true },
    // WebSocket upgrades are not covered by CORS: the Origin check happens here for both.
    allowRequest: (req, callback) => {
      if (!originAllowed(options.origins ?? true, req.headers.origin)) return callback('origin not allowed', false);
      const ip = clientIp(req);
      if ((perIp.get(ip) ?? 0) >= maxPerIp) return callback('too many connections from this address', false);
      callback(null, true);
    },
    // Delivery is ours (offsets + log); socket.io's own recovery would duplicate it.
    serveClient: false,
    pingInterval: options.heartbeat?.intervalMs ?? 5000,
    pingTimeout: options.heartbeat?.timeoutMs ?? 5000,
  });
  trackUpgradeResponses(io);
  const slow = new SlowConsumers(io, { ...options.slowConsumers, ...(options.metrics ? { onConflated: () => options.metrics!.conflated.inc() } : {}) });
  const hub = new ChannelHub(options.store, options.feed, log, slow, options.metrics, options.timeline, stageProbeFromEnv());
  const presence = options.presence ? new PresenceWriter(options.presence.redis, options.presence.keyPrefix, () => hub.counts()) : null;

  // Pusher SDKs accept only ids shaped `<digits>.<digits>` as socket_id: one number for this
  // gateway process, one per connection.
  const gatewayNumber = randomInt(1, 2 ** 31);
  const maxPerIp = options.maxConnectionsPerIp ?? 1000;
  const perIp = new Map<string, number>();
  const clientIp = (req: IncomingMessage) => {
    const forwarded = options.trustProxy
      ? String(req.headers['x-forwarded-for'] ?? '')
          .split(',')[0]
          ?.trim()
      : '';
    return forwarded || req.socket.remoteAddress || 'unknown';
  };
  const subscribeLimiter = new RateLimiterMemory({ points: options.subscribesPerSecond ?? 50, duration: 1 });
  let connections = 0;
  const release = (ip: string) => {
    const left = (perIp.get(ip) ?? 1) - 1;
    if (left > 0) perIp.set(ip, left);
    else perIp.delete(ip);
  };
  const highWaterBytes = options.slowConsumers?.highWaterBytes ?? 1024 * 1024;
  let pusherConflated = 0;
  const pusher = options.pusher
    ? new PusherEndpoint(httpServer, {
        ...options.pusher,
        hub,
        append: (channel, event, data, opts) => options.store.append(channel, event, data, opts),
        origins: options.origins ?? true,
        admit: (ip) => {
          if ((perIp.get(ip) ?? 0) >= maxPerIp) return false;
          perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
          return true;
        },
        release,
        clientIp,
        nextSocketId: () => `${gatewayNumber}.${++connections}`,
        consumeSubscribe: async (id) => void (await subscribeLimiter.consume(id)),
        maxSubscriptions: maxSubs,
        highWaterBytes,
        lowWaterBytes: options.slowConsumers?.lowWaterBytes ?? Math.floor(highWaterBytes / 4),
        onConflated: () => {
          pusherConflated += 1;
          options.metrics?.conflated.inc();
        },
        log: log.child({ transport: 'pusher' }),
      })
    : null;

  // One listener each for every connection, not a closure per connection (memory per idle
  // connection): socket.io calls them, the catch-all one too, with the socket as `this`.
  function onSubscribe(this: GatewaySocket, request: unknown, ack: unknown): void {
    void subscribe(this, request, ack);
  }
  function onUnsubscribe(this: GatewaySocket, request: unknown, ack: unknown): void {
    unsubscribe(this, request, ack);
  }
  function onAck(this: GatewaySocket, raw: unknown): void {
    const parsed = OutcomeAck.safeParse(raw);
    if (parsed.success && this.data.channels.has(parsed.data.channel)) hub.ack(parsed.data.channel, parsed.data.offset, this.data.socketId);
  }
  function onDisconnect(this: GatewaySocket): void {
    release(this.data.ip);
    slow.forget(this);
    for (const channel of this.data.channels) hub.leave(this, channel);
    this.data.channels.clear();
  }
  function onAnyEvent(this: GatewaySocket, event: unknown): void {
    if (event !== 'subscribe' && event !== 'unsubscribe' && event !== 'ack') {
      this.emit('notice', { code: ErrorCode.invalidFrame, message: `unknown message ${JSON.stringify(String(event)).slice(0, 80)}` });
    }
  }
  const anyListeners = Object.freeze([onAnyEvent]);

  io.on('connection', (socket) => {
    const ip = clientIp(socket.request);
    perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
    releaseHandshake(socket);
    socket.data.channels = new Set();
    socket.data.socketId = `${gatewayNumber}.${++connections}`;
    socket.data.ip = ip;
    socket.emit('hello', { socketId: socket.data.socketId });
    socket.on('subscribe', onSubscribe);
    socket.on('unsubscribe', onUnsubscribe);
    socket.on('ack', onAck);
    socket.on('disconnect', onDisconnect);
    // Last, once every listener is on: the catch-all listener goes in here (idle-connection.ts).
    settleIdle(socket, anyListeners);
  });

  async function subscribe(socket: GatewaySocket, raw: unknown, ack: unknown): Promise<void> {
    if (typeof ack !== 'function') {
      socket.emit('notice', { code: ErrorCode.invalidFrame, message: 'subscribe needs an acknowledgement callback' });
      return;
    }
    const reply = ack as (response: unknown) => void;
    try {
      await subscribeLimiter.consume(socket.id);
    } catch (limited) {
      const retryAfterMs = limited instanceof RateLimiterRes ? limited.msBeforeNext : 1000;
      reply({ ok: false, error: { code: ErrorCode.rateLimited, message: `too many subscribes; retry in ${retryAfterMs} ms`, retryAfterMs } });
      return;
    }
    const parsed = SubscribeRequest.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      reply(failure(ErrorCode.invalidFrame, `subscribe: ${issue ? `${issue.path.join('.') || 'request'}: ${issue.message}` : 'invalid request'}`));
      return;
    }
    const { channel, token, since } = parsed.data;
    const pending = socket.data.pending;
    if (socket.data.channels.has(channel) || pending?.has(channel)) {
      reply(failure(ErrorCode.conflict, `already subscribed to ${channel}; unsubscribe first`));
      return;
    }
    if (socket.data.channels.size + (pending?.size ?? 0) >= maxSubs) {
      reply(failure(ErrorCode.rateLimited, `at most ${maxSubs} subscriptions per connection`));
      return;
    }
    // Pending until joined: a disconnect meanwhile must not release a channel not yet held.
    (socket.data.pending ??= new Set()).add(channel);
    try {
      await options.signer.authorize(token, channel, 'subscribe');
      const ok = await hub.join(socket, channel, since);
      settle(socket, channel);
      if (ok) {
        socket.data.channels.add(channel);
        reply(ok);
      }
    } catch (error) {
      settle(socket, channel);
      if (error instanceof JobcastError) {
        reply({ ok: false, error: error.toWire() });
      } else {
        log.error({ err: error, channel }, 'subscribe failed');
        reply(failure(ErrorCode.unavailable, 'the channel could not be read; try again'));
      }
    }
  }

  /** No longer pending; an idle connection keeps no empty set of pending subscribes. */
  function settle(socket: GatewaySocket, channel: string): void {
    socket.data.pending?.delete(channel);
    if (socket.data.pending?.size === 0) delete socket.data.pending;
  }

  function unsubscribe(socket: GatewaySocket, raw: unknown, ack: unknown): void {
    const reply = typeof ack === 'function' ? (ack as (response: unknown) => void) : () => {};
    const parsed = UnsubscribeRequest.safeParse(raw);
    if (!parsed.success) {
      reply(failure(ErrorCode.invalidFrame, 'unsubscribe: channel is missing or invalid'));
      return;
    }
    const { channel } = parsed.data;
    if (socket.data.channels.delete(channel)) hub.leave(socket, channel);
    reply({ ok: true });
  }

  let closing: Promise<void> | undefined;
  return {
    io,
    get channelCount() {
      return hub.channelCount;
    },
    get conflated() {
      return slow.conflated + pusherConflated;
    },
    stats() {
      let subscriptions = 0;
      for (const n of hub.counts().values()) subscriptions += n;
      const pusherConnections = pusher?.connectionCount ?? 0;
      return {
        connections: io.engine.clientsCount + pusherConnections,
        pusherConnections,
        channels: hub.channelCount,
        subscriptions,
        received: hub.received,
        slow: slow.slowCount + (pusher?.slowCount ?? 0),
        unacknowledgedOutcomes: hub.unacknowledged,
      };
    },
    close() {
      closing ??= (async () => {
        // Each socket, not io.emit: sockets leave their own room (settleIdle), io.emit reaches rooms.
        for (const socket of io.of('/').sockets.values()) socket.emit('notice', { code: ErrorCode.unavailable, message: 'gateway shutting down; reconnect' });
        await pusher?.close();
        // Closing the engine also closes the HTTP server; the caller owns that, so only sockets.
        slow.close();
        await presence?.close();
        for (const socket of io.of('/').sockets.values()) socket.disconnect(true);
        io.engine.close();
        await options.feed.close();
      })();
      return closing;
    },
  };
}

function failure(code: string, message: string): Failure {
  return { ok: false, error: { code, message } };
}
