import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { Server, type Socket as ServerSocket } from 'socket.io';
import { io, type Socket as ClientSocket } from 'socket.io-client';

import { CLIENT_VERIFIED_WITH, installEventFastPath } from '../../client/event-fast-path.js';
import { deferred, waitFor } from '../helpers/wait.js';

const installed = (name: string) =>
  (JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };

const event = (offset: number) => ({ channel: 'job:fast', epoch: 'e1', offset, event: 'progress', data: { pct: offset, text: 'é ✓ "q"' }, ts: 1 });

/**
 * client/event-fast-path.ts replaces socket.io-client's Manager#ondata. These tests are the
 * alarm for an upgrade: they fail when events stop taking the fast path, or take it out of
 * order, instead of every page quietly paying for socket.io-client's decoding again.
 */
describe("the client's receive fast path against the socket.io-client it was verified with", () => {
  let http: HttpServer;
  let server: Server;
  let url: string;
  const clients: ClientSocket[] = [];
  before(async () => {
    http = createServer();
    server = new Server(http, { serveClient: false });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await server.close();
  });

  /** A client with the fast path installed before it connects, as connection.ts does, and the server's socket for it. */
  async function connection(log: unknown[][]) {
    const connected = deferred<ServerSocket>();
    server.once('connection', (socket) => connected.resolve(socket));
    const client = io(url, { transports: ['websocket'], forceNew: true });
    clients.push(client);
    const stats = installEventFastPath(client, (e) => log.push(['fast', (e as { offset: number }).offset]));
    client.on('event', (e: { offset: number }, ack?: unknown) => log.push(['socket.io', e.offset, typeof ack]));
    client.on('notice', (n: { n: number }) => log.push(['notice', n.n]));
    const socket = await connected.promise;
    if (!client.connected) await new Promise((resolve) => client.once('connect', () => resolve(undefined)));
    return { client, socket, stats };
  }

  it('runs on exactly the versions it was verified with, socket.io-client and engine.io-client pinned in package.json', () => {
    for (const [name, version] of Object.entries(CLIENT_VERIFIED_WITH)) {
      assert.equal(
        installed(name),
        version,
        `${name} ${installed(name)} is installed; re-verify client/event-fast-path.ts against it, then update CLIENT_VERIFIED_WITH`,
      );
    }
    for (const name of ['socket.io-client', 'engine.io-client'] as const) {
      assert.equal(manifest.dependencies[name], CLIENT_VERIFIED_WITH[name], `package.json must pin ${name} to exactly ${CLIENT_VERIFIED_WITH[name]}`);
    }
  });

  it('takes every event packet, in the order of everything the connection receives', async () => {
    const log: unknown[][] = [];
    const { socket, stats } = await connection(log);
    assert.ok(stats, 'the fast path could not be installed: socket.io-client is not as verified');
    socket.emit('event', event(1));
    socket.emit('notice', { n: 1 });
    socket.emit('event', event(2));
    socket.emit('event', event(3));
    socket.emit('notice', { n: 2 });
    socket.emit('event', event(4));
    await waitFor(() => log.length === 6, 'six packets');
    assert.deepEqual(log, [
      ['fast', 1],
      ['notice', 1],
      ['fast', 2],
      ['fast', 3],
      ['notice', 2],
      ['fast', 4],
    ]);
    assert.equal(stats.fast, 4);
  });

  it('leaves an event that asks for an acknowledgement to socket.io, and keeps taking the next ones', async () => {
    const log: unknown[][] = [];
    const { socket, stats } = await connection(log);
    socket.emit('event', event(1));
    socket.emit('event', event(2), () => undefined);
    socket.emit('event', event(3));
    await waitFor(() => log.length === 3, 'three events');
    assert.deepEqual(log, [
      ['fast', 1],
      ['socket.io', 2, 'function'],
      ['fast', 3],
    ]);
    assert.equal(stats?.fast, 2);
  });

  it('outlives a reconnect: the manager binds it again when its engine reopens, and events keep taking it', async () => {
    const log: unknown[][] = [];
    const { client, socket, stats } = await connection(log);
    socket.emit('event', event(1));
    await waitFor(() => log.length === 1, 'the first event');
    const again = deferred<ServerSocket>();
    server.once('connection', (s) => again.resolve(s));
    // A transport close, as after a network drop: socket.io-client reconnects by itself.
    client.io.engine.close();
    const next = await again.promise;
    await waitFor(() => client.connected, 'the reconnect');
    next.emit('event', event(2));
    await waitFor(() => log.length === 2, 'the event after the reconnect');
    assert.deepEqual(log, [
      ['fast', 1],
      ['fast', 2],
    ]);
    assert.equal(stats?.fast, 2);
  });
});
