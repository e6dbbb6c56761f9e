import type WebSocket from 'ws';

import { ChannelName, jobIdOfChannel } from '../../../shared/channels.js';
import type { ChannelEvent, StreamPosition, SubscribeOk } from '../../../shared/protocol.js';
import { PusherCode } from '../../../shared/pusher-codes.js';
import { PusherClientFrame, PusherSubscribeData, PusherUnsubscribeData } from '../../../shared/pusher-protocol.js';
import type { App } from '../../apps/apps.js';
import { JobcastError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { HubMember } from '../channel-hub.js';
import { type ChannelNamespace, internalChannel, kindOf, signatureValid } from './pusher-channels.js';
import { closeReason, errorFrame, type EventFrame, eventFrame, PING, PONG, subscriptionError, subscriptionSucceeded } from './pusher-frames.js';

/** The hub as a Pusher connection uses it. */
export interface MemberHub {
  joinMember(member: HubMember, channel: string, since: StreamPosition | undefined): Promise<SubscribeOk | null>;
  leaveMember(member: HubMember, channel: string): void;
}

/** What every Pusher connection of one gateway shares. */
export interface PusherConnectionContext {
  hub: MemberHub;
  apps: ChannelNamespace & { defaultAppId: string };
  /** Appends a client event (`exclude`: the sender, who does not get it back). */
  append(channel: string, event: string, data: unknown, options: { exclude: string }): Promise<unknown>;
  /** The app that started a job over the HTTP API, or `null` (the default app's). */
  appOfJob(jobId: string): Promise<string | null>;
  /** Resolves when this connection may subscribe once more; rejects when it is over its rate. */
  consumeSubscribe(socketId: string): Promise<void>;
  consumeClientEvent(socketId: string): Promise<void>;
  maxSubscriptions: number;
  maxMessageBytes: number;
  /** Silence after which the gateway pings, and how long it then waits for any message. */
  activityTimeoutMs: number;
  pongTimeoutMs: number;
  /** Bytes waiting in the socket above which progress is conflated, and below which it is not. */
  highWaterBytes: number;
  lowWaterBytes: number;
  onConflated(): void;
  log: Logger;
}

/**
 * One Pusher protocol connection: its subscriptions (Pusher name → internal channel), the
 * heartbeat, and delivery from the hub, conflating progress while the socket cannot keep up
 * (outcomes and custom events are always sent, in order).
 */
export class PusherConnection implements HubMember {
  readonly socketId: string;
  readonly #ws: WebSocket;
  readonly #app: App;
  readonly #cx: PusherConnectionContext;
  /** Joined channels: Pusher name → internal name. */
  readonly #channels = new Map<string, string>();
  readonly #pending = new Set<string>();
  /** While slow: the newest progress not yet sent, per internal channel. */
  #held: Map<string, ChannelEvent> | null = null;
  #lastSeen = Date.now();
  #pingSentAt: number | null = null;
  #closed = false;

  constructor(ws: WebSocket, app: App, socketId: string, cx: PusherConnectionContext) {
    this.#ws = ws;
    this.#app = app;
    this.socketId = socketId;
    this.#cx = cx;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get subscriptionCount(): number {
    return this.#channels.size;
  }

  get slow(): boolean {
    return this.#held !== null;
  }

  /** One text message from the client. Anything wrong gets a `pusher:error` and changes nothing. */
  receive(raw: Buffer | string): void {
    this.#lastSeen = Date.now();
    this.#pingSentAt = null;
    const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
    if (size > this.#cx.maxMessageBytes) return this.#error(PusherCode.invalidMessage, `message over the ${this.#cx.maxMessageBytes}-byte limit`);
    let json: unknown;
    try {
      json = JSON.parse(raw.toString());
    } catch {
      return this.#error(PusherCode.invalidMessage, 'message is not JSON');
    }
    const frame = PusherClientFrame.safeParse(json);
    if (!frame.success) return this.#error(PusherCode.invalidMessage, 'message needs an event name (a string of 1-200 characters)');
    const { event, channel } = frame.data;
    // Some clients send data JSON-encoded as a string, as the server does.
    let data = frame.data.data;
    if (typeof data === 'string' && (event === 'pusher:subscribe' || event === 'pusher:unsubscribe')) {
      try {
        data = JSON.parse(data);
      } catch {
        // left as it is: the schema check below refuses it
      }
    }
    switch (event) {
      case 'pusher:ping':
        return this.#send(PONG);
      case 'pusher:pong':
        return;
      case 'pusher:subscribe':
        return void this.#subscribe(data);
      case 'pusher:unsubscribe':
        return this.#unsubscribe(data);
      default:
        if (event.startsWith('client-')) return void this.#clientEvent(event, channel, data);
        return this.#error(PusherCode.invalidMessage, `unknown event ${JSON.stringify(event).slice(0, 80)}`);
    }
  }

  /** Called by the gateway's sweep: ping a silent client, close one that stays silent. */
  checkAlive(now: number): void {
    if (this.#closed) return;
    if (this.#pingSentAt !== null) {
      if (now - this.#pingSentAt > this.#cx.pongTimeoutMs) this.close(PusherCode.pongTimeout, 'no pong or other message came back in time');
    } else if (now - this.#lastSeen > this.#cx.activityTimeoutMs) {
      this.#pingSentAt = now;
      this.#send(PING);
    }
    if (this.#held && this.#ws.bufferedAmount < this.#cx.lowWaterBytes) {
      const held = this.#held;
      this.#held = null;
      for (const event of held.values()) this.#sendEvent(eventFrame(event));
    }
  }

  deliver(event: ChannelEvent): void {
    if (this.#closed) return;
    if (!this.#held && this.#ws.bufferedAmount > this.#cx.highWaterBytes) this.#held = new Map();
    const held = this.#held;
    if (!held) return this.#sendEvent(eventFrame(event));
    if (event.event === 'progress') {
      if (held.has(event.channel)) this.#cx.onConflated();
      held.set(event.channel, event);
      return;
    }
    // Progress held for this channel goes first, so the client sees the order events had.
    const progress = held.get(event.channel);
    if (progress) {
      held.delete(event.channel);
      this.#sendEvent(eventFrame(progress));
    }
    this.#sendEvent(eventFrame(event));
  }

  /** Sends a fatal `pusher:error` and closes with its code; leaves every channel. Idempotent. */
  close(code: number, message: string): void {
    if (!this.#closed) {
      this.#send(errorFrame(code, message));
      this.#ws.close(code, closeReason(message));
    }
    this.released();
  }

  /** The socket is gone: leave every channel. Idempotent. */
  released(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const channel of this.#channels.values()) this.#cx.hub.leaveMember(this, channel);
    this.#channels.clear();
    this.#held = null;
  }

  async #subscribe(raw: unknown): Promise<void> {
    const parsed = PusherSubscribeData.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const name = (raw as { channel?: unknown } | null)?.channel;
      const message = `pusher:subscribe: ${issue ? `${issue.path.join('.') || 'data'}: ${issue.message}` : 'invalid data'}`;
      if (typeof name === 'string' && name.length <= 200) return this.#send(subscriptionError(name, 400, message));
      return this.#error(PusherCode.invalidMessage, message);
    }
    const { channel: name, auth, jobcast: since } = parsed.data;
    const refuse = (status: number, message: string) => this.#send(subscriptionError(name, status, message));
    try {
      await this.#cx.consumeSubscribe(this.socketId);
    } catch {
      return refuse(429, 'too many subscribes; slow down');
    }
    if (this.#closed) return;
    if (this.#channels.has(name) || this.#pending.has(name)) return refuse(409, `already subscribed to ${name}`);
    if (this.#channels.size + this.#pending.size >= this.#cx.maxSubscriptions)
      return refuse(429, `at most ${this.#cx.maxSubscriptions} subscriptions per connection`);
    const kind = kindOf(name);
    if (kind === 'presence') return refuse(501, 'presence channels are not supported by jobcast; use a private- channel');
    if (kind === 'encrypted') return refuse(501, 'encrypted channels are not supported by jobcast; use a private- channel');
    if (kind === 'public' && !this.#app.publicChannels) return refuse(403, 'public channels are off for this app; use a private- channel');
    if (kind === 'private' && !signatureValid(this.#app, this.socketId, name, auth))
      return refuse(401, 'invalid signature: auth must be the app key and the HMAC-SHA256 of "socket_id:channel" with the app secret');
    const internal = internalChannel(this.#cx.apps, this.#app.id, name);
    if (!ChannelName.safeParse(internal).success) return refuse(400, 'channel name is too long');
    this.#pending.add(name);
    try {
      const jobId = jobIdOfChannel(internal);
      // Another app's job is not this app's to read, even with a valid signature of its own.
      if (jobId !== null && ((await this.#cx.appOfJob(jobId)) ?? this.#cx.apps.defaultAppId) !== this.#app.id) {
        return refuse(403, `the job of ${name} does not belong to this app`);
      }
      if (this.#closed) return;
      const ok = await this.#cx.hub.joinMember(this, internal, since);
      if (!ok) return;
      this.#channels.set(name, internal);
      // Synchronous from the join: the snapshot (or what was missed) precedes any live event.
      this.#send(subscriptionSucceeded(name, { epoch: ok.epoch, offset: ok.offset, recovered: ok.recovered }));
      for (const event of ok.events) this.#sendEvent(eventFrame(event));
    } catch (error) {
      if (error instanceof JobcastError) return refuse(error.status, error.message);
      this.#cx.log.error({ err: error, channel: internal }, 'Pusher subscribe failed');
      refuse(503, 'the channel could not be read; try again');
    } finally {
      this.#pending.delete(name);
    }
  }

  #unsubscribe(raw: unknown): void {
    const parsed = PusherUnsubscribeData.safeParse(raw);
    if (!parsed.success) return this.#error(PusherCode.invalidMessage, 'pusher:unsubscribe: channel is missing or invalid');
    const internal = this.#channels.get(parsed.data.channel);
    if (internal === undefined) return;
    this.#channels.delete(parsed.data.channel);
    this.#held?.delete(internal);
    this.#cx.hub.leaveMember(this, internal);
  }

  async #clientEvent(event: string, name: string | undefined, data: unknown): Promise<void> {
    if (!this.#app.clientEvents) return this.#error(PusherCode.clientEventRefused, 'client events are off for this app');
    const internal = name === undefined ? undefined : this.#channels.get(name);
    if (name === undefined || internal === undefined)
      return this.#error(PusherCode.clientEventRefused, 'client events need a channel this connection is subscribed to');
    if (kindOf(name) !== 'private' || jobIdOfChannel(internal) !== null)
      return this.#error(PusherCode.clientEventRefused, 'client events are allowed on private- channels only, not on job channels');
    try {
      await this.#cx.consumeClientEvent(this.socketId);
    } catch {
      return this.#error(PusherCode.rateLimited, 'too many client events; at most 10 per second');
    }
    try {
      await this.#cx.append(internal, event, data ?? null, { exclude: this.socketId });
    } catch (error) {
      this.#error(PusherCode.invalidMessage, error instanceof JobcastError ? error.message : 'the event could not be published');
    }
  }

  #error(code: number, message: string): void {
    this.#send(errorFrame(code, message));
  }

  #send(frame: string | Buffer): void {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(frame, { binary: false });
  }

  /**
   * The broadcast fast path, as for socket.io connections (event-frames.ts): the WebSocket
   * frame built once per event goes to ws's sender as one buffer. Compression is off on this
   * endpoint, so ws's sender has no queue of its own that this could overtake.
   */
  #sendEvent(frame: EventFrame): void {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return;
    const sender = (this.#ws as unknown as { _sender?: { sendFrame?: (list: Buffer[]) => void } })._sender;
    if (typeof sender?.sendFrame === 'function') sender.sendFrame([frame.wire]);
    else this.#ws.send(frame.payload, { binary: false });
  }
}
