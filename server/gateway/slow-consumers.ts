import type { ChannelEvent } from '../../shared/protocol.js';
import { bufferedBytes } from './event-frames.js';
import type { LiveEvent } from './live-event.js';
import type { GatewayServer, GatewaySocket } from './types.js';

/** Options of {@link SlowConsumers}. */
export interface SlowConsumerOptions {
  /** A socket with more than this many bytes waiting to be written is slow. @defaultValue 1 MiB */
  highWaterBytes?: number;
  /** A slow socket is fast again below this. @defaultValue a quarter of highWaterBytes */
  lowWaterBytes?: number;
  /** How often sockets are checked. @defaultValue 100 */
  intervalMs?: number;
  /** Called for each progress event replaced by a newer one (metrics). */
  onConflated?: () => void;
}

/**
 * Progress is conflatable, outcomes are not: a client whose socket cannot keep up stops
 * receiving the broadcast; it gets the newest progress of each channel once it drains, and
 * every other event at once (after the progress it held, so order is kept). Memory per slow
 * socket is then bounded by its channels, not by the event rate.
 */
export class SlowConsumers {
  readonly #io: GatewayServer;
  readonly #high: number;
  readonly #low: number;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #onConflated: (() => void) | undefined;
  /** Per slow socket: the newest progress not yet sent, per channel. */
  readonly #held = new Map<GatewaySocket, Map<string, ChannelEvent>>();
  /** Progress events not sent because a newer one replaced them. */
  conflated = 0;

  constructor(io: GatewayServer, options: SlowConsumerOptions = {}) {
    this.#io = io;
    this.#high = options.highWaterBytes ?? 1024 * 1024;
    this.#low = options.lowWaterBytes ?? Math.floor(this.#high / 4);
    this.#onConflated = options.onConflated;
    this.#timer = setInterval(() => this.#sweep(), options.intervalMs ?? 100);
    this.#timer.unref();
  }

  get slowCount(): number {
    return this.#held.size;
  }

  /**
   * Takes `event` for `socket` if that socket is slow (the caller then sends it nothing):
   * progress waits, replacing older progress of the same channel; anything else goes at once,
   * after the progress it held, so order is kept. Returns false for a socket that keeps up.
   */
  deliverTo(socket: GatewaySocket, channel: string, live: LiveEvent): boolean {
    const held = this.#held.get(socket);
    if (!held) return false;
    const event = live.event;
    if (event.event === 'progress') {
      if (held.has(channel)) {
        this.conflated += 1;
        this.#onConflated?.();
      }
      held.set(channel, { ...event, conflated: true });
    } else {
      this.#flush(socket, held, channel);
      socket.emit('event', event);
    }
    return true;
  }

  /** Forgets a socket that disconnected. */
  forget(socket: GatewaySocket): void {
    this.#held.delete(socket);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#held.clear();
  }

  #sweep(): void {
    for (const socket of this.#io.of('/').sockets.values()) {
      const held = this.#held.get(socket);
      const bytes = bufferedBytes(socket);
      if (!held && bytes > this.#high) {
        this.#held.set(socket, new Map());
      } else if (held && bytes < this.#low) {
        for (const channel of [...held.keys()]) this.#flush(socket, held, channel);
        this.#held.delete(socket);
      }
    }
  }

  #flush(socket: GatewaySocket, held: Map<string, ChannelEvent>, channel: string): void {
    const progress = held.get(channel);
    if (!progress) return;
    held.delete(channel);
    socket.emit('event', progress);
  }
}
