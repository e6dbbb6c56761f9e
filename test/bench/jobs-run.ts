/** Runs one `jobs.ts` scenario in a process of its own and returns what it printed. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { pin } from './pin.js';

/** Jobs each run puts through first, not counted (`jobs.ts` reads the same variable). */
export const JOBS_WARMUP = Number(process.env.BENCH_JOBS_WARMUP ?? 1000);

export type JobsKind = 'bare' | 'jobcast' | 'watched' | 'floor';

export interface JobsRun {
  jobsPerSec: number;
  /** watched: how long after the last job the watcher had published every outcome. */
  publishedAfterMs?: number;
  /** CPU ms while the jobs ran: the BullMQ worker process, the queue's Redis, the watcher (or reader), jobcast's Redis when apart. */
  cpuMs?: { worker: number; redis: number; watcher?: number; channelRedis?: number };
}

export interface JobsRunOptions {
  /** jobcast's Redis, when it is not the queue's (`BENCH_CHANNEL_REDIS_URL`). */
  channelRedisUrl?: string;
  /** A replica of the queue's Redis the watcher or reader reads from (`BENCH_READ_REDIS_URL`). */
  readRedisUrl?: string;
  /** Cores for the jobs process (workers, producer) and for the watcher or reader it starts. */
  cpus?: { jobs: string; watcher: string };
}

export async function runJobs(kind: JobsKind, redisUrl: string, count: number, options: JobsRunOptions = {}): Promise<JobsRun> {
  const env = {
    ...process.env,
    ...(options.channelRedisUrl ? { BENCH_CHANNEL_REDIS_URL: options.channelRedisUrl } : {}),
    ...(options.readRedisUrl ? { BENCH_READ_REDIS_URL: options.readRedisUrl } : {}),
    ...(options.cpus ? { BENCH_WATCHER_CPU: options.cpus.watcher } : {}),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./jobs.ts', import.meta.url)), kind, redisUrl, String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  if (options.cpus) pin(child.pid, options.cpus.jobs);
  const line = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString())));
  return JSON.parse(line) as JobsRun;
}
