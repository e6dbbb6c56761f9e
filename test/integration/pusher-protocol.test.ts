import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import PusherServer from 'pusher';

import { connect } from '../../client/connection.js';
import { AppRegistry } from '../../server/apps/apps.js';
import { channelKeys } from '../../server/channels/keys.js';
import { PusherCode } from '../../shared/pusher-codes.js';
import { PusherConnectionData, PusherEventFrame, PusherSubscriptionSucceeded } from '../../shared/pusher-protocol.js';
import { connected, type Pusher, pusherJs, RawPusherSocket } from '../helpers/pusher-clients.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { deferred, waitFor } from '../helpers/wait.js';

const APP = { id: 'main', key: 'main-key', secret: 'main-secret-0123456789', enabled: true };
const OPEN = { id: 'open', key: 'open-key', secret: 'open-secret-0123456789', enabled: true, publicChannels: true, clientEvents: true };
const OFF = { id: 'off', key: 'off-key', secret: 'off-secret-0123456789ab', enabled: false };

describe('Pusher clients on the gateway (pusher-js, unchanged)', () => {
  let stack: TestStack;
  let server: PusherServer;
  let open: PusherServer;
  const clients: { disconnect(): void }[] = [];
  const raws: RawPusherSocket[] = [];

  /** pusher-js for `app`, authorising private channels with the official SDK's authorizeChannel. */
  function client(app = APP, sdk = server, url = stack.url): Pusher {
    const pusher = pusherJs(url, app.key, {
      channelAuthorization: {
        endpoint: '',
        transport: 'ajax',
        customHandler: (params, callback) => callback(null, sdk.authorizeChannel(params.socketId, params.channelName)),
      },
    });
    clients.push(pusher);
    return pusher;
  }
  function raw(key = APP.key, query?: string): RawPusherSocket {
    const socket = RawPusherSocket.connect(stack.url, key, query);
    raws.push(socket);
    return socket;
  }
  /** Subscribes and resolves once subscription_succeeded came, with everything the channel got. */
  async function subscribed(pusher: Pusher, name: string): Promise<{ event: string; data: unknown }[]> {
    const seen: { event: string; data: unknown }[] = [];
    const done = deferred();
    const channel = pusher.subscribe(name);
    channel.bind('pusher:subscription_succeeded', () => done.resolve());
    channel.bind('pusher:subscription_error', (e: unknown) => done.reject(new Error(`subscription_error ${JSON.stringify(e)}`)));
    channel.bind_global((event: string, data: unknown) => {
      if (!event.startsWith('pusher:')) seen.push({ event, data });
    });
    await done.promise;
    return seen;
  }

  before(async () => {
    stack = await startStack({ apps: new AppRegistry(APP, [OPEN, OFF]), gateway: { pusher: { activityTimeoutSeconds: 1, pongTimeoutMs: 600 } } });
    const url = new URL(stack.url);
    const sdk = (app: typeof APP) => new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: url.hostname, port: url.port, useTLS: false });
    server = sdk(APP);
    open = sdk(OPEN);
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    for (const r of raws) r.close();
    await stack.close();
  });

  it('connects at /app/<key>: connection_established with a Pusher socket_id and an activity_timeout', async () => {
    const socket = raw();
    const frame = await socket.event('pusher:connection_established');
    assert.equal(typeof frame.data, 'string', 'data is a JSON string, as Pusher sends it');
    const data = PusherConnectionData.parse(JSON.parse(frame.data as string));
    assert.equal(data.activity_timeout, 1);
    const pusher = client();
    assert.match(await connected(pusher), /^\d+\.\d+$/);
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    assert.match(metrics, /^jobcast_connections\{transport="pusher"\} 2$/m, 'counted under their own transport label');
  });

  it('a private channel authorised with authorizeChannel gets 50 events triggered over the HTTP API, in order', async () => {
    const pusher = client();
    const seen = await subscribed(pusher, 'private-orders');
    for (let i = 0; i < 50; i++) await server.trigger('private-orders', 'order-updated', { i, items: ['a', 'b'] });
    await waitFor(() => seen.length === 50, '50 events');
    assert.deepEqual(
      seen.map((e) => (e.data as { i: number }).i),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.deepEqual(seen[7], { event: 'order-updated', data: { i: 7, items: ['a', 'b'] } });
  });

  it('event frames are what Pusher sends: data a JSON string, plus a jobcast position stock clients ignore', async () => {
    const socket = raw();
    const socketId = await socket.socketId();
    socket.send({ event: 'pusher:subscribe', data: { channel: 'private-frames', auth: server.authorizeChannel(socketId, 'private-frames').auth } });
    const ok = PusherSubscriptionSucceeded.parse(await socket.event('pusher_internal:subscription_succeeded', 'private-frames'));
    assert.equal(ok.data, '{}');
    await server.trigger('private-frames', 'hello', { text: 'hi' });
    await server.trigger('private-frames', 'plain', 'just text');
    const hello = PusherEventFrame.parse(await socket.event('hello'));
    assert.deepEqual({ event: hello.event, channel: hello.channel, data: hello.data }, { event: 'hello', channel: 'private-frames', data: '{"text":"hi"}' });
    assert.equal(hello.jobcast?.epoch, ok.jobcast?.epoch);
    assert.equal(PusherEventFrame.parse(await socket.event('plain')).data, 'just text', 'the SDK sends a string as it is; so does the gateway');
  });

  it('a forged authorisation gets pusher:subscription_error, and the connection keeps working', async () => {
    const pusher = client(APP, new PusherServer({ appId: APP.id, key: APP.key, secret: 'not-the-secret-0123456789', host: 'x' }));
    await connected(pusher);
    const error = deferred<{ type: string; status: number; error: string }>();
    pusher.subscribe('private-vault').bind('pusher:subscription_error', (e: { type: string; status: number; error: string }) => error.resolve(e));
    const e = await error.promise;
    assert.equal(e.type, 'AuthError');
    assert.equal(e.status, 401);
    assert.match(e.error, /invalid signature/);
    assert.equal(pusher.connection.state, 'connected');
  });

  it('socket_id exclusion: the publishing connection does not get its own event, the others do', async () => {
    const a = client();
    const b = client();
    const seenA = await subscribed(a, 'private-chat');
    const seenB = await subscribed(b, 'private-chat');
    await server.trigger('private-chat', 'said', { text: 'mine' }, { socket_id: a.connection.socket_id });
    await server.trigger('private-chat', 'said', { text: 'for all' });
    await waitFor(() => seenA.length === 1 && seenB.length === 2, 'the events');
    assert.deepEqual(
      seenA.map((e) => (e.data as { text: string }).text),
      ['for all'],
    );
    assert.deepEqual(
      seenB.map((e) => (e.data as { text: string }).text),
      ['mine', 'for all'],
    );
  });

  it('unknown app keys and disabled apps are refused with 4001 and 4003; pusher-js does not retry', async () => {
    for (const [key, code] of [
      ['no-such-key', PusherCode.unknownApp],
      [OFF.key, PusherCode.appDisabled],
    ] as const) {
      const socket = raw(key);
      const error = await socket.event('pusher:error');
      assert.equal((error.data as { code: number }).code, code);
      assert.equal((await socket.closed).code, code);
      const pusher = pusherJs(stack.url, key);
      clients.push(pusher);
      const failed = deferred<number>();
      pusher.connection.bind('error', (e: { error?: { data?: { code?: number } } }) => e.error?.data?.code && failed.resolve(e.error.data.code));
      assert.equal(await failed.promise, code);
      await waitFor(() => pusher.connection.state === 'disconnected', 'pusher-js to give up');
      // Refused for good: pusher-js does not come back on its own.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(pusher.connection.state, 'disconnected');
    }
    const noProtocol = raw(APP.key, 'client=js');
    assert.equal((await noProtocol.closed).code, PusherCode.noProtocol);
  });

  it('ping gets pong; a connection that answers nothing is pinged, then closed with 4201; pusher-js stays up', async () => {
    const socket = raw();
    await socket.socketId();
    socket.send({ event: 'pusher:ping', data: {} });
    await socket.event('pusher:pong');
    // This socket never answers: after 1 s of silence a ping, 0.6 s later the close.
    const started = Date.now();
    await socket.event('pusher:ping');
    assert.equal((await socket.closed).code, PusherCode.pongTimeout);
    assert.ok(Date.now() - started < 4000, `closed after ${Date.now() - started} ms`);
    const pusher = client();
    await connected(pusher);
    const id = pusher.connection.socket_id;
    // Several activity timeouts pass; pusher-js answers pings and keeps its connection.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.equal(pusher.connection.state, 'connected');
    assert.equal(pusher.connection.socket_id, id);
  });

  it('after a dropped connection pusher-js reconnects, resubscribes and gets later events', async () => {
    const proxy = await TcpProxy.start([Number(new URL(stack.url).port)]);
    try {
      const pusher = client(APP, server, proxy.url);
      const seen = await subscribed(pusher, 'private-drops');
      const first = pusher.connection.socket_id;
      await server.trigger('private-drops', 'n', { n: 1 });
      await waitFor(() => seen.length === 1, 'the first event');
      const again = deferred();
      pusher.channel('private-drops').bind('pusher:subscription_succeeded', () => again.resolve());
      proxy.cut();
      await again.promise;
      assert.notEqual(pusher.connection.socket_id, first, 'a new connection');
      await server.trigger('private-drops', 'n', { n: 2 });
      await waitFor(() => seen.some((e) => (e.data as { n: number }).n === 2), 'the event after the reconnect');
    } finally {
      await proxy.close();
    }
  });

  it('a job channel as private-jobcast-job-<id>: authorised by /jobcast/pusher/auth for the job token; a late subscriber gets the finished state', async () => {
    const { jobId, token } = await stack.jobcast.start('count', { steps: 3 });
    await waitFor(async () => (await stack.jobcast.status(jobId)).state === 'completed', 'the job to finish');
    const name = `private-jobcast-job-${jobId}`;
    const pusher = pusherJs(stack.url, APP.key, {
      channelAuthorization: { endpoint: `${stack.url}/jobcast/pusher/auth`, transport: 'ajax', headers: { Authorization: `Bearer ${token}` } },
    });
    clients.push(pusher);
    const seen = await subscribed(pusher, name);
    await waitFor(() => seen.some((e) => e.event === 'completed'), 'completed from the snapshot');
    const completed = seen.find((e) => e.event === 'completed')!.data as { partialUrl: string };
    assert.equal(completed.partialUrl, `/jobcast/jobs/${jobId}/partial`);
    assert.deepEqual(Object.keys(completed).sort(), ['durationMs', 'partialUrl'], 'the payload jobcast published, nothing of the extension in it');
    assert.deepEqual((seen.find((e) => e.event === 'progress')?.data as { pct: number }).pct, 100);
    assert.equal(stack.gateway.stats().unacknowledgedOutcomes, 0, 'Pusher clients cannot acknowledge: their outcomes are not awaited');

    // Without the right token the endpoint refuses, and pusher-js reports it on the channel.
    const stranger = pusherJs(stack.url, APP.key, {
      channelAuthorization: {
        endpoint: `${stack.url}/jobcast/pusher/auth`,
        transport: 'ajax',
        headers: { Authorization: `Bearer ${await stack.jobcast.token(['job:other'])}` },
      },
    });
    clients.push(stranger);
    const refused = deferred<{ status: number }>();
    stranger.subscribe(name).bind('pusher:subscription_error', (e: { status: number }) => refused.resolve(e));
    assert.equal((await refused.promise).status, 403);
  });

  it('another app cannot reach a job that is not its own, even signing with its own secret', async () => {
    const { jobId } = await stack.jobcast.start('count', { steps: 1 });
    const socket = raw(OPEN.key);
    const socketId = await socket.socketId();
    const name = `private-jobcast-job-${jobId}`;
    socket.send({ event: 'pusher:subscribe', data: { channel: name, auth: open.authorizeChannel(socketId, name).auth } });
    const error = await socket.event('pusher:subscription_error', name);
    assert.equal((error.data as { status: number }).status, 403);
  });

  it('a reconnecting client that sends its position gets exactly what it missed', async () => {
    const channel = 'private-resume';
    const first = raw();
    let id = await first.socketId();
    first.send({ event: 'pusher:subscribe', data: { channel, auth: server.authorizeChannel(id, channel).auth } });
    await first.event('pusher_internal:subscription_succeeded', channel);
    await server.trigger(channel, 'n', { n: 1 });
    const last = PusherEventFrame.parse(await first.event('n', channel));
    first.close();
    for (let n = 2; n <= 4; n++) await server.trigger(channel, 'n', { n });
    const second = raw();
    id = await second.socketId();
    second.send({ event: 'pusher:subscribe', data: { channel, auth: server.authorizeChannel(id, channel).auth, jobcast: last.jobcast } });
    const ok = PusherSubscriptionSucceeded.parse(await second.event('pusher_internal:subscription_succeeded', channel));
    assert.equal(ok.jobcast?.recovered, true);
    await waitFor(() => second.frames.filter((f) => f.event === 'n').length === 3, 'the three missed events');
    assert.deepEqual(
      second.frames.filter((f) => f.event === 'n').map((f) => JSON.parse(f.data as string).n),
      [2, 3, 4],
    );
  });

  it('pusher-js and socket.io subscribers of one channel share the hub: one Redis subscription, both get the event', async () => {
    const pusher = client();
    const seen = await subscribed(pusher, 'private-shared');
    const io = connect({ url: stack.url });
    try {
      const sub = io.channel('private-shared', { token: await stack.jobcast.token(['private-shared']) });
      const ioSeen: unknown[] = [];
      sub.on('*', (e) => ioSeen.push(e.data));
      await sub.subscribe();
      const [, listeners] = (await stack.jobcast.redis.pubsub('NUMSUB', channelKeys(stack.prefix, 'private-shared').live)) as [string, number];
      assert.equal(listeners, 1, 'one Redis subscription for both transports');
      await server.trigger('private-shared', 'both', { ok: true });
      await waitFor(() => seen.length === 1 && ioSeen.length === 1, 'both transports');
      assert.deepEqual(ioSeen[0], { ok: true });
    } finally {
      io.close();
    }
  });

  it('public channels, presence channels and client events: refused unless the app turns them on', async () => {
    const socket = raw();
    const socketId = await socket.socketId();
    socket.send({ event: 'pusher:subscribe', data: { channel: 'news' } });
    assert.equal(((await socket.event('pusher:subscription_error', 'news')).data as { status: number }).status, 403);
    socket.send({
      event: 'pusher:subscribe',
      data: { channel: 'presence-room', auth: server.authorizeChannel(socketId, 'presence-room').auth, channel_data: '{"user_id":"1"}' },
    });
    const presence = await socket.event('pusher:subscription_error', 'presence-room');
    assert.match((presence.data as { error: string }).error, /presence channels are not supported/);
    socket.send({ event: 'pusher:subscribe', data: { channel: 'private-talk', auth: server.authorizeChannel(socketId, 'private-talk').auth } });
    await socket.event('pusher_internal:subscription_succeeded', 'private-talk');
    socket.send({ event: 'client-typing', channel: 'private-talk', data: { who: 'me' } });
    assert.equal(((await socket.event('pusher:error')).data as { code: number }).code, PusherCode.clientEventRefused);

    // The open app: a public channel without auth, and client events reaching the others only.
    const a = client(OPEN, open);
    const b = client(OPEN, open);
    const news = await subscribed(a, 'news');
    await open.trigger('news', 'headline', { t: 1 });
    await waitFor(() => news.length === 1, 'the public event');
    const seenA = await subscribed(a, 'private-room');
    const seenB = await subscribed(b, 'private-room');
    a.channel('private-room').trigger('client-typing', { who: 'a' });
    await waitFor(() => seenB.length === 1, 'the client event at b');
    assert.deepEqual(seenB[0], { event: 'client-typing', data: { who: 'a' } });
    await open.trigger('private-room', 'after', {});
    await waitFor(() => seenA.length === 1, 'a later event at a');
    assert.deepEqual(
      seenA.map((e) => e.event),
      ['after'],
      'the sender does not get its own client event',
    );
  });

  it('hostile input gets clear pusher:error frames; the connection keeps serving', async () => {
    const socket = raw();
    const socketId = await socket.socketId();
    const errors = () => socket.frames.filter((f) => f.event === 'pusher:error').map((f) => f.data as { code: number; message: string });
    socket.send('{not json');
    socket.send({ event: 'pusher:launch', data: {} });
    socket.send({ no: 'event' });
    socket.send({ event: 'pusher:subscribe', data: { channel: 'private-x', auth: 'a'.repeat(20_000) } });
    socket.send({ event: 'pusher:subscribe', data: 'not an object' });
    await waitFor(() => errors().length === 5, 'five errors');
    assert.deepEqual(
      errors().map((e) => e.code),
      Array(5).fill(PusherCode.invalidMessage),
    );
    assert.match(errors()[0]!.message, /not JSON/);
    assert.match(errors()[1]!.message, /unknown event "pusher:launch"/);
    assert.match(errors()[3]!.message, /over the 10240-byte limit/);
    // A flood of subscribes: past the rate, clear refusals; the connection lives on.
    for (let i = 0; i < 80; i++)
      socket.send({ event: 'pusher:subscribe', data: { channel: `private-f${i}`, auth: server.authorizeChannel(socketId, `private-f${i}`).auth } });
    await waitFor(
      () => socket.frames.filter((f) => f.event === 'pusher_internal:subscription_succeeded' || f.event === 'pusher:subscription_error').length === 80,
      'an answer to each subscribe',
    );
    const refusals = socket.frames.filter((f) => f.event === 'pusher:subscription_error' && (f.data as { status: number }).status === 429);
    assert.ok(refusals.length >= 20, `${refusals.length} refused as over the rate`);
    socket.send({ event: 'pusher:ping', data: {} });
    await socket.event('pusher:pong');
    assert.equal(socket.ws.readyState, socket.ws.OPEN);
    // Past the hard cap a frame is not even read: that connection alone is closed (1009).
    const big = raw();
    await big.socketId();
    big.send('x'.repeat(300 * 1024));
    assert.equal((await big.closed).code, 1009);
    const after = socket.frames.length;
    socket.send({ event: 'pusher:ping', data: {} });
    await socket.next((f) => f.event === 'pusher:pong' && socket.frames.indexOf(f) >= after, 'a pong on the other connection');
  });

  it('origins and connections per address are limited as for socket.io (4009, 4100); graceful close says reconnect (4200)', async () => {
    const extra = await startStack({ apps: new AppRegistry(APP), worker: false, gateway: { origins: ['http://good.example'], maxConnectionsPerIp: 2 } });
    const open = (origin: string) => {
      const socket = RawPusherSocket.connect(extra.url, APP.key, undefined, { origin });
      raws.push(socket);
      return socket;
    };
    assert.equal((await open('http://evil.example').closed).code, PusherCode.unauthorized);
    const first = open('http://good.example');
    const second = open('http://good.example');
    await Promise.all([first.socketId(), second.socketId()]);
    assert.equal((await open('http://good.example').closed).code, PusherCode.overCapacity);
    await extra.gateway.close();
    for (const socket of [first, second]) {
      assert.equal(((await socket.event('pusher:error')).data as { code: number }).code, PusherCode.reconnect);
      assert.equal((await socket.closed).code, PusherCode.reconnect);
    }
    await extra.close();
  });
});
