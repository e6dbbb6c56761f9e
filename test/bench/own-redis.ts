/**
 * The benchmark's own redis-server (no persistence, a free loopback port), so that its CPU
 * time and `INFO commandstats` count only the benchmark, not other work on a shared Redis.
 * `BENCH_REDIS_URL` runs on a Redis of your choosing instead (then Redis figures are blank).
 */
import { type ChildProcess, spawn } from 'node:child_process';

import { Redis } from 'ioredis';

import { findRedisServer, freePort, redisAnswers } from '../../server/redis/embedded-redis.js';

export interface BenchRedis {
  url: string;
  /** The server's pid when the benchmark started it. */
  pid: number | null;
  /**
   * Microseconds Redis spent executing the publishers' commands so far, from `INFO
   * commandstats`: the scripts' time (which includes the commands they call, counted again on
   * their own lines) when any script ran, else PUBLISH's.
   */
  commandUs(): Promise<{ scripts: number; publish: number }>;
  close(): Promise<void>;
}

/**
 * `own`: always a server of its own (the watched-queue rows pin theirs to a core), whatever
 * `BENCH_REDIS_URL` says; `args`: more redis-server arguments (`--replicaof …`).
 */
export async function benchRedis(options: { own?: boolean; args?: string[] } = {}): Promise<BenchRedis> {
  let child: ChildProcess | null = null;
  let url = options.own ? undefined : process.env.BENCH_REDIS_URL;
  if (!url) {
    const binary = findRedisServer();
    if (!binary) throw new Error('redis-server is not on PATH (or set BENCH_REDIS_URL)');
    const port = await freePort();
    child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(options.args ?? [])], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await redisAnswers('127.0.0.1', port, 200))) {
      if (Date.now() > deadline) throw new Error('the bench redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    url = `redis://127.0.0.1:${port}`;
  }
  const info = new Redis(url);
  const owned = child;
  return {
    url,
    pid: owned?.pid ?? null,
    async commandUs() {
      const text = await info.info('commandstats');
      const usec = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=\\d+,usec=(\\d+)`).exec(text)?.[1] ?? 0);
      return { scripts: usec('evalsha') + usec('eval'), publish: usec('publish') + usec('spublish') };
    },
    async close() {
      info.disconnect();
      if (!owned || owned.exitCode !== null) return;
      const exited = new Promise((resolve) => owned.once('exit', resolve));
      owned.kill('SIGTERM');
      await exited;
    },
  };
}
