/**
 * The watched-queue rows as the target describes them: the BullMQ workers and their Redis on
 * one core, the watcher and jobcast's own Redis (the channel log) on the other, as separate
 * machines would have them, in every row alike. Rows, alternating: bare BullMQ; bare BullMQ
 * with a reader that only reads the queue's event stream (`floor`: what any watcher of the
 * stream costs the queue's Redis); bare BullMQ watched by jobcast (every event published).
 * Without `taskset` or a second core the rows run unpinned, and say so.
 */
import { runJobs } from './jobs-run.js';
import { benchRedis } from './own-redis.js';
import { canPin, pin } from './pin.js';

export interface WatchedApart {
  pinned: boolean;
  jobs: number;
  jobsPerSec: { bare: number[]; floor: number[]; watched: number[] };
  lagMs: number[];
  /** µs per job, per run: workers, the queue's Redis, the watcher or reader, jobcast's Redis. */
  cpu: { kind: 'bare' | 'floor' | 'watched'; worker: number; redis: number; watcher: number; channelRedis: number }[];
}

export async function watchedApart(jobs: number, rounds: number): Promise<WatchedApart> {
  const pinned = canPin();
  const queueRedis = await benchRedis({ own: true });
  const channelRedis = await benchRedis({ own: true });
  if (pinned) {
    pin(queueRedis.pid, '0');
    pin(channelRedis.pid, '1');
  }
  const result: WatchedApart = { pinned, jobs, jobsPerSec: { bare: [], floor: [], watched: [] }, lagMs: [], cpu: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const kind of ['bare', 'floor', 'watched'] as const) {
        const run = await runJobs(kind, queueRedis.url, jobs, { channelRedisUrl: channelRedis.url, ...(pinned ? { cpus: { jobs: '0', watcher: '1' } } : {}) });
        result.jobsPerSec[kind].push(run.jobsPerSec);
        if (run.publishedAfterMs !== undefined) result.lagMs.push(run.publishedAfterMs);
        const perJob = (ms = 0) => Math.round((ms * 1000) / jobs);
        const c = run.cpuMs;
        if (c) result.cpu.push({ kind, worker: perJob(c.worker), redis: perJob(c.redis), watcher: perJob(c.watcher), channelRedis: perJob(c.channelRedis) });
      }
    }
  } finally {
    await queueRedis.close();
    await channelRedis.close();
  }
  return result;
}
