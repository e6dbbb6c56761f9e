import { DEFAULTS } from '../defaults.js';
import type { RedisClient } from '../redis/connect.js';
import type { ChannelFeed } from './channel-store.js';
import { channelKeys, channelOfLive } from './keys.js';

/**
 * {@link ChannelFeed} on a dedicated ioredis subscriber connection. Subscribes only to the
 * channels this process's clients hold, so gateways divide pub/sub traffic between them.
 */
export class RedisChannelFeed implements ChannelFeed {
  readonly #sub: RedisClient;
  readonly #prefix: string;
  readonly #sharded: boolean;
  #messageHandler: (channel: string, envelope: string) => void = () => {};
  #resumeHandler: () => void = () => {};
  #everReady = false;
  #closing: Promise<void> | undefined;

  constructor(subscriber: RedisClient, options: { prefix?: string; sharded?: boolean } = {}) {
    this.#sub = subscriber;
    this.#prefix = options.prefix ?? DEFAULTS.keyPrefix;
    this.#sharded = options.sharded ?? false;
    const deliver = (live: string, message: string) => {
      const channel = channelOfLive(this.#prefix, live);
      if (channel !== null) this.#messageHandler(channel, message);
    };
    subscriber.on(this.#sharded ? 'smessage' : 'message', deliver);
    // ioredis resubscribes by itself after a reconnect; what was published in between is
    // missing, so the gateway must read it from the log (onResume).
    subscriber.on('ready', () => {
      if (this.#everReady) this.#resumeHandler();
      this.#everReady = true;
    });
    if (subscriber.status === 'ready') this.#everReady = true;
  }

  async subscribe(channel: string): Promise<void> {
    const live = channelKeys(this.#prefix, channel).live;
    await (this.#sharded ? this.#sub.ssubscribe(live) : this.#sub.subscribe(live));
  }

  async unsubscribe(channel: string): Promise<void> {
    const live = channelKeys(this.#prefix, channel).live;
    await (this.#sharded ? this.#sub.sunsubscribe(live) : this.#sub.unsubscribe(live));
  }

  onMessage(handler: (channel: string, envelope: string) => void): void {
    this.#messageHandler = handler;
  }

  onResume(handler: () => void): void {
    this.#resumeHandler = handler;
  }

  close(): Promise<void> {
    this.#closing ??= this.#sub.quit().then(
      () => undefined,
      () => this.#sub.disconnect(),
    );
    return this.#closing;
  }
}
