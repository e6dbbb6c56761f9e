import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ARTIFACTS, demoWithBrowser, type launchBrowser, watchErrors } from '../helpers/browser.js';
import type { RoleProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

describe('the demo in a real browser: submit, watch the bar move, get the dashboard', () => {
  let app: RoleProcess;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let demo: Awaited<ReturnType<typeof demoWithBrowser>>;

  before(async () => {
    demo = await demoWithBrowser('browser');
    ({ app, browser } = demo);
  });
  after(async () => {
    assert.equal(await demo?.close(), 0);
  });

  it('shows live progress, then swaps in the dashboard partial', async () => {
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(app.url!);
    await page.screenshot({ path: join(ARTIFACTS, 'demo-form.png') });
    await page.getByRole('button', { name: 'Analyse history' }).click();

    const job = page.locator('[data-jobcast-job]');
    await job.waitFor();
    const bar = job.locator('[role="progressbar"]');
    // Sample the bar while the job runs: it must rise, more than once, before the result.
    const seen: number[] = [];
    let range: (string | null)[] = [];
    let liveRegions = 0;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const state = await job.getAttribute('data-jobcast-state');
      if (state === 'completed' || state === 'failed') break;
      const now = await bar.getAttribute('aria-valuenow').catch(() => null);
      if (now !== null && Number(now) !== seen.at(-1)) {
        seen.push(Number(now));
        if (seen.length === 3) {
          await page.screenshot({ path: join(ARTIFACTS, 'demo-progress.png') });
          range = [await bar.getAttribute('aria-valuemin'), await bar.getAttribute('aria-valuemax')];
          liveRegions = await job.locator('[aria-live="polite"]').count();
        }
      }
      await page.waitForTimeout(100);
    }
    assert.ok(seen.length >= 3, `aria-valuenow rose in steps: ${seen.join(', ')}`);
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
      'never went back',
    );
    assert.deepEqual(range, ['0', '100']);
    assert.equal(liveRegions, 1, 'stage text is announced');

    await page.waitForSelector('[data-jobcast-state="completed"] .jc-dash', { timeout: 30_000 });
    assert.equal(await job.locator('[role="progressbar"]').count(), 0, 'the partial replaced the progress view');
    assert.ok((await job.locator('svg[role="img"] rect.jc-dash-bar').count()) >= 1, 'the chart is there');
    assert.ok((await job.locator('table.jc-dash-authors tbody tr').count()) >= 1, 'the authors table is there');
    await page.screenshot({ path: join(ARTIFACTS, 'demo-done.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no errors in the page');
  });

  it('a job that finished before the page loaded shows as finished', async () => {
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(app.url!);
    await page.selectOption('#pace', 'fast');
    // Hold the client script back so the job finishes before the page subscribes.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/jobcast/client.js', async (route) => {
      await held;
      await route.continue();
    });
    await page.getByRole('button', { name: 'Analyse history' }).click();
    const job = page.locator('[data-jobcast-job]');
    await job.waitFor({ state: 'attached' });
    const jobId = await job.getAttribute('data-jobcast-job');
    const token = await job.getAttribute('data-jobcast-token');
    // The job ends while the page cannot listen yet: the page must still show the result.
    await waitFor(
      async () => (await fetch(`${app.url}/jobcast/jobs/${jobId}?token=${token}`).then((r) => r.json())).state === 'completed',
      'the job to complete',
      30_000,
    );
    release();
    await page.waitForSelector('[data-jobcast-state="completed"] .jc-dash', { timeout: 15_000 });
    assert.deepEqual(errors, []);
  });

  it("says so in plain words when the token is wrong, under the page's strict CSP, without a page error", async () => {
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    const form = await page.goto(app.url!);
    const csp = form!.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self' 'nonce-[^']+'/);
    assert.match(csp, /style-src 'self' 'nonce-[^']+'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await page.selectOption('#pace', 'fast');
    await page.getByRole('button', { name: 'Analyse history' }).click();
    await page.waitForSelector('[data-jobcast-state="completed"] .jc-dash');
    // An element added later, with a bad token: the client on the page wires it by itself.
    await page.evaluate(() => {
      const div = document.createElement('div');
      div.dataset.jobcastJob = 'nope';
      div.dataset.jobcastToken = 'not-a-token';
      document.querySelector('main')!.append(div);
    });
    await page.waitForSelector('[data-jobcast-job="nope"] .jobcast-error:not([hidden])');
    assert.match((await page.textContent('[data-jobcast-job="nope"] .jobcast-error')) ?? '', /do not have access/);
    assert.deepEqual(errors, [], 'no page errors and no CSP violations');
  });
});
