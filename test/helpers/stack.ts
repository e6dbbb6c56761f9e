import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { z } from 'zod';
import { createJobcast, defineJob, type Jobcast, type JobDefinition } from '../../server/index.js';
import { createLogger } from '../../server/logger.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

/** A job that reports `steps` progress events, optionally waiting `stepMs` between them. */
export const countJob = defineJob({
  name: 'count',
  input: z.object({ steps: z.number().int().min(1).max(1000), stepMs: z.number().int().min(0).max(1000).default(0), label: z.string().max(100).default('') }),
  async handler({ steps, stepMs }, ctx) {
    for (let i = 1; i <= steps; i++) {
      if (stepMs) await new Promise((r) => setTimeout(r, stepMs));
      ctx.signal.throwIfAborted();
      void ctx.progress((i / steps) * 100, { stage: `Step ${i}`, message: `${i} of ${steps}` });
    }
    return { counted: steps };
  },
  render: (result, input) => `<p class="counted">Counted to ${result.counted}${input.label ? ` for ${input.label}` : ''}</p>`,
});

/** Fails its first `failures` attempts with a visible message, then succeeds. */
export const flakyJob = defineJob({
  name: 'flaky',
  input: z.object({ failures: z.number().int().min(0).max(10) }),
  attempts: 3,
  backoff: { type: 'fixed', delayMs: 50 },
  async handler({ failures }, ctx) {
    await ctx.progress(50, { stage: 'Trying' });
    if (ctx.attempt <= failures) throw new Error(`upstream said no (attempt ${ctx.attempt})`);
    return { attempt: ctx.attempt };
  },
  render: (result) => `<p>worked on attempt ${result.attempt}</p>`,
});

export interface TestStack {
  jobcast: Jobcast;
  url: string;
  server: Server;
  prefix: string;
  redisUrl: string;
  close(): Promise<void>;
}

/** jobcast with web router, gateway and worker on one HTTP server on port 0, own key prefix. */
export async function startStack(options: { jobs?: JobDefinition<any, any>[]; worker?: boolean } = {}): Promise<TestStack> { // any: jobs of every type
  const redisUrl = await testRedisUrl();
  const prefix = uniquePrefix();
  const jobcast = createJobcast({
    redisUrl,
    secret: TEST_SECRET,
    keyPrefix: prefix,
    jobs: options.jobs ?? [countJob, flakyJob],
    logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  const app = express();
  app.use(jobcast.router());
  const server = createServer(app);
  jobcast.attachGateway(server);
  if (options.worker !== false) jobcast.runWorker();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    jobcast,
    url,
    server,
    prefix,
    redisUrl,
    async close() {
      await jobcast.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deleteKeys(redisUrl, prefix);
    },
  };
}
