import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { connect, type JobcastConnection } from '../../client/connection.js';
import type { EventContext } from '../../client/subscription.js';
import { startExternalStack } from '../helpers/external-jobs.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Debian's Python with Debian's python3-rq and python3-redis, never another Python on PATH. */
const PYTHON = '/usr/bin/python3';

/**
 * A real RQ worker (Debian's python3-rq) runs jobs that report through the README's Python
 * helper; a socket.io subscriber sees every event, in order, and the partial is served.
 */
describe('external jobs: an RQ worker reports through the Python helper', () => {
  const redis = new OwnRedis();
  let stack: Awaited<ReturnType<typeof startExternalStack>>;
  let jc: JobcastConnection;
  const children: ChildProcess[] = [];
  let env: NodeJS.ProcessEnv;

  before(async () => {
    [stack] = await Promise.all([startExternalStack(), redis.start()]);
    jc = connect({ url: stack.url });
    env = {
      ...process.env,
      ...stack.workerEnv,
      PYTHONPATH: `${ROOT}server/external-jobs/helpers:${ROOT}test/fixtures`,
      PYTHONDONTWRITEBYTECODE: '1',
      RQ_QUEUE: 'images',
      RQ_REDIS_URL: redis.url,
    };
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    jc?.close();
    await stack?.close();
    await redis.destroy();
  });

  it('every event of a job reaches a subscriber in order; a failing job ends failed; status and jobcast status agree', { timeout: 60_000 }, async () => {
    // The web side enqueues and opens the channels (test/fixtures/rq_enqueue.py); no worker runs yet.
    const { stdout } = await run(PYTHON, ['test/fixtures/rq_enqueue.py'], { cwd: ROOT, env, timeout: 20_000 });
    const [resize, explode] = JSON.parse(stdout) as { jobId: string; channel: string; token: string; id: string }[];
    assert.ok(resize && explode);

    const seen = new Map<string, EventContext[]>();
    for (const job of [resize, explode]) {
      const events: EventContext[] = [];
      seen.set(job.channel, events);
      const sub = jc.channel(job.channel, { token: job.token });
      sub.on('*', (e) => events.push(e));
      await sub.subscribe();
    }

    // A burst worker runs what is queued and exits.
    const worker = spawn(PYTHON, ['-m', 'rq.cli', 'worker', '--burst', '--url', redis.url, 'images'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(worker);
    let output = '';
    worker.stdout!.on('data', (c: Buffer) => (output += c));
    worker.stderr!.on('data', (c: Buffer) => (output += c));
    const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));
    const last = (channel: string) => seen.get(channel)!.at(-1)?.event;
    await waitFor(() => last(resize.channel) === 'completed' && last(explode.channel) === 'failed', `both outcomes; worker said:\n${output}`, 30_000);
    assert.equal(await exited, 0, output);

    const events = seen.get(resize.channel)!;
    assert.deepEqual(
      events.map((e) => [e.offset, e.event, e.event === 'progress' ? (e.data as { pct: number }).pct : null]),
      [
        [1, 'queued', null],
        [2, 'progress', 0],
        [3, 'progress', 20],
        [4, 'progress', 40],
        [5, 'progress', 60],
        [6, 'progress', 80],
        [7, 'completed', null],
      ],
      'the job opened its channel again at the start (idempotent: no second queued) and every report arrived once, in order',
    );
    assert.deepEqual(events[2]!.data, { pct: 20, stage: 'Step 2 of 5' });
    const { partialUrl } = events[6]!.data as { partialUrl: string };
    const partial = await fetch(`${stack.url}${partialUrl}`, { headers: { authorization: `Bearer ${resize.token}` } });
    assert.equal(await partial.text(), '<p>5 steps done</p>');

    assert.deepEqual(
      seen.get(explode.channel)!.map((e) => e.event),
      ['queued', 'failed'],
    );
    assert.deepEqual(seen.get(explode.channel)![1]!.data, { error: 'the image is corrupt', attempts: 0, retryable: false });

    const status = await stack.jobcast.status(explode.jobId);
    assert.deepEqual([status.name, status.state, status.error], ['explode', 'failed', 'the image is corrupt']);
    // `jobcast status <jobId>` reads the same status, in its own process.
    const cli = await run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'status', resize.jobId], {
      cwd: ROOT,
      env: {
        ...process.env,
        REDIS_URL: stack.redisUrl,
        JOBCAST_PREFIX: stack.prefix,
        JOBCAST_SECRET: 'external-test-secret-0123456789',
        JOBCAST_DEMO: '0',
        LOG_LEVEL: 'silent',
      },
      timeout: 20_000,
    });
    assert.match(cli.stdout, new RegExp(`^resize ${resize.jobId}: completed`));
    assert.match(cli.stdout, /published\s+.*progress/);
  });
});
