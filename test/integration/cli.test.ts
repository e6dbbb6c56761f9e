import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

import { CLUSTER_SECRET, controller } from '../helpers/cluster.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const run = promisify(execFile);

describe('the jobcast command line', () => {
  it('jobcast trigger publishes through the same log; bad JSON changes nothing', async () => {
    const redisUrl = await testRedisUrl();
    const prefix = uniquePrefix('cli');
    const env = { ...process.env, REDIS_URL: redisUrl, JOBCAST_PREFIX: prefix, JOBCAST_SECRET: CLUSTER_SECRET, LOG_LEVEL: 'silent' };
    const jobcast = controller(redisUrl, prefix);
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'trigger', 'deploys', 'finished', '{"version":"1.2.3"}'], { env });
      assert.deepEqual(JSON.parse(stdout), { channel: 'deploys', event: 'finished', epoch: JSON.parse(stdout).epoch, offset: 1 });
      const read = await jobcast.store.read('deploys', { epoch: JSON.parse(stdout).epoch, offset: 0 });
      assert.deepEqual(
        read.events.map((e) => e.data),
        [{ version: '1.2.3' }],
      );

      const bad = await run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'trigger', 'deploys', 'finished', '{nope'], { env }).catch(
        (e: { code: number; stderr: string }) => e,
      );
      assert.equal((bad as { code: number }).code, 2);
      assert.match((bad as { stderr: string }).stderr, /not valid JSON/);
      assert.equal((await jobcast.store.read('deploys')).offset, 1);

      // jobcast cancel: a waiting job (no worker runs here) is removed and watchers are told.
      const started = await jobcast.start('count', { steps: 3 });
      const { stdout: cancelled } = await run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'cancel', started.jobId], {
        env: { ...env, JOBCAST_DEMO: '0', JOBCAST_JOBS: 'test/helpers/test-jobs.ts' },
      });
      assert.deepEqual(JSON.parse(cancelled), { jobId: started.jobId, state: 'cancelled' });
      assert.equal((await jobcast.store.read(started.channel)).events.at(-1)?.event, 'cancelled');
    } finally {
      await jobcast.close();
      await deleteKeys(redisUrl, prefix);
    }
  });
});
