import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';

import { findRedisServer, freePort, redisAnswers } from '../../server/redis/embedded-redis.js';
import { TcpProxy } from './tcp-proxy.js';
import { waitFor } from './wait.js';

/** One redis-server process of the set. */
interface Node {
  port: number;
  child: ChildProcess;
}

/** Timings of the sentinels: small, so a failover happens within seconds. */
export const SENTINEL_TIMINGS = { downAfterMs: 1000, failoverTimeoutMs: 4000 } as const;

/** Options of {@link SentinelSet}. */
export interface SentinelSetOptions {
  /**
   * Replicate through a TCP proxy the test can stall, so the replica falls behind the primary
   * on purpose. (The sentinels would "fix" a replica that follows another address once
   * `failover-timeout` has passed, so such a set uses a long one; a failover is no slower.)
   */
  replicaThroughProxy?: boolean;
}

/**
 * A primary, one replica and three sentinels on free loopback ports, in a temporary
 * directory, for failover tests. The sentinels agree (quorum 2) that the primary is down
 * `downAfterMs` after it stops answering, then promote the replica.
 */
export class SentinelSet {
  readonly name = 'jobcast-test';
  dir = '';
  primary!: Node;
  replica!: Node;
  sentinels: Node[] = [];
  readonly #all: Node[] = [];
  /** The replica's link to the primary, with `replicaThroughProxy`. */
  proxy: TcpProxy | null = null;
  readonly #options: SentinelSetOptions;

  constructor(options: SentinelSetOptions = {}) {
    this.#options = options;
  }

  /** `host:port,…` of the sentinels, as `REDIS_SENTINELS` takes them. */
  get sentinelList(): string[] {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`);
  }

  async start(): Promise<this> {
    const binary = findRedisServer();
    if (!binary) throw new Error('redis-server is not on PATH');
    this.dir = await mkdtemp(join(tmpdir(), 'jobcast-sentinel-'));
    const data = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir];
    const primaryPort = await freePort();
    this.primary = await this.#spawn(binary, primaryPort, ['--port', String(primaryPort), ...data, '--dbfilename', 'primary.rdb']);
    if (this.#options.replicaThroughProxy) this.proxy = await TcpProxy.start([primaryPort]);
    const upstream = this.proxy ? Number(new URL(this.proxy.url).port) : primaryPort;
    const replicaPort = await freePort();
    this.replica = await this.#spawn(binary, replicaPort, [
      '--port',
      String(replicaPort),
      ...data,
      '--dbfilename',
      'replica.rdb',
      '--replicaof',
      '127.0.0.1',
      String(upstream),
    ]);
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    this.sentinels = await Promise.all(
      ports.map(async (port) => {
        const conf = join(this.dir, `sentinel-${port}.conf`);
        await writeFile(
          conf,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            `dir ${this.dir}`,
            `sentinel monitor ${this.name} 127.0.0.1 ${this.primary.port} 2`,
            `sentinel down-after-milliseconds ${this.name} ${SENTINEL_TIMINGS.downAfterMs}`,
            `sentinel failover-timeout ${this.name} ${this.#options.replicaThroughProxy ? 60_000 : SENTINEL_TIMINGS.failoverTimeoutMs}`,
            `sentinel parallel-syncs ${this.name} 1`,
            '',
          ].join('\n'),
        );
        return this.#spawn(binary, port, [conf, '--sentinel']);
      }),
    );
    // A failover needs the replica in sync and every sentinel aware of the replica and of the
    // two other sentinels (they find each other through the primary, every 2 s).
    await waitFor(
      async () => /master_link_status:up/.test(String(await this.ask(this.replica.port, ['info', 'replication']))),
      'the replica to be in sync',
      15_000,
    );
    await waitFor(
      async () => {
        for (const s of this.sentinels) {
          const replicas = (await this.ask(s.port, ['sentinel', 'replicas', this.name])) as unknown[];
          const others = (await this.ask(s.port, ['sentinel', 'sentinels', this.name])) as unknown[];
          if (replicas.length < 1 || others.length < 2) return false;
        }
        return true;
      },
      'the sentinels to know the replica and each other',
      20_000,
    );
    return this;
  }

  /** The port the sentinels currently name as the primary. */
  async primaryPort(): Promise<number> {
    const [, port] = (await this.ask(this.sentinels[0]!.port, ['sentinel', 'get-master-addr-by-name', this.name])) as [string, string];
    return Number(port);
  }

  /** SIGKILLs the primary: no goodbye to the replica, the sentinels or any client. */
  async killPrimary(): Promise<void> {
    const child = this.primary.child;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.proxy?.close();
    await Promise.all(
      this.#all.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  async #spawn(binary: string, port: number, args: string[]): Promise<Node> {
    const node = { port, child: spawn(binary, args, { stdio: 'ignore' }) };
    this.#all.push(node);
    await waitFor(() => redisAnswers('127.0.0.1', node.port, 200), `redis-server on ${node.port} to answer`, 10_000);
    return node;
  }

  /** One command to one node, on a short-lived connection. */
  async ask(port: number, command: string[]): Promise<unknown> {
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await redis.connect();
      return await redis.call(command[0]!, ...command.slice(1));
    } finally {
      redis.disconnect();
    }
  }
}
