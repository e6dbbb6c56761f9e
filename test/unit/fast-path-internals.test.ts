import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { Server } from 'socket.io';
import { io, type Socket as ClientSocket } from 'socket.io-client';

import { eventFrame, fastPathInternalsProblem, VERIFIED_WITH, writeFrame } from '../../server/gateway/event-frames.js';
import { idleConnectionInternalsProblem, releaseHandshake, settleIdle, trackUpgradeResponses } from '../../server/gateway/idle-connection.js';
import type { GatewayServer, GatewaySocket } from '../../server/gateway/types.js';
import type { ChannelEvent } from '../../shared/protocol.js';
import { deferred } from '../helpers/wait.js';

const installed = (name: string) =>
  (JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };

/** A socket.io server on a free port, and connected clients with the server's socket for each. */
function socketIoRig(setup: (server: GatewayServer) => void = () => undefined) {
  let http: HttpServer;
  let server: GatewayServer;
  let url: string;
  const clients: ClientSocket[] = [];
  before(async () => {
    http = createServer();
    server = new Server(http, { serveClient: false }) as GatewayServer;
    setup(server);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await server.close();
  });
  /** A connected client on `transport` and the server's socket for it. */
  return async function connection(transport: 'websocket' | 'polling'): Promise<{ client: ClientSocket; socket: GatewaySocket }> {
    const connected = deferred<GatewaySocket>();
    server.once('connection', (socket) => connected.resolve(socket));
    const client = io(url, { transports: [transport], upgrade: false });
    clients.push(client);
    const socket = await connected.promise;
    if (!client.connected) await new Promise((resolve) => client.once('connect', () => resolve(undefined)));
    return { client, socket };
  };
}
/**
 * event-frames.ts writes to engine.io's and ws's private fields. These tests are the alarm for
 * an upgrade: they fail, with the field that changed, instead of the gateway quietly sending
 * every broadcast through socket.io (or writing around a queue a new version added).
 */
describe('the broadcast fast path against the socket.io, engine.io and ws it was verified with', () => {
  const connection = socketIoRig();

  const event = (offset: number): ChannelEvent => ({
    channel: 'job:fast',
    epoch: 'e1',
    offset,
    event: 'progress',
    data: { pct: offset, text: 'é ✓ "q"' },
    ts: 1,
  });

  it('runs on exactly the versions it was verified with, pinned in package.json', () => {
    for (const [name, version] of Object.entries(VERIFIED_WITH)) {
      assert.equal(
        installed(name),
        version,
        `${name} ${installed(name)} is installed; re-verify server/gateway/event-frames.ts against it, then update VERIFIED_WITH`,
      );
      assert.equal(manifest.dependencies[name], version, `package.json must pin ${name} to exactly ${version}`);
    }
  });

  it('finds the private fields it reads on a real WebSocket connection, and its frame arrives as socket.io would send it', async () => {
    const { client, socket } = await connection('websocket');
    assert.equal(fastPathInternalsProblem(socket), null);
    const received: ChannelEvent[] = [];
    const both = deferred();
    client.on('event', (e: ChannelEvent) => {
      received.push(e);
      if (received.length === 2) both.resolve();
    });
    assert.equal(writeFrame(socket, eventFrame(event(1))), true, 'the fast path must take an open WebSocket');
    socket.emit('event', event(2)); // the same event through socket.io itself
    await both.promise;
    assert.deepEqual(received, [event(1), event(2)]);
  });

  it('leaves long-polling connections to socket.io', async () => {
    const { socket } = await connection('polling');
    assert.equal(fastPathInternalsProblem(socket), null);
    assert.equal(writeFrame(socket, eventFrame(event(3))), false);
  });

  it('says loudly, once, which field changed when one is no longer there', async () => {
    const { socket } = await connection('websocket');
    const ws = (socket.conn as unknown as { transport: { socket: { _sender: Record<string, unknown> } } }).transport.socket;
    const sendFrame = ws._sender.sendFrame;
    ws._sender.sendFrame = undefined; // what a ws release renaming it would look like
    const warning = deferred<Error & { code?: string }>();
    process.once('warning', (w) => warning.resolve(w));
    try {
      assert.match(fastPathInternalsProblem(socket) ?? '', /_sender\.sendFrame/);
      assert.equal(writeFrame(socket, eventFrame(event(4))), false);
      const w = await warning.promise;
      assert.equal(w.code, 'JOBCAST_FAST_PATH');
      assert.match(w.message, /_sender\.sendFrame/);
    } finally {
      ws._sender.sendFrame = sendFrame;
    }
  });
});

/**
 * idle-connection.ts writes to engine.io's and ws's private fields to let an accepted
 * connection's upgrade request and last read chunk go. These tests fail when a field it uses
 * changed, and when what it releases is still kept after all (a collected WeakRef is the proof).
 */
describe('the idle-connection release against the socket.io, engine.io and ws it was verified with', () => {
  // What a test of memory needs: a full collection on demand (the flag is read when `gc` is made).
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let upgradeResponse: WeakRef<object> | undefined;
  let engineClients = () => 0;
  const connection = socketIoRig((server) => {
    trackUpgradeResponses(server);
    // After jobcast's: what it must let go of.
    server.engine.use((_req: unknown, res: object, next: () => void) => {
      upgradeResponse = new WeakRef(res);
      next();
    });
    engineClients = () => server.engine.clientsCount;
  });

  /** Resolves once `ref`'s target was collected; fails if full collections leave it alive. */
  async function collected(ref: WeakRef<object>, what: string): Promise<void> {
    for (let i = 0; i < 20 && ref.deref(); i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    assert.equal(ref.deref(), undefined, `${what} is still referenced after releaseHandshake`);
  }

  it('finds the fields it uses on a WebSocket connection, and the upgrade request and response are collected once released', async () => {
    const { client, socket } = await connection('websocket');
    assert.equal(idleConnectionInternalsProblem(socket), null);
    const request = new WeakRef(socket.request);
    const response = upgradeResponse!;
    releaseHandshake(socket);
    assert.equal(socket.request, null);
    assert.deepEqual(socket.handshake.headers, {});
    assert.equal(typeof socket.handshake.address, 'string');
    await collected(request, 'the upgrade request');
    await collected(response, "the upgrade's stand-in response (its close relay on the TCP socket)");
    // The connection still works both ways after the release.
    const echoed = deferred<unknown>();
    socket.on('ping-test' as never, ((value: unknown, ack: (v: unknown) => void) => ack(value)) as never);
    client.emit('ping-test', 'é', (value: unknown) => echoed.resolve(value));
    assert.equal(await echoed.promise, 'é');
  });

  it("lets the chunk of the last message go: ws's frame mask is dropped after every message", async () => {
    const { client, socket } = await connection('websocket');
    releaseHandshake(socket);
    const receiver = (socket.conn as unknown as { transport: { socket: { _receiver: { _mask?: Buffer } } } }).transport.socket._receiver;
    const got = deferred();
    socket.on('chunk-test' as never, (() => got.resolve()) as never);
    client.emit('chunk-test', 'x'.repeat(2000));
    await got.promise;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(receiver._mask, undefined);
  });

  it('has nothing of a WebSocket to check on a long-polling connection', async () => {
    const { socket } = await connection('polling');
    assert.equal(idleConnectionInternalsProblem(socket), null);
    releaseHandshake(socket);
    assert.equal(socket.request, null);
  });

  it('settles an idle connection: compact listener tables, shared catch-all and acknowledgements, no room of its own, and it still works', async () => {
    const { client, socket } = await connection('websocket');
    const unknown = deferred<unknown>();
    const anyListeners = Object.freeze([(event: unknown) => event === 'echo' || unknown.resolve(event)]);
    socket.on('echo' as never, ((value: unknown, ack: (v: unknown) => void) => ack(value)) as never);
    const engine = socket.conn as unknown as { transport: { socket: { _socket: unknown; _receiver: unknown } } };
    const emitters = {
      socket,
      conn: socket.conn,
      transport: engine.transport,
      ws: engine.transport.socket,
      tcp: engine.transport.socket._socket,
      receiver: engine.transport.socket._receiver,
    };
    releaseHandshake(socket);
    // Each table's listeners as socket.io calls them: a `once` listener by the listener it wraps.
    const listenersOf = (e: unknown): Record<string, unknown[]> =>
      Object.fromEntries(
        Object.keys((e as { _events: object })._events).map((event) => [event, (e as { listeners(event: string): unknown[] }).listeners(event)]),
      );
    const clientsBefore = engineClients();
    const listenersBefore = Object.fromEntries(Object.entries(emitters).map(([name, e]) => [name, listenersOf(e)]));
    const onUpgradeError = listenersBefore.ws!.error!.find((l) => (l as () => void).name === 'onUpgradeError');
    assert.ok(onUpgradeError, "engine.io's upgrade error listener is on the WebSocket, as verified");
    const prototypesBefore = Object.fromEntries(
      Object.entries(emitters).map(([name, e]) => [name, Object.getPrototypeOf((e as { _events: object })._events) as unknown]),
    );
    assert.equal(prototypesBefore.socket, null, "socket.io's listener table is a null-prototype object, as verified");
    const pushed = () => ({
      cleanup: (socket.conn as unknown as { cleanupFn: unknown[] }).cleanupFn,
      decoded: (socket.client as unknown as { decoder: { _callbacks: { $decoded: unknown[] } } }).decoder._callbacks.$decoded,
    });
    const pushedBefore = pushed();
    assert.ok(socket.rooms.has(socket.id));
    settleIdle(socket, anyListeners);
    for (const [name, emitter] of Object.entries(emitters)) {
      const table = (emitter as { _events: object })._events;
      // Node's own streams start from a compact table already (its prototype is not null): kept as it is.
      assert.equal(Object.getPrototypeOf(table), prototypesBefore[name], `${name}: the listener table keeps its prototype`);
      const expected: Record<string, unknown[]> | undefined =
        name === 'ws' ? { ...listenersBefore.ws, error: listenersBefore.ws!.error!.filter((l) => l !== onUpgradeError) } : listenersBefore[name];
      assert.deepEqual(listenersOf(emitter), expected, `${name}: the same listeners (the WebSocket without engine.io's upgrade error listener)`);
    }
    const raw = [emitters.conn, emitters.transport, emitters.ws].flatMap((e) =>
      ['close', 'error'].flatMap((event) => (e as { rawListeners(event: string): unknown[] }).rawListeners(event)),
    );
    assert.ok(
      raw.every((l) => (l as () => void).name !== 'bound onceWrapper'),
      'close and error listeners kept without their once wrappers',
    );
    // engine.io's transport clean-up and socket.io's decoder listeners: copies, the same functions.
    assert.notEqual(pushed().cleanup, pushedBefore.cleanup);
    assert.deepEqual(pushed(), pushedBefore);
    assert.equal(socket.rooms.size, 0, 'no room of its own id');
    assert.deepEqual(socket.listenersAny(), anyListeners, 'the shared catch-all listeners, through the public API');
    // Both ways still: an acknowledged event, and an unknown one reaching the catch-all.
    const echoed = deferred<unknown>();
    client.emit('echo', 'é', (value: unknown) => echoed.resolve(value));
    assert.equal(await echoed.promise, 'é');
    client.emit('no-such-event');
    assert.equal(await unknown.promise, 'no-such-event');
    const untyped = socket as unknown as { emit(event: string, ...args: unknown[]): boolean };
    assert.throws(() => untyped.emit('notice', () => undefined), /does not emit with acknowledgements/);
    const gone = deferred();
    const closed = deferred();
    let disconnects = 0;
    socket.on('disconnect', () => void (disconnects += 1));
    socket.conn.on('close', () => setImmediate(() => closed.resolve()));
    client.once('disconnect', () => gone.resolve());
    socket.disconnect(true);
    await gone.promise;
    await closed.promise;
    // The unwrapped close listeners ran once each: engine.io counted this client out once.
    assert.equal(engineClients(), clientsBefore - 1);
    assert.equal(disconnects, 1);
  });

  it('says which field changed when one is no longer there', async () => {
    const { socket } = await connection('websocket');
    const ws = (socket.conn as unknown as { transport: { socket: { _receiver: unknown } } }).transport.socket;
    const receiver = ws._receiver;
    ws._receiver = {}; // what a ws release renaming `_mask` would look like
    try {
      assert.match(idleConnectionInternalsProblem(socket) ?? '', /_receiver\._mask/);
    } finally {
      ws._receiver = receiver;
    }
    const tcp = (ws as unknown as { _socket: unknown })._socket;
    (ws as unknown as { _socket: unknown })._socket = null;
    try {
      assert.match(idleConnectionInternalsProblem(socket) ?? '', /_socket/);
    } finally {
      (ws as unknown as { _socket: unknown })._socket = tcp;
    }
  });
});
