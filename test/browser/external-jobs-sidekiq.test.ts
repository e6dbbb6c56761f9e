import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { Redis } from 'ioredis';

import { renderJobElement } from '../../server/index.js';
import { ARTIFACTS, launchBrowser, type Page } from '../helpers/browser.js';
import { EXTERNAL_APP, send, sign, startExternalStack } from '../helpers/external-jobs.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { deferred } from '../helpers/wait.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER = './test/fixtures/sidekiq_worker.rb';

interface Opened {
  jobId: string;
  token: string;
  id: string;
}

/**
 * A real Sidekiq (Debian's ruby-sidekiq, `sidekiq -r`) on a Redis of the test's own runs jobs
 * that report through the README's Ruby helper; the one-tag element in Chromium shows them.
 */
describe('external jobs: a Sidekiq worker reports through the Ruby helper, the page shows it', () => {
  const redis = new OwnRedis();
  let stack: Awaited<ReturnType<typeof startExternalStack>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let sidekiq: ChildProcess | undefined;
  let sidekiqRedis: Redis;
  let env: NodeJS.ProcessEnv;
  let log = '';

  before(async () => {
    [stack, browser] = await Promise.all([startExternalStack(), launchBrowser(), redis.start()]);
    await mkdir(ARTIFACTS, { recursive: true });
    sidekiqRedis = new Redis(redis.url);
    env = { ...process.env, ...stack.workerEnv, REDIS_URL: redis.url };
    sidekiq = spawn('sidekiq', ['-r', WORKER, '-c', '4', '-t', '2', '-q', 'default'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const up = deferred();
    const onData = (chunk: Buffer) => {
      log += chunk;
      // Jobs pushed from here on wait in the queue for its processors.
      if (log.includes('Booting Sidekiq')) up.resolve();
    };
    sidekiq.stdout!.on('data', onData);
    sidekiq.stderr!.on('data', onData);
    sidekiq.once('exit', (code) => up.reject(new Error(`sidekiq exited with ${code}:\n${log}`)));
    const timer = setTimeout(() => up.reject(new Error(`sidekiq did not start in 20 s:\n${log}`)), 20_000);
    await up.promise.finally(() => clearTimeout(timer));
  });
  after(async () => {
    if (sidekiq && sidekiq.exitCode === null && sidekiq.signalCode === null) {
      const exited = new Promise((resolve) => sidekiq!.once('exit', resolve));
      sidekiq.kill('SIGTERM');
      const timer = setTimeout(() => sidekiq!.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    sidekiqRedis?.disconnect();
    await browser?.close();
    await stack?.close();
    await redis.destroy();
  });

  /** Enqueues a SearchJob the way a Rails action would, with the page's element data. */
  async function enqueue(query: string, steps: number, failures: number): Promise<Opened> {
    const { stdout } = await run('ruby', [WORKER, query, String(steps), String(failures)], { cwd: ROOT, env, timeout: 20_000 });
    return JSON.parse(stdout) as Opened;
  }

  async function show(jobs: Opened[]): Promise<{ page: Page; errors: string[] }> {
    const id = Math.random().toString(36).slice(2);
    stack.pages.set(
      id,
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>search</title><link rel="icon" href="data:,"></head><body><main>${jobs.map((j) => renderJobElement(j).value).join('')}</main><script src="/jobcast/client.js" defer></script></body></html>`,
    );
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${stack.url}/page/${id}`);
    return { page, errors };
  }

  const el = (job: Opened) => `[data-jobcast-job="${job.jobId}"]`;
  const pctOf = (page: Page, job: Opened, pct: number, timeout = 15_000) =>
    page.waitForSelector(`${el(job)} [role="progressbar"][aria-valuenow="${pct}"]`, { timeout });
  const go = (job: Opened) => sidekiqRedis.lpush(`test:go:${job.id}`, '1');

  it('the bar moves with each report and the partial swaps in', { timeout: 60_000 }, async () => {
    const job = await enqueue('red <shoes>', 3, 0);
    const { page, errors } = await show([job]);
    for (const pct of [0, 33, 66]) {
      await pctOf(page, job, pct);
      assert.equal(await page.getAttribute(el(job), 'data-jobcast-state'), 'active');
      if (pct === 33) {
        assert.equal(await page.textContent(`${el(job)} .jobcast-stage`), 'Searching shard 2 of 3');
        await page.screenshot({ path: join(ARTIFACTS, 'external-sidekiq-progress.png') });
      }
      await go(job);
    }
    await page.waitForSelector(`${el(job)} .found`, { timeout: 15_000 });
    assert.equal(await page.textContent(`${el(job)} .found`), '3 results for red <shoes>', 'escaped by the worker, swapped in by the page');
    assert.equal(await page.getAttribute(el(job), 'data-jobcast-state'), 'completed');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it(
    'a job that raises is retried by Sidekiq: the page shows retrying, then the outcome (completed, or failed once retries run out)',
    { timeout: 60_000 },
    async () => {
      const [recovers, givesUp] = await Promise.all([enqueue('blue', 1, 1), enqueue('green', 1, 2)]);
      const { page, errors } = await show([recovers, givesUp]);
      const state = (job: Opened, value: string, timeout = 15_000) => page.waitForSelector(`${el(job)}[data-jobcast-state="${value}"]`, { timeout });
      // Each first attempt waits until the page shows it running, then raises.
      for (const job of [recovers, givesUp]) {
        await state(job, 'active');
        await go(job);
        await state(job, 'retrying');
        assert.match(
          (await page.textContent(`${el(job)} .jobcast-stage`)) ?? '',
          /^Attempt 1 of 2 failed: the search index is warming up\. Retrying now \(attempt 2 of 2\)\.$/,
        );
      }
      await page.screenshot({ path: join(ARTIFACTS, 'external-sidekiq-retrying.png') });
      // Sidekiq's scheduler brings the retries back: 1 s of sidekiq_retry_in plus Sidekiq's own
      // jitter (up to 9 s) plus its first poll (up to 5 s after boot).
      await pctOf(page, recovers, 0, 30_000);
      await go(recovers);
      await page.waitForSelector(`${el(recovers)} .found`, { timeout: 15_000 });
      await state(givesUp, 'active', 30_000);
      await go(givesUp);
      await page.waitForSelector(`${el(givesUp)}[data-jobcast-state="failed"]`, { timeout: 30_000 });
      assert.match((await page.textContent(el(givesUp))) ?? '', /This job failed: the search index is warming up/);
      const status = await send(sign(stack.url, 'GET', `/apps/${EXTERNAL_APP.id}/external-jobs/${givesUp.id}`));
      assert.deepEqual([status.body.state, status.body.attemptsMade, status.body.attempts], ['failed', 2, 2]);
      assert.deepEqual(errors, []);
      await page.close();
    },
  );

  it('a job opened and never finished shows stalled, then failed, and the page says so', { timeout: 30_000 }, async () => {
    // The worker died before its first report: nothing but the deadlines ends this job.
    const opened = await send(
      sign(stack.url, 'POST', `/apps/${EXTERNAL_APP.id}/external-jobs`, { id: 'lost-job', stalledAfterSeconds: 1, failedAfterSeconds: 3 }),
    );
    assert.equal(opened.status, 201);
    const job = opened.body as Opened;
    const { page, errors } = await show([job]);
    await page.waitForSelector(`${el(job)}[data-jobcast-state="stalled"]`, { timeout: 10_000 });
    await page.waitForSelector(`${el(job)}[data-jobcast-state="failed"]`, { timeout: 10_000 });
    assert.match((await page.textContent(el(job))) ?? '', /This job failed: the worker sent no report for [34] s and is taken for dead/);
    await page.screenshot({ path: join(ARTIFACTS, 'external-deadline-failed.png') });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
