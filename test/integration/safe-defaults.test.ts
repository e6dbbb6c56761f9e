import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';

import express from 'express';
import Pusher from 'pusher';
import { z } from 'zod';

import { AppRegistry } from '../../server/apps/apps.js';
import { createJobcast, defineJob, type Jobcast } from '../../server/index.js';
import { createLogger } from '../../server/logger.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { countJob } from '../helpers/test-jobs.js';

const SECRET = 'safe-defaults-secret-0123456789';
const APP = { id: 'safe', key: 'safe-key', secret: 'safe-app-secret-0123456789', enabled: true };
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

/** A job type that opted in to anonymous starts over HTTP. */
const pingJob = defineJob({
  name: 'ping',
  http: true,
  input: z.object({ n: z.number().int().min(0).max(10) }),
  handler: ({ n }) => ({ n }),
});

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('a router mounted in the host app claims nothing it was not asked for', () => {
  const prefix = uniquePrefix('safe');
  let redisUrl: string;
  let jobcast: Jobcast;
  const servers: Server[] = [];
  let plain: string;
  let guarded: string;
  let ops: string;

  before(async () => {
    redisUrl = await testRedisUrl();
    jobcast = createJobcast({
      redisUrl,
      secret: SECRET,
      keyPrefix: prefix,
      jobs: [countJob, pingJob],
      apps: new AppRegistry(APP),
      adminToken: 'admin-token-0123456789abcdef',
      logger: createLogger('silent'),
    });

    // The README's example: the router mounted at the root, the host app's own routes after it.
    const app = express();
    app.use(jobcast.router({ startsPerMinute: 3 }));
    app.get('/healthz', (_req, res) => void res.send('the host app’s own health check'));
    // Starts decided by the host app (its login), for every job type.
    const withLogin = express();
    withLogin.use(jobcast.router({ authorizeStart: (req) => req.get('x-user') === 'alice', ownerOf: (req) => req.get('x-user') }));
    // Everything else, where the host app chose to put it.
    const operations = express();
    operations.use('/ops', jobcast.healthRouter(), jobcast.metricsRouter({ token: METRICS_TOKEN }));
    operations.use(jobcast.appsRouter());
    operations.use(jobcast.adminRouter());
    for (const a of [app, withLogin, operations]) servers.push((await listen(a)).server);
    [plain, guarded, ops] = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`) as [string, string, string];
  });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    await jobcast.close();
    await deleteKeys(redisUrl, prefix);
  });

  it('an anonymous start of a job type that did not opt in is refused with 403 and a clear error, and nothing is queued', async () => {
    const before = await jobcast.queues.queue('count').getJobCounts();
    const response = await postJson(`${plain}/jobcast/jobs/count`, { steps: 1 });
    assert.equal(response.status, 403);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'jobcast:forbidden');
    assert.match(error.message, /cannot be started over HTTP.*http: true.*authorizeStart/);
    assert.deepEqual(await jobcast.queues.queue('count').getJobCounts(), before, 'nothing was queued');
    assert.equal((await postJson(`${plain}/jobcast/jobs/no-such-job`, {})).status, 404, 'an unknown job type is still 404');
  });

  it('a job type with http: true starts anonymously, limited per client address (429 with Retry-After past it)', async () => {
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 4; i++) {
      const response = await postJson(`${plain}/jobcast/jobs/ping`, { n: i });
      statuses.push(response.status);
      if (response.status === 429) refused = response;
      else await response.arrayBuffer();
    }
    assert.deepEqual(statuses, [202, 202, 202, 429]);
    assert.ok(Number(refused!.headers.get('retry-after')) >= 1);
    assert.equal(((await refused!.json()) as { error: { code: string } }).error.code, 'jobcast:rate-limited');
  });

  it('with authorizeStart, the host app decides for every job type', async () => {
    assert.equal((await postJson(`${guarded}/jobcast/jobs/count`, { steps: 1 })).status, 403, 'no login');
    assert.equal((await postJson(`${guarded}/jobcast/jobs/count`, { steps: 1 }, { 'x-user': 'mallory' })).status, 403);
    const started = await postJson(`${guarded}/jobcast/jobs/count`, { steps: 1 }, { 'x-user': 'alice' });
    assert.equal(started.status, 202);
    assert.match(((await started.json()) as { jobId: string }).jobId, /\S/);
    // The guard runs before the body is parsed: an anonymous 1 MB body is refused unread.
    assert.equal((await postJson(`${guarded}/jobcast/jobs/count`, { pad: 'x'.repeat(1_000_000) })).status, 403);
  });

  it('router() answers only under its base path: health, metrics, /apps and /admin reach the host app', async () => {
    assert.equal(await (await fetch(`${plain}/healthz`)).text(), 'the host app’s own health check');
    for (const path of ['/readyz', '/metrics', `/apps/${APP.id}/channels`, '/admin/']) {
      const response = await fetch(plain + path);
      assert.equal(response.status, 404, path);
      assert.doesNotMatch(await response.text(), /jobcast_|"checks"|jobcast:/, `${path} is the host app's 404`);
    }
    assert.equal((await fetch(`${plain}/jobcast/client.js`)).status, 200);
    assert.equal((await fetch(`${plain}/jobcast/openapi.json`)).status, 200);
  });

  it('the operations routers answer where they were mounted; metrics need the token', async () => {
    assert.equal((await fetch(`${ops}/healthz`)).status, 404, 'not at the root: mounted under /ops');
    const health = await fetch(`${ops}/ops/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { ok: boolean }).ok, true);
    assert.equal((await fetch(`${ops}/ops/readyz`)).status, 200);

    const anonymous = await fetch(`${ops}/ops/metrics`);
    assert.equal(anonymous.status, 401);
    assert.doesNotMatch(await anonymous.text(), /jobcast_/);
    assert.equal((await fetch(`${ops}/ops/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789abcd' } })).status, 401);
    const scraped = await fetch(`${ops}/ops/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(scraped.status, 200);
    assert.match(await scraped.text(), /^jobcast_/m);
    assert.throws(() => jobcast.metricsRouter({ token: 'short' }), /at least 16 characters/);

    // The signed API, mounted at the root as Pusher's SDKs expect: signed requests work, others are 401.
    assert.equal((await fetch(`${ops}/apps/${APP.id}/channels`)).status, 401);
    const url = new URL(ops);
    const pusher = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: url.hostname, port: url.port, useTLS: false });
    assert.equal((await pusher.trigger('orders', 'order-shipped', { id: 7 })).status, 200);
    assert.equal((await fetch(`${ops}/admin/`)).status, 401, 'admin pages need their token');
  });
});
