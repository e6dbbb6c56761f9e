import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';

import { freePort, redisAnswers } from '../../server/redis/embedded-redis.js';
import { startRole } from '../helpers/processes.js';

/** `npm start` with no configuration: REDIS_URL unset and nothing on the probed port. */
describe('zero configuration', () => {
  it('starts a private redis-server when none answers, serves the demo, and stops it on exit', async () => {
    const probePort = await freePort(); // nothing listens here: stands in for an empty 6379
    const app = await startRole('all', { REDIS_URL: '', JOBCAST_PROBE_PORT: String(probePort), JOBCAST_SECRET: '' });
    try {
      const started = app.lines.map((l) => JSON.parse(l) as { port?: number; msg?: string }).find((l) => /private redis-server/.test(l.msg ?? ''));
      assert.ok(started?.port, 'it says it started a private Redis, and on which port');
      assert.ok(await redisAnswers('127.0.0.1', started.port));
      const page = await fetch(app.url!);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /Analyse a git repository/);
      assert.equal(await app.stop('SIGINT'), 0);
      assert.equal(await redisAnswers('127.0.0.1', started.port), false, 'the private Redis is gone after exit');
    } finally {
      await app.stop('SIGKILL');
    }
  });

  it('with no redis-server on PATH, exits with one line saying what to do', async () => {
    const probePort = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'all'], {
      env: { ...process.env, PATH: '/nonexistent', REDIS_URL: '', JOBCAST_PROBE_PORT: String(probePort), PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, /jobcast needs Redis: .*apt-get install redis-server.*REDIS_URL=redis:\/\/host:6379/);
  });
});
