import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';

import { AppRegistry } from '../../server/apps/apps.js';
import { ErrorCode } from '../../shared/codes.js';
import { DEFAULT_SOCKET_PATH } from '../../shared/constants.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { steadyClient } from '../helpers/steady-client.js';

const DOCUMENTED_CODES = new Set<string>(Object.values(ErrorCode));
const DOCUMENTED_STATUS = new Set([200, 202, 400, 401, 403, 404, 409, 413, 429]);
const APP = { id: 'fuzz', key: 'fuzz-key', secret: 'fuzz-secret-0123456789', enabled: true };

describe('hostile input, generated: thousands of malformed frames and requests', () => {
  let stack: TestStack;
  let steady: Awaited<ReturnType<typeof steadyClient>>;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    // Starts open to every request, so generated bodies reach the input validation.
    stack = await startStack({
      apps: new AppRegistry(APP),
      gateway: { subscribesPerSecond: 100_000 },
      router: { authorizeStart: () => true, startsPerMinute: 100_000 },
    });
    steady = await steadyClient(stack);
  });
  after(async () => {
    steady.close();
    await stack.close();
    process.off('unhandledRejection', onUnhandled);
  });

  const validToken = () => stack.jobcast.token(['fuzz-ch']);
  const frame = (token: string) =>
    fc.oneof(
      fc.anything({ maxDepth: 4 }),
      fc.record(
        {
          channel: fc.oneof(fc.string(), fc.constant('fuzz-ch'), fc.string({ unit: 'binary', maxLength: 300 }), fc.integer()),
          token: fc.oneof(fc.constant(token), fc.string(), fc.constant(token.slice(0, -3) + 'abc'), fc.constant(null)),
          since: fc.oneof(
            fc.constant(undefined),
            fc.record({ epoch: fc.string(), offset: fc.oneof(fc.integer(), fc.double(), fc.string()) }),
            fc.anything({ maxDepth: 3 }),
          ),
        },
        { requiredKeys: [] },
      ),
      fc.string({ minLength: 50_000, maxLength: 60_000 }),
      fc.letrec((tie) => ({ deep: fc.oneof({ depthSize: 'large', maxDepth: 60 }, fc.constant(1), fc.record({ a: tie('deep') })) })).deep,
    );

  it('socket frames: an error acknowledgement or a closed connection for that client alone', async () => {
    const token = await validToken();
    let socket: Socket | null = null;
    const open = async () => {
      socket = io(stack.url, { path: DEFAULT_SOCKET_PATH, transports: ['websocket'], reconnection: false });
      await new Promise<void>((resolve, reject) => {
        socket!.once('connect', () => resolve());
        socket!.once('connect_error', reject);
      });
      return socket;
    };
    let closed = 0;
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('subscribe', 'unsubscribe', 'event', 'hello', 'constructor', '__proto__'),
        frame(token),
        fc.boolean(),
        async (name, payload, withAck) => {
          cases += 1;
          const s: Socket = socket?.connected ? socket : await open();
          // Only subscribe and unsubscribe are acknowledged; anything else gets a notice.
          if (!withAck || (name !== 'subscribe' && name !== 'unsubscribe')) {
            s.emit(name, payload);
            return;
          }
          const answer = await s
            .timeout(3000)
            .emitWithAck(name, payload)
            .catch(() => 'no answer');
          if (!s.connected) {
            closed += 1; // the server may close a connection that sent garbage: that client alone
            return;
          }
          if (name === 'subscribe' || name === 'unsubscribe') {
            assert.ok(answer && typeof answer === 'object', `an acknowledgement for ${name}: ${JSON.stringify(answer).slice(0, 200)}`);
            const ack = answer as { ok: boolean; error?: { code: string } };
            if (!ack.ok) assert.ok(DOCUMENTED_CODES.has(ack.error!.code), ack.error!.code);
            if (ack.ok && name === 'subscribe') await s.timeout(3000).emitWithAck('unsubscribe', { channel: 'fuzz-ch' });
          }
        },
      ),
      { numRuns: 2500, interruptAfterTimeLimit: 25_000 },
    );
    (socket as Socket | null)?.disconnect();
    console.log(`socket fuzz: ${cases} frames, ${closed} connections closed by the server`);
    assert.ok(cases >= 1000, `enough cases ran (${cases})`);
  });

  it('HTTP endpoints: only documented statuses, never a 500', async () => {
    const token = await validToken();
    const started = await stack.jobcast.start('count', { steps: 1 });
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST'),
        fc.constantFrom(
          '/jobcast/jobs/count',
          `/jobcast/jobs/${started.jobId}`,
          `/jobcast/jobs/${started.jobId}/partial`,
          `/jobcast/jobs/${started.jobId}/cancel`,
          '/jobcast/jobs/%ZZ',
          `/apps/${APP.id}/events`,
          `/apps/${APP.id}/batch_events`,
          '/apps/nope/events',
          `/apps/${APP.id}/channels`,
          `/apps/${APP.id}/jobs/count`,
        ),
        fc.oneof(
          fc.constant(''),
          fc.string(),
          fc.json(),
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.jsonValue().map((v) => JSON.stringify({ steps: v, name: v, data: v, channel: v })),
        ),
        fc.oneof(
          fc.constant(''),
          fc.constant(`?token=${token}`),
          fc.constant(`?token=${started.token}`),
          fc.string().map((q) => `?${encodeURIComponent(q)}=${encodeURIComponent(q)}`),
          fc.constant('?auth_key=fuzz-key&auth_timestamp=1&auth_signature=00'),
        ),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
        async (method, path, body, query, type) => {
          cases += 1;
          const response = await fetch(stack.url + path + query, { method, headers: { 'content-type': type }, ...(method === 'POST' ? { body } : {}) });
          await response.arrayBuffer();
          assert.ok(DOCUMENTED_STATUS.has(response.status), `${method} ${path}${query} → ${response.status}`);
        },
      ),
      { numRuns: 2000, interruptAfterTimeLimit: 25_000 },
    );
    console.log(`http fuzz: ${cases} requests`);
    assert.ok(cases >= 500, `enough cases ran (${cases})`);
  });

  it('the well-behaved client got every event meanwhile, and nothing went unhandled', async () => {
    await steady.settle();
    const received = steady.offsets;
    assert.deepEqual(
      received,
      Array.from({ length: received.length }, (_, i) => i + 1),
      'every offset, in order, once',
    );
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
    assert.equal(stack.gateway.stats().connections, 1, 'only the steady client is left');
    assert.equal(stack.gateway.channelCount, 1, 'no channel left subscribed by the fuzzers');
  });
});
