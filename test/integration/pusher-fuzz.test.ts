import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';
import PusherServer from 'pusher';

import { AppRegistry } from '../../server/apps/apps.js';
import { PusherCode } from '../../shared/pusher-codes.js';
import { connected, type Pusher, pusherJs, RawPusherSocket } from '../helpers/pusher-clients.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { deferred, waitFor } from '../helpers/wait.js';

const APP = { id: 'pfuzz', key: 'pfuzz-key', secret: 'pfuzz-secret-0123456789', enabled: true };
const DOCUMENTED_CODES = new Set<number>(Object.values(PusherCode));
const DOCUMENTED_STATUS = new Set([200, 400, 401, 403, 409, 413, 429, 501]);

describe('hostile input on the Pusher path, generated', () => {
  let stack: TestStack;
  let sdk: PusherServer;
  let steady: Pusher;
  const ticks: number[] = [];
  let published = 0;
  let publisher: ReturnType<typeof setInterval>;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    stack = await startStack({ apps: new AppRegistry(APP), gateway: { subscribesPerSecond: 100_000 }, worker: false });
    sdk = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });
    // A well-behaved pusher-js client that must get every event while the fuzzers run.
    steady = pusherJs(stack.url, APP.key, {
      channelAuthorization: { endpoint: '', transport: 'ajax', customHandler: (p, cb) => cb(null, sdk.authorizeChannel(p.socketId, p.channelName)) },
    });
    await connected(steady);
    const ready = deferred();
    const channel = steady.subscribe('private-steady');
    channel.bind('pusher:subscription_succeeded', () => ready.resolve());
    channel.bind('tick', (data: { n: number }) => ticks.push(data.n));
    await ready.promise;
    publisher = setInterval(() => void stack.jobcast.trigger('private-steady', 'tick', { n: ++published }), 20);
  });
  after(async () => {
    clearInterval(publisher);
    steady.disconnect();
    await stack.close();
    process.off('unhandledRejection', onUnhandled);
  });

  const name = fc.oneof(
    fc.constantFrom('private-fz', 'fz', 'presence-fz', 'private-encrypted-fz', 'private-jobcast-job-nope', 'private-' + 'x'.repeat(200)),
    fc.string({ maxLength: 40 }),
    fc.integer(),
  );
  const data = fc.oneof(
    fc.anything({ maxDepth: 3 }),
    fc.record(
      {
        channel: name,
        auth: fc.oneof(fc.constant('VALID'), fc.string(), fc.constant(`${APP.key}:${'0'.repeat(64)}`)),
        channel_data: fc.oneof(fc.constant(undefined), fc.string(), fc.json()),
        jobcast: fc.oneof(
          fc.constant(undefined),
          fc.anything({ maxDepth: 2 }),
          fc.record({ epoch: fc.string(), offset: fc.oneof(fc.integer(), fc.double(), fc.string()) }),
        ),
      },
      { requiredKeys: [] },
    ),
    fc.json(),
  );
  const frame = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.anything({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
    fc.record(
      {
        event: fc.oneof(
          fc.constantFrom(
            'pusher:subscribe',
            'pusher:unsubscribe',
            'pusher:ping',
            'pusher:pong',
            'pusher:signin',
            'client-x',
            'pusher_internal:subscription_succeeded',
            '__proto__',
          ),
          fc.string({ maxLength: 300 }),
          fc.integer(),
        ),
        channel: fc.oneof(fc.constant(undefined), name),
        data,
      },
      { requiredKeys: [] },
    ),
    fc.string({ minLength: 12_000, maxLength: 60_000 }),
    fc
      .letrec((tie) => ({ deep: fc.oneof({ depthSize: 'large', maxDepth: 60 }, fc.constant(1), fc.record({ a: tie('deep') })) }))
      .deep.map((v) => JSON.stringify({ event: 'pusher:subscribe', data: v })),
  );

  it('frames: only documented pusher:error codes and subscription_error statuses; the connection keeps answering pings', async () => {
    let socket: RawPusherSocket | null = null;
    let socketId = '';
    let cases = 0;
    let closed = 0;
    await fc.assert(
      fc.asyncProperty(frame, async (generated) => {
        cases += 1;
        if (!socket || socket.ws.readyState !== socket.ws.OPEN) {
          socket?.close();
          socket = RawPusherSocket.connect(stack.url, APP.key);
          socketId = await socket.socketId();
        }
        const s = socket;
        const before = s.frames.length;
        let text = typeof generated === 'string' ? generated : JSON.stringify(generated);
        // A valid signature where asked for, so some subscribes succeed (and are unsubscribed).
        text = text.replace(/"auth":"VALID"/, () => {
          const channel = (generated as { data?: { channel?: unknown } }).data?.channel;
          let auth = 'x';
          try {
            if (typeof channel === 'string') auth = sdk.authorizeChannel(socketId, channel).auth;
          } catch {
            // the SDK refuses to sign names Pusher would refuse
          }
          return `"auth":${JSON.stringify(auth)}`;
        });
        s.send(text);
        s.send({ event: 'pusher:ping', data: {} });
        const pong = await s.next((f) => f.event === 'pusher:pong' && s.frames.indexOf(f) >= before, 'the pong after the frame', 3000).catch(() => null);
        if (!pong) {
          closed += 1;
          assert.notEqual(s.ws.readyState, s.ws.OPEN, 'an open connection always answers a ping');
          return;
        }
        for (const f of s.frames.slice(before)) {
          if (f.event === 'pusher:error') assert.ok(DOCUMENTED_CODES.has((f.data as { code: number }).code), JSON.stringify(f));
          if (f.event === 'pusher:subscription_error') assert.ok(DOCUMENTED_STATUS.has((f.data as { status: number }).status), JSON.stringify(f));
          if (f.event === 'pusher_internal:subscription_succeeded') s.send({ event: 'pusher:unsubscribe', data: { channel: f.channel } });
        }
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 7_000 },
    );
    (socket as RawPusherSocket | null)?.close();
    console.log(`pusher fuzz: ${cases} frames, ${closed} connections closed by the server`);
    assert.ok(cases >= 200, `enough cases ran (${cases})`);
    assert.equal(closed, 0, 'no frame under the hard cap closes the connection');
  });

  it('connection requests: any path and query under /app/ is answered with connection_established or a documented close', async () => {
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constant(APP.key),
          fc.string({ maxLength: 300 }).map(encodeURIComponent),
          fc.string({ unit: 'binary', maxLength: 80 }).map(encodeURIComponent),
          fc.constantFrom('%E0%A4%A', '%', 'a/b', '', '..%2F..', 'x'.repeat(2000)),
        ),
        fc.oneof(
          fc.constant('protocol=7&client=js&version=8.6.0'),
          fc.constant(''),
          fc.string({ maxLength: 100 }),
          fc.integer().map((n) => `protocol=${n}`),
          fc.string().map((v) => `protocol=${encodeURIComponent(v)}`),
        ),
        async (key, query) => {
          cases += 1;
          const url = `${stack.url.replace(/^http/, 'ws')}/app/${key}?${query}`;
          let socket: RawPusherSocket;
          try {
            socket = new RawPusherSocket(url);
          } catch {
            return; // a URL the client library itself refuses never reaches the gateway
          }
          const outcome = await Promise.race([socket.event('pusher:connection_established').then(() => 'connected'), socket.closed.then((c) => c.code)]);
          socket.close();
          if (outcome !== 'connected')
            assert.ok(DOCUMENTED_CODES.has(outcome as number) || outcome === 1006, `closed with ${String(outcome)} for ${url.slice(0, 200)}`);
        },
      ),
      { numRuns: 400, interruptAfterTimeLimit: 3_000 },
    );
    assert.ok(cases >= 100, `enough cases ran (${cases})`);
  });

  it('the auth endpoint: only documented statuses, never a 500', async () => {
    const token = await stack.jobcast.token(['private-fz']);
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc
            .record(
              {
                socket_id: fc.oneof(fc.constant('1.2'), fc.string()),
                channel_name: name,
                app_key: fc.oneof(fc.constant(undefined), fc.string(), fc.constant(APP.key)),
              },
              { requiredKeys: [] },
            )
            .map((v) =>
              new URLSearchParams(
                Object.entries(v)
                  .filter(([, x]) => x !== undefined)
                  .map(([k, x]) => [k, String(x)]),
              ).toString(),
            ),
        ),
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain'),
        fc.oneof(fc.constant(undefined), fc.constant(`Bearer ${token}`), fc.string()),
        async (body, type, authorization) => {
          cases += 1;
          const headers: Record<string, string> = { 'content-type': type };
          if (authorization !== undefined) headers.authorization = authorization.replace(/[^\t\x20-\x7e]/g, '');
          const response = await fetch(`${stack.url}/jobcast/pusher/auth`, { method: 'POST', headers, body });
          await response.arrayBuffer();
          assert.ok(DOCUMENTED_STATUS.has(response.status), `${body.slice(0, 100)} → ${response.status}`);
        },
      ),
      { numRuns: 1000, interruptAfterTimeLimit: 3_000 },
    );
    assert.ok(cases >= 100, `enough cases ran (${cases})`);
  });

  it('the well-behaved pusher-js client got every event meanwhile; nothing went unhandled; no channel left behind', async () => {
    clearInterval(publisher);
    await waitFor(() => ticks.length >= published, 'the steady client to catch up');
    assert.deepEqual(
      ticks,
      Array.from({ length: published }, (_, i) => i + 1),
      'every event, in order, once',
    );
    assert.deepEqual(unhandled, []);
    await waitFor(() => stack.gateway.stats().connections === 1, 'only the steady client to be left');
    await waitFor(() => stack.gateway.channelCount === 1, 'only the steady channel to be held');
  });
});
