import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import express from 'express';

import { renderJobElement } from '../../server/index.js';
import { freePort } from '../../server/redis/embedded-redis.js';
import type { StartedJob } from '../../shared/protocol.js';
import { ARTIFACTS, launchBrowser, type Page } from '../helpers/browser.js';
import { portOf, ProcessCluster } from '../helpers/cluster.js';
import type { RoleProcess } from '../helpers/processes.js';
import { countJob, echoJob, failFirstRunJob, flakyJob, patientRetryJob } from '../helpers/test-jobs.js';

/**
 * The progress UI in Chromium against a gateway and a worker in their own processes; the page
 * and the jobcast router are served by this test process, as a user's app would serve them.
 */
describe('the progress UI in a real browser', () => {
  const cluster = new ProcessCluster();
  let gateway: RoleProcess;
  let app: Server;
  let appUrl: string;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  const pages = new Map<string, string>();

  before(async () => {
    gateway = (await cluster.start({ gateways: 1, workers: 1, env: { JOBCAST_CONCURRENCY: '25' } })).gateways[0]!;
    const web = express();
    web.use(cluster.jobcast.router());
    web.get('/page/:id', (req, res) => void res.type('html').send(pages.get(req.params.id) ?? 'no page'));
    app = createServer(web);
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    browser = await launchBrowser();
    await mkdir(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    app?.closeAllConnections();
    await new Promise((resolve) => app?.close(resolve));
    await cluster.stop();
  });

  /** Serves a page tracking `jobs` and opens it; returns the page and its error list. */
  async function open(jobs: Pick<StartedJob, 'jobId' | 'token'>[], extraHtml = ''): Promise<{ page: Page; errors: string[] }> {
    const id = Math.random().toString(36).slice(2);
    pages.set(
      id,
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>jobs</title><link rel="icon" href="data:,"></head><body><main>${jobs
        .map((j) => renderJobElement(j).value)
        .join('\n')}${extraHtml}</main><script src="/jobcast/client.js" data-gateway="${gateway.url}" defer></script></body></html>`,
    );
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${appUrl}/page/${id}`);
    return { page, errors };
  }

  const started0 = () => Math.random().toString(36).slice(2);
  const job = (page: Page, jobId: string) => page.locator(`[data-jobcast-job="${jobId}"]`);

  it('shows a retry the way a person can read it, then the result', async () => {
    // The retry waits 5 s: a page that loads late on a loaded machine still finds it waiting.
    const started = await cluster.jobcast.start(patientRetryJob, { failures: 1 });
    const { page, errors } = await open([started]);
    const el = job(page, started.jobId);
    await page.waitForSelector(`[data-jobcast-job="${started.jobId}"][data-jobcast-state="retrying"]`);
    const text = (await el.locator('.jobcast-stage').textContent()) ?? '';
    assert.match(text, /^Attempt 1 of 3 failed: upstream said no \(attempt 1\)\. Retrying in [1-5] s \(attempt 2 of 3\)\.$/);
    await page.screenshot({ path: join(ARTIFACTS, 'ui-retrying.png') });
    await el.locator('.retried').waitFor({ timeout: 15_000 });
    assert.equal(await el.getAttribute('data-jobcast-state'), 'completed');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('says a job failed, in an alert, when its retries run out', async () => {
    const started = await cluster.jobcast.start(flakyJob, { failures: 5 });
    const { page, errors } = await open([started]);
    const el = job(page, started.jobId);
    await page.waitForSelector(`[data-jobcast-job="${started.jobId}"][data-jobcast-state="failed"]`, { timeout: 15_000 });
    assert.equal(await el.locator('[role="alert"]').textContent(), 'This job failed: upstream said no (attempt 3)');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('offers Try again on a failed job that allows it, and runs it again', async () => {
    const started = await cluster.jobcast.start(failFirstRunJob, { key: started0() });
    const { page, errors } = await open([started]);
    const el = job(page, started.jobId);
    await page.waitForSelector(`[data-jobcast-job="${started.jobId}"][data-jobcast-state="failed"]`, { timeout: 15_000 });
    assert.equal(await el.locator('[role="alert"]').textContent(), 'This job failed: the printer is on fire');
    await el.getByRole('button', { name: 'Try again' }).click();
    await el.locator('.second-time').waitFor({ timeout: 15_000 });
    assert.equal(await el.getAttribute('data-jobcast-state'), 'completed');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('does not offer Try again on a job that does not allow it', async () => {
    const started = await cluster.jobcast.start(flakyJob, { failures: 5 });
    const { page } = await open([started]);
    await page.waitForSelector(`[data-jobcast-job="${started.jobId}"][data-jobcast-state="failed"]`, { timeout: 15_000 });
    assert.equal(await job(page, started.jobId).getByRole('button', { name: 'Try again' }).count(), 0);
    const refused = await fetch(`${appUrl}/jobcast/jobs/${started.jobId}/retry`, { method: 'POST', headers: { authorization: `Bearer ${started.token}` } });
    assert.equal(refused.status, 403);
    await page.close();
  });

  it('cancels from the button: the job stops and the page says so', async () => {
    const started = await cluster.jobcast.start(countJob, { steps: 400, stepMs: 25 });
    const { page, errors } = await open([started]);
    const el = job(page, started.jobId);
    await page.waitForSelector(`[data-jobcast-job="${started.jobId}"] [role="progressbar"][aria-valuenow]`);
    await page.screenshot({ path: join(ARTIFACTS, 'ui-progress.png') });
    // By keyboard: the button is a real button, reachable and pressable without a mouse.
    await el.getByRole('button', { name: 'Cancel' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector(`[data-jobcast-job="${started.jobId}"][data-jobcast-state="cancelled"]`);
    assert.equal(await el.locator('.jobcast-stage').textContent(), 'Cancelled.');
    assert.equal(await el.getByRole('button', { name: 'Cancel' }).isVisible(), false);
    assert.equal((await cluster.jobcast.status(started.jobId)).state, 'cancelled');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('recovers by itself when the gateway is killed and restarted mid-job', async () => {
    const started = await cluster.jobcast.start(countJob, { steps: 120, stepMs: 25 });
    const { page, errors } = await open([started]);
    await page.waitForSelector(`[data-jobcast-job="${started.jobId}"] [role="progressbar"][aria-valuenow]`);
    const port = portOf(gateway.url!);
    gateway.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 800));
    cluster.processes.splice(cluster.processes.indexOf(gateway), 1);
    gateway = await cluster.startRole('gateway', { PORT: String(port) });
    await job(page, started.jobId).locator('.counted').waitFor({ timeout: 20_000 });
    assert.deepEqual(errors, [], 'nothing thrown in the page');
    await page.close();
  });

  it('keeps a page with 20 jobs responsive and ends every one correctly', async () => {
    const started = await Promise.all(Array.from({ length: 20 }, (_, i) => cluster.jobcast.start(countJob, { steps: 40, stepMs: 20 + i, label: `job ${i}` })));
    const { page, errors } = await open(started);
    // Round trips into the page while the jobs run: a page busy with their events answers late
    // every time, a machine busy with everything else only now and then.
    const answers: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = Date.now();
      await page.evaluate(() => document.querySelectorAll('[data-jobcast-job]').length);
      answers.push(Date.now() - t);
      await new Promise((r) => setTimeout(r, 50));
    }
    answers.sort((a, b) => a - b);
    const [median, slowest] = [answers[5]!, answers.at(-1)!];
    await page.waitForFunction(() => document.querySelectorAll('[data-jobcast-state="completed"] .counted').length === 20, null, { timeout: 30_000 });
    for (const [i, s] of started.entries()) assert.equal(await job(page, s.jobId).locator('.counted').textContent(), `Counted to 40 for job ${i}`);
    assert.ok(median < 1000, `the page answered within a second while 20 jobs ran (median ${median} ms, slowest ${slowest})`);
    assert.ok(slowest < 5000, `and never hung (slowest ${slowest} ms)`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('says so when the gateway cannot be reached, and nothing throws', async () => {
    const started = await cluster.jobcast.start(countJob, { steps: 2 });
    const closedPort = await freePort(); // nothing listens there
    const { page, errors } = await open([]);
    await page.evaluate(
      ([html]) => document.querySelector('main')!.insertAdjacentHTML('beforeend', html!),
      [renderJobElement(started, { gatewayUrl: `http://127.0.0.1:${closedPort}` }).value],
    );
    const notice = job(page, started.jobId).locator('.jobcast-notice:not([hidden])');
    await notice.waitFor({ timeout: 15_000 });
    assert.equal(await notice.textContent(), 'Cannot reach the progress service. Reconnecting…');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('renders hostile job output as text: no script runs, no handler fires', async () => {
    const payload = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><svg onload="window.__pwned = 3">"'&`;
    const started = await cluster.jobcast.start(echoJob, { text: payload });
    const { page, errors } = await open([started]);
    const el = job(page, started.jobId);
    await el.locator('.echo').waitFor({ timeout: 15_000 });
    assert.equal(await el.locator('.echo').textContent(), payload, 'the partial shows the text itself');
    assert.equal(await el.locator('script, img, svg[onload]').count(), 0, 'no element was made from it');
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('shows hostile stage text as text too', async () => {
    const payload = '<img src=x onerror="window.__pwned = 4">';
    const started = await cluster.jobcast.start(echoJob, { text: payload });
    const { page } = await open([started]);
    // The stage line is set before the result replaces it: watch it while it is there.
    const stage = await page.waitForFunction(
      (id) =>
        document.querySelector(`[data-jobcast-job="${id}"] .jobcast-stage`)?.textContent?.includes('onerror')
          ? true
          : document.querySelector(`[data-jobcast-job="${id}"] .echo`) !== null,
      started.jobId,
    );
    void stage;
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.equal(await page.locator('img').count(), 0);
    await page.close();
  });

  it('speaks plainly about a bad token, an unknown job and a result that fails to load', async () => {
    const expired = await cluster.jobcast.token(['job:x1'], { ttlSeconds: -10 });
    const unknown = await cluster.jobcast.token(['job:nosuchjob']);
    const done = await cluster.jobcast.start(countJob, { steps: 2 });
    const { page, errors } = await open([
      { jobId: 'x1', token: expired },
      { jobId: 'nosuchjob', token: unknown },
      { jobId: 'x2', token: 'garbage' },
    ]);
    await page.route(`**/jobcast/jobs/${done.jobId}/partial`, (route) => route.fulfill({ status: 500, body: 'boom' }));
    await page.evaluate((html) => document.querySelector('main')!.insertAdjacentHTML('beforeend', html), renderJobElement(done).value);
    const errorOf = (id: string) => job(page, id).locator('.jobcast-error:not([hidden])');
    await errorOf('x1').waitFor();
    assert.equal(await errorOf('x1').textContent(), 'Your access to this page has expired. Reload the page to keep watching the job.');
    await errorOf('nosuchjob').waitFor();
    assert.equal(await errorOf('nosuchjob').textContent(), 'This job was not found. It may have expired.');
    await errorOf('x2').waitFor();
    assert.equal(await errorOf('x2').textContent(), 'You do not have access to this job.');
    await errorOf(done.jobId).waitFor({ timeout: 15_000 });
    assert.equal(await errorOf(done.jobId).textContent(), 'The result could not be loaded.');
    await page.unroute(`**/jobcast/jobs/${done.jobId}/partial`);
    await job(page, done.jobId).getByRole('button', { name: 'Try again' }).click();
    await job(page, done.jobId).locator('.counted').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'ui-problems.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
