import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { io, type Socket } from 'socket.io-client';

import { connect } from '../../client/connection.js';
import { JobcastClientError } from '../../client/errors.js';
import { DEFAULT_SOCKET_PATH } from '../../shared/protocol.js';
import { countJob, startStack, TEST_USER, type TestStack } from '../helpers/stack.js';
import { deferred } from '../helpers/wait.js';

describe('bad input gets a clear error and changes nothing', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  const post = (path: string, body: string, type = 'application/json') =>
    fetch(stack.url + path, { method: 'POST', headers: { 'content-type': type, ...TEST_USER }, body });

  it('invalid job input: 400 naming the field, no job queued', async () => {
    const before = await stack.jobcast.queues.queue('count').getJobCounts();
    const response = await post('/jobcast/jobs/count', JSON.stringify({ steps: 'many' }));
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.error.code, 'jobcast:invalid-input');
    assert.equal(body.error.field, 'steps');
    assert.match(body.error.message, /steps/);
    assert.deepEqual(await stack.jobcast.queues.queue('count').getJobCounts(), before);
  });

  it('malformed JSON: 400; oversized body: 413; unknown job type: 404', async () => {
    assert.equal((await post('/jobcast/jobs/count', '{"steps":')).status, 400);
    const big = await post('/jobcast/jobs/count', JSON.stringify({ steps: 1, label: 'x'.repeat(70_000) }));
    assert.equal(big.status, 413);
    assert.equal((await big.json()).error.code, 'jobcast:payload-too-large');
    const unknown = await post('/jobcast/jobs/no-such-job', '{}');
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.code, 'jobcast:not-found');
  });

  it('status and partial need a token for that job; unknown ids are 404', async () => {
    const started = await stack.jobcast.start(countJob, { steps: 1 });
    const other = await stack.jobcast.start(countJob, { steps: 1 });
    assert.equal((await fetch(`${stack.url}/jobcast/jobs/${started.jobId}`)).status, 401);
    assert.equal((await fetch(`${stack.url}/jobcast/jobs/${started.jobId}?token=${other.token}`)).status, 403);
    assert.equal((await fetch(`${stack.url}/jobcast/jobs/${started.jobId}/partial?token=garbage`)).status, 401);
    const ghost = await stack.jobcast.token(['job:ghost']);
    const missing = await fetch(`${stack.url}/jobcast/jobs/ghost?token=${ghost}`);
    assert.equal(missing.status, 404);
    assert.equal((await fetch(`${stack.url}/jobcast/jobs/bad%20id!?token=${ghost}`)).status, 400);
  });

  describe('on the socket', () => {
    let socket: Socket;
    before(async () => {
      socket = io(stack.url, { path: DEFAULT_SOCKET_PATH, transports: ['websocket'] });
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    });
    after(() => void socket.disconnect());

    const subscribe = (request: unknown) => socket.timeout(5000).emitWithAck('subscribe', request);

    it('answers malformed subscribes with an error acknowledgement and keeps the connection', async () => {
      for (const bad of [
        42,
        null,
        'x',
        { channel: 7 },
        { channel: 'a{b}', token: 't' },
        { channel: 'c', token: '' },
        { channel: 'c', token: 't', since: { epoch: 'e', offset: 1.5 } },
      ]) {
        const ack = await subscribe(bad);
        assert.equal(ack.ok, false);
        assert.equal(ack.error.code, 'jobcast:invalid-frame', JSON.stringify(bad));
      }
      const notice = deferred<{ code: string }>();
      socket.once('notice', notice.resolve);
      socket.emit('subscribe', { channel: 'c', token: 't' });
      assert.equal((await notice.promise).code, 'jobcast:invalid-frame', 'a subscribe without ack gets a notice');
      const unknown = deferred<{ code: string; message: string }>();
      socket.once('notice', unknown.resolve);
      (socket as unknown as { emit(event: string): void }).emit('no-such-message');
      assert.match((await unknown.promise).message, /unknown message "no-such-message"/);
      assert.ok(socket.connected);
    });

    it('refuses a subscription without a valid token for that channel', async () => {
      const started = await stack.jobcast.start(countJob, { steps: 1 });
      assert.equal((await subscribe({ channel: started.channel, token: 'nope' })).error.code, 'jobcast:unauthorized');
      const other = await stack.jobcast.token(['job:other']);
      assert.equal((await subscribe({ channel: started.channel, token: other })).error.code, 'jobcast:forbidden');
      const future = await subscribe({ channel: started.channel, token: started.token, since: { epoch: 'zzz', offset: 5 } });
      assert.equal(future.ok, true, 'a position from an unknown epoch gets the snapshot');
      assert.equal(future.recovered, false);
      const unsub = await socket.timeout(5000).emitWithAck('unsubscribe', { channel: started.channel });
      assert.equal(unsub.ok, true);
      const ahead = await subscribe({ channel: started.channel, token: started.token, since: { epoch: future.epoch, offset: 10_000 } });
      assert.equal(ahead.error.code, 'jobcast:invalid-position');
      assert.ok(socket.connected, 'the connection stays healthy');
    });

    it('the client library rejects subscribe with the code, and other clients are unaffected', async () => {
      const jc = connect({ url: stack.url });
      try {
        await assert.rejects(jc.subscribe('job:x', { token: 'bad' }), (e: unknown) => e instanceof JobcastClientError && e.code === 'jobcast:unauthorized');
        const started = await stack.jobcast.start(countJob, { steps: 3 });
        const sub = jc.channel(started.channel, { token: started.token });
        const done = deferred<void>();
        sub.on('completed', () => done.resolve());
        await sub.subscribe();
        await done.promise;
      } finally {
        jc.close();
      }
    });
  });
});

describe('trigger keeps job lifecycle names to jobcast', () => {
  it('refuses a custom completed, progress or cancelled, and publishes nothing', async () => {
    const stack = await startStack({ worker: false });
    try {
      for (const name of ['completed', 'progress', 'cancelled', 'jobcast:x', 'has space']) {
        await assert.rejects(stack.jobcast.trigger('job:abc', name, {}), /event/);
      }
      assert.equal((await stack.jobcast.store.read('job:abc')).offset, 0);
      assert.equal((await stack.jobcast.trigger('job:abc', 'note', { ok: 1 })).offset, 1);
    } finally {
      await stack.close();
    }
  });
});
