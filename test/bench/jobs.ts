/**
 * Scenario 2, in a process of its own: BullMQ jobs with 10 progress updates each at worker
 * concurrency 50, bare BullMQ (`job.updateProgress`), jobcast's job runner (`ctx.progress`,
 * published to subscribers through the channel log), or bare BullMQ with jobcast watching the
 * queue from another process (`watched`: the same workers, every event published to job
 * channels). Prints jobs/s (and for `watched`, how long after the last job the watcher had
 * published every outcome), and where the CPU went while the jobs ran: the worker process,
 * Redis (`INFO cpu`) and the watcher process, in ms (`cpuMs`), so a watched run's slowdown
 * can be put down to what the watcher took from the two shared cores.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { z } from 'zod';

import { createJobcast, defineJob } from '../../server/index.js';
import { createLogger } from '../../server/logger.js';
import { deleteKeys, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const [kind, redisUrl, countArg] = process.argv.slice(2);
const JOBS = Number(countArg);
const prefix = uniquePrefix('benchjobs');

/** `jobs.ts watcher <redisUrl> <prefix>`: a jobcast process watching the bench queue. */
async function watcher(keyPrefix: string): Promise<void> {
  const jc = createJobcast({ redisUrl: redisUrl!, secret: 'bench-secret-0123456789abcdef', keyPrefix, logger: createLogger('silent') });
  await jc.watchQueue('bare', { prefix: keyPrefix }).ready;
  // The parent asks for this process's CPU time at the start and the end of the jobs.
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    process.send!((user + system) / 1000);
  });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => void jc.close().then(() => process.exit(0)));
}

/** CPU ms of this process so far. */
function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** CPU ms of the Redis server so far (`INFO cpu`: its main thread and the rest). */
async function redisCpuMs(redis: Redis): Promise<number> {
  const text = await redis.info('cpu');
  const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(text)?.[1] ?? 0);
  return (seconds('used_cpu_sys') + seconds('used_cpu_user')) * 1000;
}

/** CPU ms of the watcher process so far. */
function watcherCpuMs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (ms) => resolve(Number(ms)));
    child.send('cpu');
  });
}

/** Starts the watcher process; resolves once it reads the queue's events. */
async function startWatcher() {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'watcher', redisUrl!, prefix], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return child;
}

interface CpuMs {
  worker: number;
  redis: number;
  watcher?: number;
}

async function bare(watched = false): Promise<{ elapsed: number; publishedAfterMs?: number; cpuMs: CpuMs }> {
  const connection = new Redis(redisUrl!, { maxRetriesPerRequest: null });
  // The whole burst (≈14 events a job) fits in the event stream, so a watcher that lags the
  // workers loses nothing; the same setting for bare and watched runs.
  const queue = new Queue('bare', { connection, prefix, streams: { events: { maxLen: JOBS * 20 } } });
  const watcherProcess = watched ? await startWatcher() : undefined;
  await queue.addBulk(Array.from({ length: JOBS }, (_, i) => ({ name: 'bare', data: { i } })));
  const cpuAtStart = { worker: ownCpuMs(), redis: await redisCpuMs(connection), watcher: watcherProcess ? await watcherCpuMs(watcherProcess) : 0 };
  const started = Date.now();
  const worker = new Worker(
    'bare',
    async (job) => {
      for (let step = 1; step <= 10; step++) await job.updateProgress(step * 10);
      return { ok: true };
    },
    { connection, prefix, concurrency: 50 },
  );
  await waitFor(async () => (await queue.getJobCounts('completed')).completed === JOBS, 'bare jobs', 300_000);
  const elapsed = Date.now() - started;
  const cpuMs: CpuMs = {
    worker: Math.round(ownCpuMs() - cpuAtStart.worker),
    redis: Math.round((await redisCpuMs(connection)) - cpuAtStart.redis),
    ...(watcherProcess ? { watcher: Math.round((await watcherCpuMs(watcherProcess)) - cpuAtStart.watcher) } : {}),
  };
  let publishedAfterMs: number | undefined;
  if (watcherProcess) {
    // Jobs 1…JOBS (BullMQ counts from 1): every channel has its outcome once the watcher caught up.
    const outcomes = async () => {
      const pipeline = connection.pipeline();
      for (let id = 1; id <= JOBS; id++) pipeline.hexists(`${prefix}{job:bare:${id}}:meta`, 's:outcome');
      return ((await pipeline.exec()) ?? []).every(([, n]) => n === 1);
    };
    await waitFor(outcomes, 'the watcher to publish every outcome', 300_000);
    publishedAfterMs = Date.now() - started - elapsed;
    watcherProcess.kill('SIGTERM');
  }
  await worker.close();
  await queue.close();
  connection.disconnect();
  return { elapsed, cpuMs, ...(publishedAfterMs !== undefined ? { publishedAfterMs } : {}) };
}

async function jobcast(): Promise<number> {
  const job = defineJob({
    name: 'bench',
    input: z.object({ i: z.number() }),
    concurrency: 50,
    async handler(_input, ctx) {
      for (let step = 1; step <= 10; step++) await ctx.progress(step * 10);
      return { ok: true };
    },
  });
  const jc = createJobcast({
    redisUrl: redisUrl!,
    secret: 'bench-secret-0123456789abcdef',
    keyPrefix: prefix,
    jobs: [job],
    logger: createLogger('silent'),
    retentionCount: JOBS + 10,
  });
  for (let i = 0; i < JOBS; i += 500) await Promise.all(Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => jc.start(job, { i: i + k })));
  const queue = jc.queues.queue('bench');
  const started = Date.now();
  jc.runWorker();
  await waitFor(async () => (await queue.getJobCounts('completed')).completed === JOBS, 'jobcast jobs', 300_000);
  const elapsed = Date.now() - started;
  await jc.close();
  return elapsed;
}

if (kind === 'watcher') {
  await watcher(countArg!);
} else {
  const { elapsed, publishedAfterMs, cpuMs } =
    kind === 'bare' || kind === 'watched' ? await bare(kind === 'watched') : { elapsed: await jobcast(), publishedAfterMs: undefined, cpuMs: undefined };
  await deleteKeys(redisUrl!, prefix);
  process.stdout.write(
    JSON.stringify({
      kind,
      jobs: JOBS,
      jobsPerSec: Math.round(JOBS / (elapsed / 1000)),
      ...(publishedAfterMs !== undefined ? { publishedAfterMs } : {}),
      ...(cpuMs ? { cpuMs } : {}),
    }) + '\n',
  );
  process.exit(0);
}
