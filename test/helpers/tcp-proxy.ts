import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP proxy standing in for a load balancer: spreads connections round-robin over
 * live upstreams, skips upstreams that refuse, and can cut connections to simulate drops.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<{ client: Socket; upstream: Socket; target: number }>();
  #upstreams: number[];
  #next = 0;
  /** Connections accepted per upstream port, to see the spread. */
  readonly accepted = new Map<number, number>();

  private constructor(upstreams: number[]) {
    this.#upstreams = upstreams;
    this.#server = createServer((client) => this.#accept(client, 0));
  }

  static async start(upstreams: number[]): Promise<TcpProxy> {
    const proxy = new TcpProxy(upstreams);
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
      pair.client.destroy();
      pair.upstream.destroy();
      n += 1;
    });
    return n;
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
    const target = this.#upstreams[this.#next++ % Math.max(1, this.#upstreams.length)];
    if (target === undefined || tries >= this.#upstreams.length) {
      client.destroy();
      return;
    }
    client.pause();
    const upstream = connect(target, '127.0.0.1');
    const pair = { client, upstream, target };
    upstream.once('connect', () => {
      this.accepted.set(target, (this.accepted.get(target) ?? 0) + 1);
      this.#pairs.add(pair);
      client.pipe(upstream);
      // Manual pump instead of pipe, so stall() can pause the upstream without pipe resuming it.
      upstream.on('data', (chunk: Buffer) => client.write(chunk));
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
}
