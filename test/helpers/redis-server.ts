import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { findRedisServer, freePort, redisAnswers } from '../../server/redis/embedded-redis.js';

/**
 * A redis-server the test owns, on a free loopback port, with an append-only file so its data
 * survives a restart (as a production Redis would); `restart()` stops and starts it on the
 * same port and directory.
 */
export class OwnRedis {
  port = 0;
  dir = '';
  /** More redis-server arguments (`--replicaof 127.0.0.1 <port>` for a replica). */
  extraArgs: string[] = [];
  #child: ChildProcess | null = null;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (!this.port) this.port = await freePort();
    if (!this.dir) this.dir = await mkdtemp(join(tmpdir(), 'jobcast-own-redis-'));
    const binary = findRedisServer();
    if (!binary) throw new Error('redis-server is not on PATH');
    this.#child = spawn(
      binary,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        ...this.extraArgs,
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    while (!(await redisAnswers('127.0.0.1', this.port, 200))) {
      if (Date.now() > deadline) throw new Error('own redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    return this;
  }

  /** Stops the server; with `kill`, without letting it finish writing (SIGKILL). */
  async stop(kill = false): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(kill ? 'SIGKILL' : 'SIGTERM');
    await exited;
    this.#child = null;
  }

  async restart(downMs = 500): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop(true);
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
