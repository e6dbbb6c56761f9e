import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { connect } from '../../client/connection.js';
import type { EventContext } from '../../client/subscription.js';
import { ErrorCode } from '../../shared/codes.js';
import { jobChannel } from '../../shared/constants.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { countJob } from '../helpers/test-jobs.js';
import { deferred, waitFor, within } from '../helpers/wait.js';

const expiryOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;

describe('a client that outlives its token', () => {
  let stack: TestStack;
  let proxy: TcpProxy;

  before(async () => {
    stack = await startStack({ jobs: [countJob] });
    proxy = await TcpProxy.start([Number(new URL(stack.url).port)]);
  });
  after(async () => {
    await proxy?.close();
    await stack?.close();
  });

  it('asks getToken for a fresh one after a drop and resumes from its position; without getToken it is told the token expired', async () => {
    const jobId = `refresh-${Math.random().toString(36).slice(2, 8)}`;
    const channel = jobChannel(jobId);
    // Expires in three or four seconds: both subscribe well before, and the job runs on past it.
    const short = await stack.jobcast.token([channel], { ttlSeconds: 4 });
    const fresh: string[] = [];
    const refreshing = connect({ url: proxy.url });
    const plain = connect({ url: proxy.url });
    try {
      const sub = refreshing.channel(channel, {
        token: short,
        getToken: async ({ channel: asked }) => {
          assert.equal(asked, channel);
          fresh.push(await stack.jobcast.token([channel], { ttlSeconds: 60 }));
          return fresh.at(-1)!;
        },
      });
      const offsets: number[] = [];
      const done = deferred<EventContext>();
      sub.on('*', (e) => offsets.push(e.offset));
      sub.on('completed', (e) => done.resolve(e));
      const reasons: string[] = [];
      sub.onState(({ state, code }) => state === 'subscribing' && code && reasons.push(code));
      await sub.subscribe();
      const other = plain.channel(channel, { token: short });
      const refused = deferred<string>();
      other.onError(({ error }) => refused.resolve(error.code));
      await other.subscribe();

      await stack.jobcast.start(countJob, { steps: 140, stepMs: 50 }, { jobId });
      await waitFor(() => offsets.length >= 3, 'the job to be under way');
      await waitFor(() => Date.now() / 1000 > expiryOf(short) + 0.2, 'the token to expire', 8000);
      proxy.cut();

      assert.equal(
        await within(refused.promise, 'the plain-token subscription to be refused'),
        ErrorCode.tokenExpired,
        'without a refresh source the refusal is final and says why',
      );
      assert.equal(other.state, 'unsubscribed');
      const outcome = await within(done.promise, 'the outcome on the refreshing client', 20_000);
      assert.equal(fresh.length, 1, 'one fresh token');
      assert.ok(reasons.includes(ErrorCode.tokenExpired), 'subscribing said why it was not live');
      const last = (await stack.jobcast.store.read(channel)).offset;
      assert.equal(outcome.offset, last);
      assert.deepEqual(
        offsets,
        Array.from({ length: last }, (_, i) => i + 1),
        'every event once, in order, across the refresh',
      );
    } finally {
      refreshing.close();
      plain.close();
    }
  });
});
