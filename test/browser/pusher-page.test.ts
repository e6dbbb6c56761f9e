import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import express from 'express';
import PusherServer from 'pusher';

import { AppRegistry } from '../../server/apps/apps.js';
import { ARTIFACTS, launchBrowser, watchErrors } from '../helpers/browser.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const APP = { id: 'shop', key: 'shop-key', secret: 'shop-secret-0123456789', enabled: true };
const require = createRequire(import.meta.url);
const PUSHER_JS = require.resolve('pusher-js/dist/web/pusher.min.js');
const ECHO_JS = join(require.resolve('laravel-echo'), '..', 'echo.iife.js');

/**
 * The page a Sidekiq + Pusher app serves, unchanged but for the host: pusher-js binds its
 * handlers once `pusher:subscription_succeeded` fires and fetches the partial on `completed`;
 * Laravel Echo (broadcaster `pusher`) on the same page listens on a private channel that the
 * app's own `/broadcasting/auth` signs with the official `pusher` SDK, as Laravel does.
 */
function page(job: { jobId: string; token: string }): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Export</title><link rel="icon" href="data:,"></head>
<body><main>
<progress id="bar" max="100" value="0"></progress> <span id="stage">Waiting…</span>
<div id="result"></div>
<h2>Orders</h2><ul id="orders"></ul>
</main>
<script src="/vendor/pusher.min.js"></script>
<script src="/vendor/echo.iife.js"></script>
<script>
  const job = ${JSON.stringify(job)};
  const host = { cluster: 'jobcast', wsHost: location.hostname, wsPort: Number(location.port), forceTLS: false, enabledTransports: ['ws'], disableStats: true };
  window.progressSeen = [];
  const pusher = new Pusher(${JSON.stringify(APP.key)}, { ...host, channelAuthorization: { endpoint: '/jobcast/pusher/auth', transport: 'ajax', headers: { Authorization: 'Bearer ' + job.token } } });
  const channel = pusher.subscribe('private-jobcast-job-' + job.jobId);
  channel.bind('pusher:subscription_succeeded', () => {
    channel.bind('progress', (data) => {
      window.progressSeen.push(data.pct);
      document.getElementById('bar').value = data.pct;
      document.getElementById('stage').textContent = data.stage;
    });
    channel.bind('completed', (data) => {
      fetch(data.partialUrl, { headers: { Authorization: 'Bearer ' + job.token } })
        .then((response) => response.text())
        .then((html) => { document.getElementById('result').innerHTML = html; });
    });
  });

  const echo = new Echo.default({ broadcaster: 'pusher', key: ${JSON.stringify(APP.key)}, ...host, authEndpoint: '/broadcasting/auth' });
  echo.private('orders')
    .subscribed(() => { window.echoReady = true; })
    .listen('.order-shipped', (order) => {
      const item = document.createElement('li');
      item.textContent = 'Order ' + order.id + ' shipped';
      document.getElementById('orders').append(item);
    });
</script></body></html>`;
}

describe('pusher-js and Laravel Echo in Chromium, pointed at jobcast', () => {
  let stack: TestStack;
  let sdk: PusherServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;

  before(async () => {
    const started = new Map<string, { jobId: string; token: string }>();
    stack = await startStack({
      apps: new AppRegistry(APP),
      routes: (app) => {
        app.get('/vendor/pusher.min.js', (_req, res) => res.sendFile(PUSHER_JS));
        app.get('/vendor/echo.iife.js', (_req, res) => res.sendFile(ECHO_JS));
        // The app's own routes: start the export and render the page at once (Sidekiq-style).
        app.get('/exports/new', async (_req, res) => {
          const job = await stack.jobcast.start('count', { steps: 20, stepMs: 200, label: 'the export' });
          started.set(job.jobId, job);
          res.type('html').send(page(job));
        });
        // Laravel's /broadcasting/auth: the app signs private channels itself.
        app.post('/broadcasting/auth', express.urlencoded({ extended: false }), (req, res) => {
          const { socket_id: socketId, channel_name: channel } = req.body as { socket_id: string; channel_name: string };
          res.json(sdk.authorizeChannel(socketId, channel));
        });
      },
    });
    const url = new URL(stack.url);
    sdk = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: url.hostname, port: url.port, useTLS: false });
    browser = await launchBrowser();
    await mkdir(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("shows a job's progress and result with pusher-js; Echo gets a private channel's events", async () => {
    const tab = await browser.context.newPage();
    const errors = watchErrors(tab);
    await tab.goto(`${stack.url}/exports/new`);
    await tab.locator('#result .counted').waitFor({ timeout: 15_000 });
    assert.equal(await tab.locator('#result .counted').textContent(), 'Counted to 20 for the export');
    assert.equal(await tab.locator('#bar').evaluate((bar) => (bar as HTMLProgressElement).value), 100);
    assert.equal(await tab.locator('#stage').textContent(), 'Step 20');
    const seen = (await tab.evaluate('window.progressSeen')) as number[];
    assert.ok(seen.length >= 2 && seen.some((pct) => pct < 100), `live progress seen: ${JSON.stringify(seen)}`);

    await waitFor(() => tab.evaluate('window.echoReady === true'), 'Echo to subscribe');
    await sdk.trigger('private-orders', 'order-shipped', { id: 1042 });
    await sdk.trigger('private-orders', 'order-shipped', { id: 1043 });
    await tab.locator('#orders li:nth-child(2)').waitFor({ timeout: 5000 });
    assert.deepEqual(await tab.locator('#orders li').allTextContents(), ['Order 1042 shipped', 'Order 1043 shipped']);
    await tab.screenshot({ path: join(ARTIFACTS, 'pusher-page.png') });
    assert.deepEqual(errors, []);
    await tab.close();
  });
});
