import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { Redis } from 'ioredis';

import { configFromEnv } from '../../server/config.js';
import { createAnalyseHistoryJob } from '../../server/demo/analyse-history-job.js';
import { demoRepositories, projectRepository } from '../../server/demo/demo-repositories.js';
import { startRole } from '../helpers/processes.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const run = promisify(execFile);
const SECRET = 'production-secret-0123456789';

describe('NODE_ENV=production refuses to run insecurely', () => {
  const prefix = uniquePrefix('prod');
  let redisUrl: string;
  before(async () => {
    redisUrl = await testRedisUrl();
  });
  after(() => deleteKeys(redisUrl, prefix));

  /** Runs `jobcast web` expecting it to stop at once; its exit code and stderr lines. */
  async function refused(env: Record<string, string>): Promise<{ code: number; lines: string[] }> {
    const { JOBCAST_SECRET: _inherited, ...inherited } = process.env;
    const failed = await run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'web'], {
      env: { ...inherited, NODE_ENV: 'production', REDIS_URL: redisUrl, JOBCAST_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1', ...env },
      timeout: 20_000,
    }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    assert.ok(failed, 'the process did not start');
    return { code: failed.code, lines: failed.stderr.trim().split('\n') };
  }

  it('without JOBCAST_SECRET: one clear line, exit code 1, and no development secret put in Redis', async () => {
    const { code, lines } = await refused({});
    assert.equal(code, 1);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^jobcast: .*JOBCAST_SECRET must be set .*NODE_ENV=production/);
    const redis = new Redis(redisUrl);
    try {
      assert.equal(await redis.exists(`${prefix}dev-secret`), 0);
    } finally {
      redis.disconnect();
    }
  });

  it('with a short JOBCAST_SECRET: one clear line, exit code 1', async () => {
    const { code, lines } = await refused({ JOBCAST_SECRET: 'too-short' });
    assert.equal(code, 1);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^jobcast: .*JOBCAST_SECRET must be at least 16 characters/);
  });

  it('with a secret: starts, warns that JOBCAST_ALLOWED_ORIGINS is unset, and leaves the demo out', async () => {
    const web = await startRole('web', { NODE_ENV: 'production', REDIS_URL: redisUrl, JOBCAST_PREFIX: prefix, JOBCAST_SECRET: SECRET });
    try {
      assert.ok(
        web.lines.some((l) => /"level":40.*JOBCAST_ALLOWED_ORIGINS is not set/.test(l)),
        web.lines.join('\n'),
      );
      assert.equal((await fetch(`${web.url}/`)).status, 404, 'no demo form');
      assert.equal((await fetch(`${web.url}/analyses`, { method: 'POST' })).status, 404, 'no demo route');
      assert.equal((await fetch(`${web.url}/healthz`)).status, 200, 'the role still serves its health check');
    } finally {
      assert.equal(await web.stop('SIGTERM'), 0);
    }
  });

  it('JOBCAST_DEMO=1 turns the demo on explicitly; with origins set there is no warning', async () => {
    const web = await startRole('web', {
      NODE_ENV: 'production',
      REDIS_URL: redisUrl,
      JOBCAST_PREFIX: prefix,
      JOBCAST_SECRET: SECRET,
      JOBCAST_DEMO: '1',
      JOBCAST_ALLOWED_ORIGINS: 'https://app.example.com',
    });
    try {
      assert.ok(!web.lines.some((l) => /JOBCAST_ALLOWED_ORIGINS is not set/.test(l)));
      assert.equal((await fetch(`${web.url}/`)).status, 200);
    } finally {
      assert.equal(await web.stop('SIGTERM'), 0);
    }
  });

  it('the configuration: demo on by default outside production, off in it unless JOBCAST_DEMO=1', () => {
    assert.equal(configFromEnv({}).demo, true);
    assert.equal(configFromEnv({ NODE_ENV: 'production', JOBCAST_SECRET: SECRET }).demo, false);
    assert.equal(configFromEnv({ NODE_ENV: 'production', JOBCAST_SECRET: SECRET, JOBCAST_DEMO: '1' }).demo, true);
    assert.equal(configFromEnv({ JOBCAST_DEMO: '0' }).demo, false);
  });
});

describe('the demo reads only allow-listed repositories', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jobcast-demo-repos-'));
    const other = join(dir, 'other');
    await run('git', ['init', '-q', other]);
    await writeFile(join(other, 'a.txt'), 'a\n');
    await run('git', ['-C', other, 'add', 'a.txt']);
    await run('git', ['-C', other, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'first']);
    await symlink('/etc', join(dir, 'etc-link'));
    await symlink(projectRepository(), join(dir, 'project-link'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const problem = async (job: ReturnType<typeof createAnalyseHistoryJob>, path: string) => {
    const parsed = await job.input.safeParseAsync({ path, pace: 'fast' });
    return parsed.success ? null : parsed.error.issues.map((i) => i.message);
  };

  it('by default only this project: anything else, a real repository, a symlink or a .. path included, is refused', async () => {
    const job = createAnalyseHistoryJob(demoRepositories(configFromEnv({}).demoRepositories));
    assert.equal(await problem(job, projectRepository()), null);
    assert.equal(await problem(job, join(dir, 'project-link')), null, 'a link to an allowed repository is that repository');
    for (const path of [join(dir, 'other'), '/etc', join(dir, 'etc-link'), `${projectRepository()}/..`, '/definitely/not/here']) {
      const messages = await problem(job, path);
      assert.ok(messages, `${path} is refused`);
      assert.equal(messages.length, 1, 'one reason, and nothing else looked at');
      assert.match(messages[0]!, /analyses only its allowed repositories .*JOBCAST_DEMO_REPOS/);
    }
  });

  it('JOBCAST_DEMO_REPOS adds repositories', async () => {
    const job = createAnalyseHistoryJob(demoRepositories(configFromEnv({ JOBCAST_DEMO_REPOS: join(dir, 'other') }).demoRepositories));
    assert.equal(await problem(job, join(dir, 'other')), null);
    assert.equal(await problem(job, projectRepository()), null);
    assert.ok(await problem(job, '/etc'));
  });
});
