import { z } from 'zod';

import { defineJob, html } from '../../server/index.js';

// Jobs for tests; child processes load this module with JOBCAST_JOBS.

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

/** Like flaky, with a retry delay long enough for a person (and a browser test) to read it. */
export const patientRetryJob = defineJob({
  name: 'patient-retry',
  input: z.object({ failures: z.number().int().min(0).max(10) }),
  attempts: 3,
  backoff: { type: 'fixed', delayMs: 5000 },
  async handler({ failures }, ctx) {
    await ctx.progress(30, { stage: 'Calling the upstream service' });
    if (ctx.attempt <= failures) throw new Error(`upstream said no (attempt ${ctx.attempt})`);
    await ctx.progress(90, { stage: 'Finishing' });
    return { attempt: ctx.attempt };
  },
  render: (result) => `<p class="retried">worked on attempt ${result.attempt}</p>`,
});

// Per worker process: which keys have failed once already.
const failedOnce = new Set<string>();

/** Fails the first time it runs for a key, then works: a person can run it again from the page. */
export const failFirstRunJob = defineJob({
  name: 'fail-first-run',
  input: z.object({ key: z.string().max(100) }),
  retryFromPage: true,
  async handler({ key }, ctx) {
    await ctx.progress(40, { stage: 'Trying' });
    if (!failedOnce.has(key)) {
      failedOnce.add(key);
      throw new Error('the printer is on fire');
    }
    return { ok: true };
  },
  render: () => '<p class="second-time">worked the second time</p>',
});

/** Renders whatever text it is given: for proving the partial escapes it. */
export const echoJob = defineJob({
  name: 'echo',
  input: z.object({ text: z.string().max(2000) }),
  async handler({ text }, ctx) {
    await ctx.progress(50, { stage: text.slice(0, 200), message: text.slice(0, 500) });
    return { text };
  },
  render: (result) => html`<p class="echo">${result.text}</p>`.value,
});

/** One report per account at a time: a second start joins the running one. */
export const reportJob = defineJob({
  name: 'report',
  input: z.object({ account: z.string().max(50), stepMs: z.number().int().max(1000).default(50) }),
  unique: { key: (input) => input.account },
  async handler({ stepMs }, ctx) {
    for (let i = 1; i <= 10; i++) {
      await new Promise((r) => setTimeout(r, stepMs));
      await ctx.progress(i * 10);
    }
    return { ok: true };
  },
});

/** Like report, but a duplicate is refused. */
export const exportJob = defineJob({
  name: 'export',
  input: z.object({ account: z.string().max(50) }),
  unique: { key: (input) => input.account, onDuplicate: 'reject' },
  async handler(_input, ctx) {
    await new Promise((r) => setTimeout(r, 500));
    await ctx.progress(100);
    return { ok: true };
  },
});

/** Ignores its signal and runs past its time limit. */
export const slowpokeJob = defineJob({
  name: 'slowpoke',
  input: z.object({}),
  timeoutMs: 300,
  async handler() {
    await new Promise((r) => setTimeout(r, 3000));
    return { late: true };
  },
});

/** Fails with a client error that is not worth retrying, unless told the error is transient. */
export const pickyJob = defineJob({
  name: 'picky',
  input: z.object({ transient: z.boolean() }),
  attempts: 3,
  backoff: (attempt) => attempt * 150,
  retryIf: (error) => !/status 400/.test(error.message),
  async handler({ transient }, ctx): Promise<{ never: true }> {
    if (transient) throw new Error(`upstream timed out (attempt ${ctx.attempt})`);
    throw new Error('upstream answered status 400: bad request');
  },
});
