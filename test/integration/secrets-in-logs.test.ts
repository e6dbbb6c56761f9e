import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { connect } from '../../client/connection.js';
import { startRole } from '../helpers/processes.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('secrets and tokens never reach the logs', () => {
  it('a whole flow at LOG_LEVEL=trace, with bad tokens too, logs neither', async () => {
    const redisUrl = await testRedisUrl();
    const prefix = uniquePrefix('logs');
    const secret = 'log-test-secret-DO-NOT-PRINT-0123';
    const app = await startRole('all', { REDIS_URL: redisUrl, JOBCAST_PREFIX: prefix, JOBCAST_SECRET: secret, LOG_LEVEL: 'trace' });
    try {
      const page = await fetch(`${app.url}/analyses`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ path: process.cwd(), pace: 'fast' }),
      });
      const html = await page.text();
      const jobId = /data-jobcast-job="([^"]+)"/.exec(html)![1]!;
      const token = /data-jobcast-token="([^"]+)"/.exec(html)![1]!;
      await waitFor(
        async () => (await (await fetch(`${app.url}/jobcast/jobs/${jobId}?token=${token}`)).json()).state === 'completed',
        'the job to complete',
        30_000,
      );
      await fetch(`${app.url}/jobcast/jobs/${jobId}/partial?token=${token}`);
      await fetch(`${app.url}/jobcast/jobs/${jobId}?token=${token}x`);
      const jc = connect({ url: app.url! });
      await jc.subscribe(`job:${jobId}`, { token: token + 'x' }).catch(() => {});
      jc.close();
      assert.equal(await app.stop('SIGTERM'), 0);
      const logs = app.lines.join('\n');
      assert.ok(app.lines.length > 10, 'there were logs to look at');
      assert.ok(logs.includes(jobId), 'the job id is logged (the id that follows a job)');
      assert.ok(!logs.includes(secret), 'the secret is not');
      assert.ok(!logs.includes(token.split('.')[2]!), 'no token signature is');
    } finally {
      await app.stop('SIGKILL');
      await deleteKeys(redisUrl, prefix);
    }
  });
});
