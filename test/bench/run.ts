/**
 * `npm run bench [-- --quick]`: jobcast against the hand-written relay (`baseline-relay.ts`) in
 * the same run, alternating, each in its own processes (gateway, clients, publisher), on one
 * Redis, loopback only. Prints a markdown table (also written to bench-results.md) and, as the
 * very last line, one JSON object with the headline ratios.
 */
import { writeFileSync } from 'node:fs';

import { connections, type ConnectionsResult } from './connections.js';
import { fanout, type FanoutResult } from './fanout.js';
import { runJobs } from './jobs-run.js';
import { benchRedis } from './own-redis.js';
import { headline, report } from './report.js';
import { watchedApart } from './watched-apart.js';
import { observeRedis } from './window.js';

const quick = process.argv.includes('--quick');
// `BENCH_KINDS=baseline,jobcast` runs only those gateways' scenarios (the jobs scenario always
// runs); `floor` is the bare `ws` fan-out every other row is read against.
const ALL_KINDS = ['baseline', 'jobcast', 'floor', 'pusher'] as const;
const KINDS = process.env.BENCH_KINDS ? ALL_KINDS.filter((k) => process.env.BENCH_KINDS!.split(',').includes(k)) : ALL_KINDS;
export const shapes = {
  quick,
  jobs: quick ? 1000 : 5000,
  /** The watched-queue rows (workers and watcher on cores of their own): more jobs, a run of 1,000 is mostly start-up. */
  watchedJobs: quick ? 3000 : 10_000,
  fanout: {
    clients: quick ? 500 : 1000,
    channels: 100,
    rate: 2000,
    durationMs: quick ? 2000 : 10_000,
    warmUpMs: quick ? 3000 : 5000,
    ramp: quick ? [4000, 8000] : [3000, 4500, 6000, 8000, 11_000, 15_000, 20_000, 27_000],
    rampMs: quick ? 1000 : 3000,
    storm: { clients: quick ? 300 : 1000, rate: 1000, durationMs: quick ? 2500 : 6000, dropAtMs: 1000 },
  },
  connections: {
    channels: 100,
    steps: quick ? [2000] : [2500, 5000, 7500, 10_000],
    memoryAt: quick ? 2000 : 5000,
    durationMs: quick ? 1500 : 5000,
  },
};
export type Shapes = typeof shapes;

const redis = await benchRedis();
observeRedis(redis);
const redisUrl = redis.url;
const rounds = quick ? 1 : 2;
const started = Date.now();
const jobs: Record<'bare' | 'jobcast' | 'watched', number[]> = { bare: [], jobcast: [], watched: [] };
const watchedLagMs: number[] = [];
// µs per job of each process, per bare and watched run: where a watched run's time went.
const jobCpu: Record<'bare' | 'jobcast' | 'watched', { worker: number; redis: number; watcher: number }[]> = { bare: [], jobcast: [], watched: [] };
const fanouts: FanoutResult[] = [];
const conns: ConnectionsResult[] = [];
// The jobs runs are short, and the machine's speed drifts: more rounds of them, each a bare,
// jobcast and watched run back to back, and the ratios taken per round (report.ts).
const jobRounds = quick ? 3 : 5;
// Alternate, so drift on a shared machine hits both alike.
for (let round = 0; round < Math.max(rounds, jobRounds); round++) {
  for (const kind of round < jobRounds ? (['bare', 'jobcast', 'watched'] as const) : []) {
    const run = await runJobs(kind, redisUrl, shapes.jobs);
    jobs[kind].push(run.jobsPerSec);
    if (run.publishedAfterMs !== undefined) watchedLagMs.push(run.publishedAfterMs);
    if (run.cpuMs) {
      const perJob = (ms = 0) => Math.round((ms * 1000) / shapes.jobs);
      jobCpu[kind].push({ worker: perJob(run.cpuMs.worker), redis: perJob(run.cpuMs.redis), watcher: perJob(run.cpuMs.watcher) });
    }
  }
  if (round < rounds) for (const kind of KINDS) fanouts.push(await fanout(kind, redisUrl, shapes.fanout));
}
for (const kind of KINDS) conns.push(await connections(kind, redisUrl, shapes.connections));
const apart = await watchedApart(shapes.watchedJobs, rounds + 1);

const results = { jobs, watchedLagMs, jobCpu, apart, fanouts, conns };
const markdown = report(shapes, { ...results, seconds: Math.round((Date.now() - started) / 1000) });
console.log(markdown);
writeFileSync('bench-results.md', markdown + '\n');
console.log(JSON.stringify(headline(results)));
await redis.close();
process.exit(0);
