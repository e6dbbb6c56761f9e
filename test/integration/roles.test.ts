import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { connect } from '../../client/connection.js';
import type { EventContext } from '../../client/subscription.js';
import { type RoleProcess, startRole } from '../helpers/processes.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/** The page after the form: the job element carries the job id and its token. */
function jobElementOf(html: string): { jobId: string; token: string } {
  const jobId = /data-jobcast-job="([^"]+)"/.exec(html)?.[1];
  const token = /data-jobcast-token="([^"]+)"/.exec(html)?.[1];
  assert.ok(jobId && token, 'the page holds the job element');
  return { jobId, token };
}

describe('each role in its own process: web, gateway, worker on one Redis', () => {
  const prefix = uniquePrefix('roles');
  let redisUrl: string;
  const processes: RoleProcess[] = [];
  let web: RoleProcess;
  let gateway: RoleProcess;

  before(async () => {
    redisUrl = await testRedisUrl();
    const env = { REDIS_URL: redisUrl, JOBCAST_PREFIX: prefix, JOBCAST_SECRET: 'roles-test-secret-0123456789' };
    [gateway, web] = await Promise.all([startRole('gateway', env), startRole('web', env)]);
    processes.push(gateway, web, await startRole('worker', env));
  });
  after(async () => {
    const codes = await Promise.all(processes.map((p) => p.stop('SIGTERM')));
    await deleteKeys(redisUrl, prefix);
    assert.deepEqual(codes, [0, 0, 0], 'every role exits 0 on SIGTERM');
  });

  it('the form starts a job on the web, the worker runs it, the gateway delivers it, the web serves the partial', async () => {
    const response = await fetch(`${web.url}/analyses`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ path: process.cwd(), pace: 'fast' }),
    });
    assert.equal(response.status, 200);
    const { jobId, token } = jobElementOf(await response.text());

    const jc = connect({ url: gateway.url! });
    try {
      const events: EventContext[] = [];
      const sub = jc.channel(`job:${jobId}`, { token });
      sub.on('*', (e) => events.push(e));
      await sub.subscribe();
      await waitFor(() => events.find((e) => e.event === 'completed' || e.event === 'failed'), 'the outcome', 60_000);
      const outcome = events.find((e) => e.event === 'completed' || e.event === 'failed')!;
      assert.equal(outcome.event, 'completed', JSON.stringify(outcome.data));
      const stages = new Set(events.filter((e) => e.event === 'progress').map((e) => (e.data as { stage?: string }).stage));
      assert.ok(stages.size >= 2, `real stages were reported: ${[...stages].join(', ')}`);

      const partial = await fetch(`${web.url}${(outcome.data as { partialUrl: string }).partialUrl}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(partial.status, 200);
      const html = await partial.text();
      assert.match(html, /<svg/);
      assert.match(html, /<table/);
    } finally {
      jc.close();
    }
  });

  it('the form refuses an empty path, or any path outside the allow-list, with a 400 page naming the problem', async () => {
    const refused = /analyses only its allowed repositories .*JOBCAST_DEMO_REPOS/;
    for (const [path, message] of [
      ['', /enter the path/],
      ['/definitely/not/here', refused],
      ['/etc', refused],
      [`${process.cwd()}/..`, refused],
    ] as const) {
      const response = await fetch(`${web.url}/analyses`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ path, pace: 'fast' }),
      });
      assert.equal(response.status, 400);
      const html = await response.text();
      assert.match(html, message);
      assert.match(html, /aria-invalid="true"/);
    }
  });
});
