/**
 * Scenario 2, in a process of its own: BullMQ jobs with 10 progress updates each at worker
 * concurrency 50, bare BullMQ (`job.updateProgress`) or jobcast's job runner (`ctx.progress`,
 * published to subscribers through the channel log). Prints jobs/s.
 */
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

async function bare(): Promise<number> {
  const connection = new Redis(redisUrl!, { maxRetriesPerRequest: null });
  const queue = new Queue('bare', { connection, prefix });
  await queue.addBulk(Array.from({ length: JOBS }, (_, i) => ({ name: 'bare', data: { i } })));
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
  await worker.close();
  await queue.close();
  connection.disconnect();
  return elapsed;
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
  const jc = createJobcast({ redisUrl: redisUrl!, secret: 'bench-secret-0123456789abcdef', keyPrefix: prefix, jobs: [job], logger: createLogger('silent'), retentionCount: JOBS + 10 });
  for (let i = 0; i < JOBS; i += 500) await Promise.all(Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => jc.start(job, { i: i + k })));
  const queue = jc.queues.queue('bench');
  const started = Date.now();
  jc.runWorker();
  await waitFor(async () => (await queue.getJobCounts('completed')).completed === JOBS, 'jobcast jobs', 300_000);
  const elapsed = Date.now() - started;
  await jc.close();
  return elapsed;
}

const elapsed = kind === 'bare' ? await bare() : await jobcast();
await deleteKeys(redisUrl!, prefix);
process.stdout.write(JSON.stringify({ kind, jobs: JOBS, jobsPerSec: Math.round(JOBS / (elapsed / 1000)) }) + '\n');
process.exit(0);
