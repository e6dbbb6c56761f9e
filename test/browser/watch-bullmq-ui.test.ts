import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Redis } from 'ioredis';

import { ARTIFACTS, launchBrowser, watchErrors } from '../helpers/browser.js';
import { type BullWorkerProcess, startBullWorker } from '../helpers/bullmq-worker.js';
import { testRedisUrl } from '../helpers/redis.js';
import { deferred } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APP = 'test/fixtures/existing-bullmq-app.ts';

/** The example uses BullMQ's and jobcast's default prefixes: its keys are removed before and after. */
async function deleteExampleKeys(url: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    for (const pattern of ['bull:emails:*', 'jobcast:{job:emails:*', 'jobcast:{watch:bull:emails}*']) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

describe('README "Use it with your existing BullMQ queues": the example app in Chromium', () => {
  let redisUrl: string;
  let app: ChildProcess;
  let appUrl: string;
  let worker: BullWorkerProcess;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;

  before(async () => {
    redisUrl = await testRedisUrl();
    await deleteExampleKeys(redisUrl);
    app = spawn(process.execPath, ['--import', 'tsx', APP], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: redisUrl, JOBCAST_SECRET: 'readme-example-secret-0123456789', PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const up = deferred<string>();
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\{.*\})/.exec(output);
      if (match) up.resolve(`http://127.0.0.1:${(JSON.parse(match[1]!) as { port: number }).port}`);
    };
    app.stdout!.on('data', onData);
    app.stderr!.on('data', onData);
    app.once('exit', (code) => up.reject(new Error(`the example app exited with ${code}:\n${output}`)));
    const timer = setTimeout(() => up.reject(new Error(`the example app did not listen within 20 s:\n${output}`)), 20_000);
    try {
      appUrl = await up.promise;
    } finally {
      clearTimeout(timer);
    }
    [worker, browser] = await Promise.all([startBullWorker({ REDIS_URL: redisUrl, QUEUE: 'emails' }), launchBrowser()]);
    await mkdir(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await worker?.stop('SIGKILL');
    if (app && app.exitCode === null) {
      const exited = new Promise((resolve) => app.once('exit', resolve));
      app.kill('SIGKILL');
      await exited;
    }
    await deleteExampleKeys(redisUrl);
  });

  it('the README shows exactly the example this test runs', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Use it with your existing BullMQ queues'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(block, 'the section has a ts example');
    const example = (await readFile(join(ROOT, APP), 'utf8')).replace("'../../server/index.js'", "'jobcast/server'");
    assert.equal(block, example);
    assert.ok(example.split('\n').filter((l) => l.includes('// + jobcast')).length <= 5, 'at most five lines of jobcast code (besides the import)');
  });

  it('a plain BullMQ worker moves the bar; the page ends completed with the rendered partial', async () => {
    const page = await browser.context.newPage();
    // The example's pages have no icon; the browser's request for one is not the app's error.
    await page.route('**/favicon.ico', (route) => route.fulfill({ status: 204 }));
    const errors = watchErrors(page);
    await page.goto(appUrl);
    await page.click('button');
    await page.waitForSelector('[data-jobcast-job]');
    // Every value the bar shows, as the page sees it.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        const value = document.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow');
        if (value && seen.at(-1) !== value) seen.push(value);
      }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['aria-valuenow'] });
    });
    await page.waitForSelector('[data-jobcast-state="active"]', { timeout: 15_000 });
    // Its workers take no cancel requests: the page says so, and keeps saying it while the job runs.
    await page.click('.jobcast-cancel');
    const refusal = /Could not cancel: job emails:\d+ is already running, and the workers of queue emails cannot be told to stop it; it will finish on its own/;
    await page.waitForFunction((source) => new RegExp(source).test(document.querySelector('.jobcast-error:not([hidden])')?.textContent ?? ''), refusal.source, {
      timeout: 5000,
    });
    const shownAt = await page.evaluate(() => (window as unknown as { seen: string[] }).seen.length);
    await page.waitForFunction((n) => (window as unknown as { seen: string[] }).seen.length > n + 1, shownAt, { timeout: 10_000 });
    assert.match((await page.textContent('.jobcast-error:not([hidden])')) ?? '', refusal, 'still shown after more progress');
    await page.screenshot({ path: join(ARTIFACTS, 'watch-bullmq-progress.png') });
    await page.waitForSelector('[data-jobcast-state="completed"] .jobcast-result .sent', { timeout: 15_000 });
    assert.equal(await page.textContent('.sent'), 'Sent 10 emails');
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen.map(Number));
    assert.ok(seen.length >= 3, `the bar moved through several values: ${seen.join(', ')}`);
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      seen,
      'and only forward',
    );
    await page.screenshot({ path: join(ARTIFACTS, 'watch-bullmq-completed.png') });
    // The refused cancel's 409 is the one failed request the browser reports.
    assert.deepEqual(
      errors.filter((e) => !/status of 409/.test(e)),
      [],
    );
    await page.close();
  });
});
