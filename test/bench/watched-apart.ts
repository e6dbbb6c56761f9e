/**
 * The watched-queue rows as the target describes them: the BullMQ workers and their Redis on
 * one core, the watcher and jobcast's own Redis (the channel log) on the other, as separate
 * machines would have them, in every row alike. Rows, alternating: bare BullMQ; bare BullMQ
 * with a reader that only reads the queue's event stream (`floor`: what any watcher reading
 * the stream costs the queue's Redis); bare BullMQ watched by jobcast (every event published).
 * Then, with a read-only replica of the queue's Redis attached (on the watcher's core): bare
 * BullMQ, and bare BullMQ watched by jobcast reading from the replica (`replica` option).
 * Without `taskset` or a second core the rows run unpinned, and say so.
 */
import { Redis } from 'ioredis';

import { waitFor } from '../helpers/wait.js';
import { type JobsKind, runJobs } from './jobs-run.js';
import { benchRedis } from './own-redis.js';
import { canPin, pin } from './pin.js';

export const APART_ROWS = ['bare', 'floor', 'watched', 'bareReplica', 'watchedReplica'] as const;
export type ApartRow = (typeof APART_ROWS)[number];

export interface WatchedApart {
  pinned: boolean;
  jobs: number;
  jobsPerSec: Record<ApartRow, number[]>;
  /** Watched rows: how long after the last job the last outcome was published, ms. */
  lagMs: Record<'watched' | 'watchedReplica', number[]>;
  /** µs per job, per run: workers, the queue's Redis, the watcher or reader, jobcast's Redis. */
  cpu: { kind: ApartRow; worker: number; redis: number; watcher: number; channelRedis: number }[];
}

const JOBS_KIND: Record<ApartRow, JobsKind> = { bare: 'bare', floor: 'floor', watched: 'watched', bareReplica: 'bare', watchedReplica: 'watched' };

export async function watchedApart(jobs: number, rounds: number): Promise<WatchedApart> {
  const pinned = canPin();
  const queueRedis = await benchRedis({ own: true });
  const channelRedis = await benchRedis({ own: true });
  const cpus = pinned ? { cpus: { jobs: '0', watcher: '1' } } : {};
  if (pinned) {
    pin(queueRedis.pid, '0');
    pin(channelRedis.pid, '1');
  }
  const result: WatchedApart = {
    pinned,
    jobs,
    jobsPerSec: { bare: [], floor: [], watched: [], bareReplica: [], watchedReplica: [] },
    lagMs: { watched: [], watchedReplica: [] },
    cpu: [],
  };
  const run = async (row: ApartRow, readRedisUrl?: string) => {
    const r = await runJobs(JOBS_KIND[row], queueRedis.url, jobs, { channelRedisUrl: channelRedis.url, ...(readRedisUrl ? { readRedisUrl } : {}), ...cpus });
    result.jobsPerSec[row].push(r.jobsPerSec);
    if (r.publishedAfterMs !== undefined && (row === 'watched' || row === 'watchedReplica')) result.lagMs[row].push(r.publishedAfterMs);
    const perJob = (ms = 0) => Math.round((ms * 1000) / jobs);
    const c = r.cpuMs;
    if (c) result.cpu.push({ kind: row, worker: perJob(c.worker), redis: perJob(c.redis), watcher: perJob(c.watcher), channelRedis: perJob(c.channelRedis) });
  };
  let replica: Awaited<ReturnType<typeof benchRedis>> | undefined;
  try {
    for (let round = 0; round < rounds; round++) for (const row of ['bare', 'floor', 'watched'] as const) await run(row);
    const port = new URL(queueRedis.url).port;
    replica = await benchRedis({ own: true, args: ['--replicaof', '127.0.0.1', port] });
    if (pinned) pin(replica.pid, '1');
    const probe = new Redis(replica.url);
    await waitFor(async () => (await probe.info('replication')).includes('master_link_status:up'), 'the replica to follow the queue’s Redis', 30_000);
    probe.disconnect();
    for (let round = 0; round < rounds; round++) {
      await run('bareReplica');
      await run('watchedReplica', replica.url);
    }
  } finally {
    await replica?.close();
    await queueRedis.close();
    await channelRedis.close();
  }
  return result;
}
