import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ARTIFACTS, demoWithBrowser, type launchBrowser, watchErrors } from '../helpers/browser.js';
import type { RoleProcess } from '../helpers/processes.js';

const ADMIN = 'admin-token-0123456789abcdef';

describe('the debug console under /admin/, in a real browser', () => {
  let app: RoleProcess;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let demo: Awaited<ReturnType<typeof demoWithBrowser>>;

  before(async () => {
    demo = await demoWithBrowser('admin', { JOBCAST_ADMIN_TOKEN: ADMIN });
    ({ app, browser } = demo);
  });
  after(async () => {
    assert.equal(await demo?.close(), 0);
  });

  it('refuses every admin page without the token', async () => {
    for (const path of ['/admin/', '/admin/api/overview', '/admin/api/events', '/admin/queues/', '/admin/console.js']) {
      assert.equal((await fetch(app.url + path)).status, 401, path);
      assert.equal((await fetch(app.url + path, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401, path);
    }
  });

  it('shows a job end to end: live events, then its timeline from request to partial fetched', async () => {
    // A person runs the demo…
    const page = await browser.context.newPage();
    await page.goto(app.url!);
    await page.selectOption('#pace', 'fast');
    await page.getByRole('button', { name: 'Analyse history' }).click();
    await page.waitForSelector('[data-jobcast-state="completed"] .jc-dash', { timeout: 30_000 });
    const jobId = (await page.getAttribute('[data-jobcast-job]', 'data-jobcast-job'))!;

    // …and an operator looks at it.
    const admin = await browser.context.newPage();
    const errors = watchErrors(admin);
    await admin.goto(`${app.url}/admin/?token=${ADMIN}`);
    await admin.waitForSelector(`#events tr[data-channel="job:${jobId}"]`);
    await admin.fill('#filter-job', jobId);
    const rows = await admin.locator('#events tr:not([hidden])').count();
    assert.ok(rows >= 3, `the live stream shows the job's events (${rows})`);
    await admin.locator(`#events tr[data-channel="job:${jobId}"]`).first().click();
    await admin.waitForSelector('#timeline li[data-what="partial fetched"]', { timeout: 10_000 });
    const whats = await admin.locator('#timeline li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.what));
    for (const what of ['enqueued', 'started', 'published', 'delivered', 'acknowledged', 'partial fetched'])
      assert.ok(whats.includes(what), `${what} in ${whats.join(', ')}`);
    assert.match((await admin.textContent('#timeline-title')) ?? '', new RegExp(`analyse-history ${jobId}: completed`));
    assert.match((await admin.textContent('#gateways')) ?? '', /^[1-9]/);
    await admin.screenshot({ path: join(ARTIFACTS, 'admin-console.png') });
    assert.deepEqual(errors, []);

    // Bull Board, with the same token (the console visit set the admin cookie).
    const board = await browser.context.newPage();
    const response = await board.goto(`${app.url}/admin/queues/`);
    assert.equal(response?.status(), 200);
    assert.match(await board.content(), /bull/i);
  });
});
