import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';

import { WsFrameReader } from './ws-frames.js';

/**
 * A moment in the connect / handshake / subscribe sequence of a WebSocket connection at which
 * {@link TcpProxy.cutAt} cuts it: right after the server's `101 Switching Protocols`, in the
 * middle of the server's first frame (the engine.io handshake), or right after the client's
 * `subscribe` went through to the server.
 */
export type CutMoment = 'after-101' | 'mid-frame' | 'after-subscribe';

interface Pair {
  client: Socket;
  upstream: Socket;
  target: number;
  /** Forwarding nothing either way, closing nothing: a dead path that looks open. */
  blackholed: boolean;
  down: WsFrameReader | null;
  up: WsFrameReader | null;
  downBytes: number;
  upBytes: number;
}

interface Trap {
  moment: CutMoment;
  left: number;
  fired: () => void;
}

/**
 * A loopback TCP proxy standing in for a load balancer and the network: spreads connections
 * round-robin over live upstreams, skips upstreams that refuse, and makes the faults of real
 * networks on demand: cuts (now, or at a chosen moment of the handshake), stalls, black holes
 * (a NAT entry expired: nothing passes, nothing closes) and refused connections.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  readonly #inspect: boolean;
  #upstreams: number[];
  #next = 0;
  #refusing = false;
  #traps: Trap[] = [];
  /** Connections accepted per upstream port, to see the spread. */
  readonly accepted = new Map<number, number>();
  /** Connections refused while {@link refuse} was on. */
  refused = 0;

  private constructor(upstreams: number[], inspect: boolean) {
    this.#upstreams = upstreams;
    this.#inspect = inspect;
    this.#server = createServer((client) => this.#accept(client, 0));
  }

  /** `inspect`: parse WebSocket frames of every connection, needed by {@link cutAt}. */
  static async start(upstreams: number[], options: { inspect?: boolean } = {}): Promise<TcpProxy> {
    const proxy = new TcpProxy(upstreams, options.inspect ?? false);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  get connections(): number {
    return this.#pairs.size;
  }

  /** Replaces the pool (a gateway removed or added). Existing connections stay. */
  setUpstreams(upstreams: number[]): void {
    this.#upstreams = upstreams;
  }

  /** Cuts every connection, or those for which `which` is true, as a network drop would. */
  cut(which: (index: number) => boolean = () => true): number {
    let n = 0;
    [...this.#pairs].forEach((pair, i) => {
      if (!which(i)) return;
      this.#destroy(pair);
      n += 1;
    });
    return n;
  }

  /**
   * Cuts the next `count` connections that reach `moment` (existing ones too, for
   * `after-subscribe`); resolves once all were cut. Needs `inspect`.
   */
  cutAt(moment: CutMoment, count = 1): Promise<void> {
    if (!this.#inspect) throw new Error('cutAt needs TcpProxy.start(…, { inspect: true })');
    return new Promise((resolve) => this.#traps.push({ moment, left: count, fired: resolve }));
  }

  /**
   * Black-holes every open connection (or those `which` picks): from now on nothing passes
   * either way and nothing is closed, as when a NAT entry expires or a phone changes networks.
   * New connections are not affected. Returns how many.
   */
  blackhole(which: (index: number) => boolean = () => true): number {
    let n = 0;
    [...this.#pairs].forEach((pair, i) => {
      if (!which(i) || pair.blackholed) return;
      pair.blackholed = true;
      n += 1;
    });
    return n;
  }

  /** While on, new connections are reset as soon as they arrive (the address is unreachable). */
  refuse(on: boolean): void {
    this.#refusing = on;
  }

  /**
   * Stops reading from the upstream on every connection (or those `which` picks): the client
   * stops receiving, as a slow reader would, and the server's send buffers fill.
   */
  stall(which: (index: number) => boolean = () => true): void {
    [...this.#pairs].forEach((pair, i) => which(i) && pair.upstream.pause());
  }

  /** Stops reading in both directions on every connection: the link is up, and nothing crosses it. */
  freeze(): void {
    for (const pair of this.#pairs) {
      pair.upstream.pause();
      pair.client.pause();
    }
  }

  /** Reads again from every upstream. */
  unstall(): void {
    for (const pair of this.#pairs) pair.upstream.resume();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, tries: number): void {
    if (this.#refusing) {
      this.refused += 1;
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const target = this.#upstreams[this.#next++ % Math.max(1, this.#upstreams.length)];
    if (target === undefined || tries >= this.#upstreams.length) {
      client.destroy();
      return;
    }
    client.pause();
    const upstream = connect(target, '127.0.0.1');
    const pair: Pair = {
      client,
      upstream,
      target,
      blackholed: false,
      down: this.#inspect ? new WsFrameReader() : null,
      up: this.#inspect ? new WsFrameReader() : null,
      downBytes: 0,
      upBytes: 0,
    };
    upstream.once('connect', () => {
      this.accepted.set(target, (this.accepted.get(target) ?? 0) + 1);
      this.#pairs.add(pair);
      // Manual pumps instead of pipe, so stall() can pause the upstream without pipe resuming
      // it, black holes can swallow data, and traps can cut inside a chunk.
      client.on('data', (chunk: Buffer) => this.#forward(pair, 'up', chunk));
      upstream.on('data', (chunk: Buffer) => this.#forward(pair, 'down', chunk));
      client.resume();
    });
    upstream.once('error', () => {
      if (!this.#pairs.has(pair)) return this.#accept(client, tries + 1); // refused: try the next one
      client.destroy();
    });
    const drop = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', drop);
    upstream.once('close', () => this.#pairs.has(pair) && drop());
    client.on('error', () => {});
  }

  #forward(pair: Pair, direction: 'up' | 'down', chunk: Buffer): void {
    if (pair.blackholed) return;
    const to = direction === 'up' ? pair.upstream : pair.client;
    const from = direction === 'up' ? pair.upBytes : pair.downBytes;
    if (direction === 'up') pair.upBytes += chunk.length;
    else pair.downBytes += chunk.length;
    const cutAt = this.#trapped(pair, direction, chunk);
    if (cutAt === null) {
      to.write(chunk);
      return;
    }
    // Let the bytes before the moment through, then cut both sides.
    pair.blackholed = true;
    to.write(chunk.subarray(0, Math.max(0, cutAt - from)), () => this.#destroy(pair));
  }

  /** The stream offset to cut at if a trap fires in this chunk, else null. */
  #trapped(pair: Pair, direction: 'up' | 'down', chunk: Buffer): number | null {
    const reader = direction === 'up' ? pair.up : pair.down;
    if (!reader) return null;
    const hadHead = reader.headEnd !== null;
    const frames = reader.push(chunk);
    const trap = this.#traps.find((t) => (t.moment === 'after-subscribe') === (direction === 'up'));
    if (!trap) return null;
    let at: number | null = null;
    if (trap.moment === 'after-101' && !hadHead && reader.headEnd !== null && reader.statusLine.includes(' 101 ')) at = reader.headEnd;
    if (trap.moment === 'mid-frame' && frames[0] && frames[0].start === reader.headEnd) at = Math.floor((frames[0].start + frames[0].end) / 2);
    if (trap.moment === 'after-subscribe') {
      const frame = frames.find((f) => f.text.includes('"subscribe"'));
      if (frame) at = frame.end;
    }
    if (at === null) return null;
    trap.left -= 1;
    if (trap.left <= 0) {
      this.#traps = this.#traps.filter((t) => t !== trap);
      trap.fired();
    }
    return at;
  }

  #destroy(pair: Pair): void {
    pair.client.destroy();
    pair.upstream.destroy();
  }
}
