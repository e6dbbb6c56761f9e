import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Redis } from 'ioredis';
import { z } from 'zod';

import { RedisChannelStore } from '../../server/channels/redis-channel-store.js';
import { AttemptControl } from '../../server/jobs/attempt-control.js';
import { defineJob, type JobContext } from '../../server/jobs/define-job.js';
import { executeAttempt } from '../../server/jobs/execute-attempt.js';
import { createLogger, type Logger } from '../../server/logger.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

/**
 * One attempt's context as a handler sees it, against a real channel store: the logger and the
 * signal are made only when the handler asks for them (a worker runs thousands of jobs a
 * second that never do), and behave as before when it does.
 */
describe('executeAttempt: the context a handler gets', () => {
  const prefix = uniquePrefix('attempt');
  let url: string;
  let redis: Redis;
  let store: RedisChannelStore;
  before(async () => {
    url = await testRedisUrl();
    redis = new Redis(url);
    store = new RedisChannelStore(redis, { prefix, coalesce: true });
  });
  after(async () => {
    redis.disconnect();
    await deleteKeys(url, prefix);
  });

  let jobs = 0;
  /** Runs `handler` as one attempt; `made` counts the loggers the attempt asked for. */
  async function attempt(handler: (ctx: JobContext) => Promise<unknown>, control = new AttemptControl()) {
    const jobId = `ctx-${++jobs}`;
    const made: Logger[] = [];
    const definition = defineJob({ name: 'ctx', input: z.object({}), handler: (_input, ctx) => handler(ctx) });
    const run = {
      jobId,
      attempt: 1,
      attempts: 1,
      data: {},
      log: () => {
        const logger = createLogger('silent');
        made.push(logger);
        return logger;
      },
      control,
    };
    const result = executeAttempt(definition, run, { store, maxPartialBytes: 1024 });
    return { jobId, made, result };
  }

  it('makes the logger only for a handler that logs, and the same one on every read', async () => {
    const quiet = await attempt(async () => 'done');
    assert.equal(await quiet.result, 'done');
    assert.equal(quiet.made.length, 0);

    const chatty = await attempt(async (ctx) => {
      ctx.log.info('one');
      ctx.log.info('two');
      return ctx.log;
    });
    const logger = await chatty.result;
    assert.equal(chatty.made.length, 1, 'made once however often it is read');
    assert.equal(logger, chatty.made[0]);
  });

  it('aborts the signal of a handler that listens, and the attempt rejects with the reason', async () => {
    const control = new AttemptControl();
    let listening!: () => void;
    const started = new Promise<void>((resolve) => (listening = resolve));
    const { result } = await attempt(
      (ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          listening();
        }),
      control,
    );
    await started;
    const reason = new Error('cancelled by the user');
    control.abort(reason);
    await assert.rejects(result, (error) => error === reason);
  });

  it('ends an attempt whose handler ignores its signal, with the reason, when it is stopped', async () => {
    const control = new AttemptControl();
    const { result } = await attempt(() => new Promise(() => undefined), control);
    const reason = new Error('shutting down');
    setImmediate(() => control.abort(reason));
    await assert.rejects(result, (error) => error === reason);
  });

  it('stores each report as its data: a bare percentage, a stage, or a detail object', async () => {
    const { jobId, result } = await attempt(async (ctx) => {
      await ctx.progress(10);
      await ctx.progress(20, 'parsing');
      await ctx.progress(130, { stage: 'rendering', message: 'page 3' });
      return null;
    });
    await result;
    const { epoch } = await store.read(`job:${jobId}`);
    const read = await store.read(`job:${jobId}`, { epoch, offset: 0 });
    assert.deepEqual(
      read.events.filter((e) => e.event === 'progress').map((e) => e.data),
      [{ pct: 10 }, { pct: 20, stage: 'parsing' }, { pct: 100, stage: 'rendering', message: 'page 3' }],
    );
  });
});
