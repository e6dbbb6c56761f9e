import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import express from 'express';

import { renderJobElement } from '../../server/index.js';
import { jobChannel } from '../../shared/constants.js';
import { ARTIFACTS, launchBrowser, type Page, watchErrors } from '../helpers/browser.js';
import { portOf, ProcessCluster } from '../helpers/cluster.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';

/** Seconds since the epoch at which a channel token expires (read from its payload). */
const expiryOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;

/**
 * The one-tag view tells the truth about its connection: "Reconnecting…" while no live path
 * exists (a connected socket whose resubscribe Redis cannot answer included), and a page
 * that outlived its token gets a fresh one from the app, or says it must be reloaded.
 */
describe('the one-tag view through faults, in a real browser', () => {
  const redis = new OwnRedis();
  const cluster = new ProcessCluster();
  let proxy: TcpProxy;
  let app: Server;
  let appUrl: string;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  const pages = new Map<string, string>();
  const refreshed: { jobId: string; channel: string }[] = [];

  before(async () => {
    await redis.start();
    const { gateways } = await cluster.start({ gateways: 1, workers: 1, redisUrl: redis.url, env: { JOBCAST_CONCURRENCY: '4' } });
    proxy = await TcpProxy.start([portOf(gateways[0]!.url!)]);
    const web = express();
    web.use(cluster.jobcast.router());
    web.get('/page/:id', (req, res) => void res.type('html').send(pages.get(req.params.id) ?? 'no page'));
    // The app's token refresh endpoint: here anyone may follow any job; a real app checks its session.
    web.post('/refresh-token', express.json(), async (req, res) => {
      const { jobId, channel } = req.body as { jobId: string; channel: string };
      refreshed.push({ jobId, channel });
      res.json({ token: await cluster.jobcast.token([jobChannel(jobId)], { ttlSeconds: 60 }) });
    });
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
    await proxy?.close();
    await cluster.stop();
    await redis.destroy();
  });

  async function open(elements: string): Promise<{ page: Page; errors: string[] }> {
    const id = Math.random().toString(36).slice(2);
    pages.set(
      id,
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>job</title><link rel="icon" href="data:,"></head><body><main>${elements}</main><script src="/jobcast/client.js" data-gateway="${proxy.url}" defer></script></body></html>`,
    );
    const page = await browser.context.newPage();
    const errors = watchErrors(page).filter(() => false);
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${appUrl}/page/${id}`);
    return { page, errors };
  }

  const pct = async (page: Page, jobId: string) =>
    Number((await page.locator(`[data-jobcast-job="${jobId}"] [role="progressbar"]`).getAttribute('aria-valuenow')) ?? -1);

  it('shows "Reconnecting…" during a Redis outage with a reconnect in it, and clears it when events flow again', async () => {
    const started = await cluster.jobcast.start(countJob, { steps: 90, stepMs: 60 });
    const { page, errors } = await open(renderJobElement(started).value);
    const el = page.locator(`[data-jobcast-job="${started.jobId}"]`);
    await waitFor(async () => (await pct(page, started.jobId)) > 0, 'progress on the page');
    const notice = el.locator('.jobcast-notice[data-kind="reconnecting"]');

    await redis.stop();
    proxy.cut();
    await notice.waitFor({ state: 'visible', timeout: 15_000 });
    assert.match((await notice.textContent()) ?? '', /Reconnecting…/);
    // The page reconnected to the gateway (which is up); only its subscription is not live.
    await waitFor(() => proxy.connections >= 1, 'the page to be connected to the gateway again');
    assert.ok(await notice.isVisible(), 'still says Reconnecting… while connected without a live subscription');
    await page.screenshot({ path: join(ARTIFACTS, 'ui-reconnecting.png') });

    const before = await pct(page, started.jobId);
    await redis.start();
    await notice.waitFor({ state: 'hidden', timeout: 15_000 });
    await waitFor(async () => (await pct(page, started.jobId)) > before, 'progress to move again');
    await el.locator('.counted').waitFor({ timeout: 30_000 });
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('a page that outlived its token gets a fresh one from data-jobcast-token-url; without it, it asks to be reloaded', async () => {
    const started = await cluster.jobcast.start(countJob, { steps: 120, stepMs: 80 });
    // The same job on two pages, with a token that expires in four or five seconds: time for
    // both pages to load and subscribe on a loaded machine, and the job runs on past it.
    const token = await cluster.jobcast.token([jobChannel(started.jobId)], { ttlSeconds: 5 });
    const refreshing = await open(renderJobElement({ jobId: started.jobId, token }, { tokenUrl: '/refresh-token' }).value);
    const stuck = await open(renderJobElement({ jobId: started.jobId, token }).value);
    for (const { page } of [refreshing, stuck]) await waitFor(async () => (await pct(page, started.jobId)) > 0, 'progress on the page');
    await waitFor(() => Date.now() / 1000 > expiryOf(token) + 0.2, 'the token to expire', 10_000);

    proxy.cut();
    const error = stuck.page.locator('.jobcast-error');
    await error.waitFor({ state: 'visible', timeout: 15_000 });
    assert.match((await error.textContent()) ?? '', /expired\. Reload the page/);
    assert.equal(await stuck.page.locator('.jobcast-button:not(.jobcast-cancel)').textContent(), 'Reload');
    await stuck.page.screenshot({ path: join(ARTIFACTS, 'ui-token-expired.png') });
    await refreshing.page.locator('.counted').waitFor({ timeout: 30_000 });
    assert.deepEqual(
      refreshed.map((r) => r.channel),
      [jobChannel(started.jobId)],
      'one refresh, for the job',
    );
    assert.deepEqual([...refreshing.errors, ...stuck.errors], []);
    await stuck.page.close();
    const page = refreshing.page;
    await page.screenshot({ path: join(ARTIFACTS, 'ui-token-refresh.png') });
    await page.close();
  });
});
