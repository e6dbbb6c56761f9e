/**
 * Scenario 2, in a process of its own: BullMQ jobs with 10 progress updates each at worker
 * concurrency 50, bare BullMQ (`job.updateProgress`), jobcast's job runner (`ctx.progress`,
 * published to subscribers through the channel log), bare BullMQ with jobcast watching the
 * queue from another process (`watched`: the same workers, every event published to job
 * channels), or bare BullMQ with a process that only reads the queue's event stream and
 * throws it away (`reader`: the least any watcher of the stream can cost the queue's Redis).
 * Prints jobs/s (and for `watched`, how long after the last job the watcher had published
 * every outcome), and where the CPU went while the jobs ran: the worker process, Redis
 * (`INFO cpu`), the watcher process and jobcast's Redis when it is another, in ms (`cpuMs`).
 *
 * Each run first puts {@link WARMUP} jobs through the same way, not counted.
 * `BENCH_JOBS_PROFILE=dir` writes a V8 CPU profile of the worker process while the counted
 * jobs run (not while they are added) into `dir`, named for the kind.
 *
 * `BENCH_CHANNEL_REDIS_URL` puts jobcast's Redis (the channel log, the lease) apart from the
 * queue's; `BENCH_WATCHER_CPU` pins the watcher or reader process to those cores.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';

import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { z } from 'zod';

import { createJobcast, defineJob } from '../../server/index.js';
import { createLogger } from '../../server/logger.js';
import { ensurePosition, readStreamFrom } from '../../server/watch/stream-position-reader.js';
import { deleteKeys, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { pin } from './pin.js';

const [kind, redisUrl, countArg] = process.argv.slice(2);
/** `BENCH_PROGRESS_EVENTS=0` splits a job's cost: what the lifecycle costs without any progress. */
const PROGRESS_EVENTS = Number(process.env.BENCH_PROGRESS_EVENTS ?? 10);
const JOBS = Number(countArg);
/**
 * Jobs every run first puts through the same worker (and watcher), not counted: a worker
 * lives for days, so the measure is its steady state, not its JIT warm-up (as the fan-out
 * scenario leaves out its first seconds). `BENCH_JOBS_WARMUP=0` measures a cold process.
 */
const WARMUP = Number(process.env.BENCH_JOBS_WARMUP ?? 1000);
const TOTAL = WARMUP + JOBS;
const prefix = uniquePrefix('benchjobs');
const channelUrl = process.env.BENCH_CHANNEL_REDIS_URL ?? redisUrl!;
/** Where the watcher (or reader) reads the queue's stream and job hashes: a replica of the queue's Redis, or that Redis. */
const readUrl = process.env.BENCH_READ_REDIS_URL ?? redisUrl!;

/** Answers the parent's asks for this process's CPU time (at the start and the end of the jobs). */
function reportCpuWhenAsked(): void {
  process.on('message', () => process.send!(ownCpuMs()));
  process.stdout.write('ready\n');
}

/** `jobs.ts watcher <queueRedisUrl> <prefix>`: a jobcast process watching the bench queue. */
async function watcher(keyPrefix: string): Promise<void> {
  const jc = createJobcast({ redisUrl: channelUrl, secret: 'bench-secret-0123456789abcdef', keyPrefix, logger: createLogger('silent') });
  await jc.watchQueue('bare', { prefix: keyPrefix, connection: redisUrl!, ...(readUrl !== redisUrl ? { replica: readUrl } : {}) }).ready;
  reportCpuWhenAsked();
  process.on('SIGTERM', () => void jc.close().then(() => process.exit(0)));
}

/** `jobs.ts reader <queueRedisUrl> <prefix>`: reads the queue's event stream as the watcher does (1,000 a read, the position kept in jobcast's Redis), publishes nothing. */
async function reader(bullPrefix: string): Promise<void> {
  const connection = new Redis(readUrl, { maxRetriesPerRequest: null });
  const positionRedis = new Redis(channelUrl);
  const stream = `${bullPrefix}:bare:events`;
  const positionKey = `${bullPrefix}:bench-reader:position`;
  await ensurePosition(connection, stream, positionRedis, positionKey);
  let running = true;
  const reading = readStreamFrom({
    connection,
    stream,
    positionRedis,
    positionKey,
    handleBatch: async () => undefined,
    count: 1000,
    running: () => running,
    logger: createLogger('silent'),
  });
  reportCpuWhenAsked();
  process.on('SIGTERM', () => {
    running = false;
    void reading.finally(() => process.exit(0));
  });
}

/** Profiles this process from now until the returned function is called (with `BENCH_JOBS_PROFILE`). */
async function profileRun(): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_JOBS_PROFILE;
  if (!dir) return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(`${dir}/jobs-${kind}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  };
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

/** Starts the watcher (or reader) process; resolves once it reads the queue's events. */
async function startWatcher(as: 'watcher' | 'reader') {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), as, redisUrl!, prefix], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  if (process.env.BENCH_WATCHER_CPU) pin(child.pid, process.env.BENCH_WATCHER_CPU);
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return child;
}

interface CpuMs {
  worker: number;
  redis: number;
  watcher?: number;
  /** jobcast's Redis, when it is not the queue's. */
  channelRedis?: number;
}

/**
 * The counted part of a run: {@link WARMUP} jobs through the worker `start` starts (then
 * `warmedUp`, for a watcher to catch up), the queue paused while {@link JOBS} more are added,
 * then `atStart` (the CPU readings) and the time from `resume` until every job completed.
 */
async function warmThenTime<T>(
  queue: Queue,
  add: (count: number) => Promise<unknown>,
  start: () => unknown,
  what: string,
  hooks: { warmedUp?: () => Promise<unknown>; atStart: () => Promise<T> },
): Promise<{ started: number; elapsed: number; atStart: T }> {
  const completed = async () => (await queue.getJobCounts('completed')).completed;
  await add(WARMUP);
  start();
  await waitFor(async () => (await completed()) === WARMUP, `${what} warm-up jobs`, 300_000);
  await hooks.warmedUp?.();
  await queue.pause();
  await add(JOBS);
  const atStart = await hooks.atStart();
  const stopProfile = await profileRun();
  const started = Date.now();
  await queue.resume();
  await waitFor(async () => (await completed()) === TOTAL, `${what} jobs`, 300_000);
  const elapsed = Date.now() - started;
  await stopProfile();
  return { started, elapsed, atStart };
}

async function bare(alongside?: 'watcher' | 'reader'): Promise<{ elapsed: number; publishedAfterMs?: number; cpuMs: CpuMs }> {
  const connection = new Redis(redisUrl!, { maxRetriesPerRequest: null });
  const channelRedis = channelUrl === redisUrl ? undefined : new Redis(channelUrl);
  // The whole burst (≈14 events a job) fits in the event stream, so a watcher that lags the
  // workers loses nothing; the same setting for bare and watched runs.
  const queue = new Queue('bare', { connection, prefix, streams: { events: { maxLen: TOTAL * 20 } } });
  const watcherProcess = alongside ? await startWatcher(alongside) : undefined;
  /** Jobs from…to (BullMQ counts from 1): every channel has its outcome once the watcher caught up. */
  const outcomes = (from: number, to: number) => async () => {
    const pipeline = (channelRedis ?? connection).pipeline();
    for (let id = from; id <= to; id++) pipeline.hexists(`${prefix}{job:bare:${id}}:meta`, 's:outcome');
    return ((await pipeline.exec()) ?? []).every(([, n]) => n === 1);
  };
  let worker: Worker | undefined;
  const add = (count: number) => queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: 'bare', data: { i } })));
  const start = () =>
    (worker = new Worker(
      'bare',
      async (job) => {
        for (let step = 1; step <= PROGRESS_EVENTS; step++) await job.updateProgress(step * 10);
        return { ok: true };
      },
      { connection, prefix, concurrency: 50 },
    ));
  const {
    started,
    elapsed,
    atStart: cpuAtStart,
  } = await warmThenTime(queue, add, start, 'bare', {
    warmedUp: async () => alongside === 'watcher' && (await waitFor(outcomes(1, WARMUP), 'the watcher to publish the warm-up outcomes', 300_000)),
    atStart: async () => ({
      worker: ownCpuMs(),
      redis: await redisCpuMs(connection),
      watcher: watcherProcess ? await watcherCpuMs(watcherProcess) : 0,
      channelRedis: channelRedis ? await redisCpuMs(channelRedis) : 0,
    }),
  });
  const cpuMs: CpuMs = {
    worker: Math.round(ownCpuMs() - cpuAtStart.worker),
    redis: Math.round((await redisCpuMs(connection)) - cpuAtStart.redis),
    ...(watcherProcess ? { watcher: Math.round((await watcherCpuMs(watcherProcess)) - cpuAtStart.watcher) } : {}),
    ...(channelRedis ? { channelRedis: Math.round((await redisCpuMs(channelRedis)) - cpuAtStart.channelRedis) } : {}),
  };
  let publishedAfterMs: number | undefined;
  if (watcherProcess && alongside === 'watcher') {
    await waitFor(outcomes(WARMUP + 1, TOTAL), 'the watcher to publish every outcome', 300_000);
    publishedAfterMs = Date.now() - started - elapsed;
  }
  if (watcherProcess) {
    // Gone before this process reports, so it never outlives the Redis the parent stops next.
    const exited = new Promise((resolve) => watcherProcess.once('exit', resolve));
    watcherProcess.kill('SIGTERM');
    await exited;
  }
  await worker?.close();
  await queue.close();
  connection.disconnect();
  if (channelRedis) {
    await deleteKeys(channelUrl, prefix);
    channelRedis.disconnect();
  }
  return { elapsed, cpuMs, ...(publishedAfterMs !== undefined ? { publishedAfterMs } : {}) };
}

async function jobcast(): Promise<{ elapsed: number; cpuMs: CpuMs }> {
  const job = defineJob({
    name: 'bench',
    input: z.object({ i: z.number() }),
    concurrency: 50,
    async handler(_input, ctx) {
      for (let step = 1; step <= PROGRESS_EVENTS; step++) await ctx.progress(step * 10);
      return { ok: true };
    },
  });
  const jc = createJobcast({
    redisUrl: redisUrl!,
    secret: 'bench-secret-0123456789abcdef',
    keyPrefix: prefix,
    jobs: [job],
    logger: createLogger('silent'),
    retentionCount: TOTAL + 10,
  });
  const add = async (count: number) => {
    for (let i = 0; i < count; i += 500) await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, k) => jc.start(job, { i: i + k })));
  };
  const redis = new Redis(redisUrl!);
  const { elapsed, atStart: cpuAtStart } = await warmThenTime(jc.queues.queue('bench'), add, () => jc.runWorker(), 'jobcast', {
    atStart: async () => ({ worker: ownCpuMs(), redis: await redisCpuMs(redis) }),
  });
  // The worker process here also relays the outcomes and serves nothing else.
  const cpuMs = { worker: Math.round(ownCpuMs() - cpuAtStart.worker), redis: Math.round((await redisCpuMs(redis)) - cpuAtStart.redis) };
  redis.disconnect();
  await jc.close();
  return { elapsed, cpuMs };
}

if (kind === 'watcher') {
  await watcher(countArg!);
} else if (kind === 'reader') {
  await reader(countArg!);
} else {
  const alongside = ({ watched: 'watcher', floor: 'reader' } as const)[kind as 'watched' | 'floor'];
  const { elapsed, publishedAfterMs, cpuMs } = kind === 'jobcast' ? { ...(await jobcast()), publishedAfterMs: undefined } : await bare(alongside);
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
