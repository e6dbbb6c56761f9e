import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { createResourcePool } from '../../server/index.js';

/** A line server: "PING" → "PONG <n>". It can drop every connection, as a flaky dependency does. */
class FlakyServer {
  server: Server = createServer((socket) => {
    this.sockets.add(socket);
    this.accepted += 1;
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        buffer = buffer.slice(i + 1);
        socket.write(`PONG ${++this.served}\n`);
      }
    });
  });
  sockets = new Set<Socket>();
  accepted = 0;
  served = 0;
  port = 0;
  async start(port = 0) {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
  drop() {
    for (const s of this.sockets) s.destroy();
  }
  async stop() {
    this.drop();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** One client connection with a request/response call that fails when the socket breaks. */
class LineClient {
  readonly socket: Socket;
  #waiting: { resolve: (line: string) => void; reject: (e: Error) => void } | null = null;
  closed = false;
  constructor(socket: Socket) {
    this.socket = socket;
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      const i = buffer.indexOf('\n');
      if (i >= 0 && this.#waiting) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        this.#waiting.resolve(line);
        this.#waiting = null;
      }
    });
    const fail = () => {
      this.closed = true;
      this.#waiting?.reject(Object.assign(new Error('socket closed'), { code: 'ECONNRESET' }));
      this.#waiting = null;
    };
    socket.on('close', fail);
    socket.on('error', fail);
  }
  static open(port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }
  request(line: string): Promise<string> {
    if (this.closed) return Promise.reject(Object.assign(new Error('socket closed'), { code: 'ECONNRESET' }));
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.socket.write(`${line}\n`);
    });
  }
}

describe('a pool of external connections that heals itself', () => {
  const server = new FlakyServer();
  before(() => server.start());
  after(() => server.stop());

  const pool = (maxAttempts = 3) =>
    createResourcePool({
      create: () => LineClient.open(server.port),
      destroy: (c) => void c.socket.destroy(),
      healthy: (c) => !c.closed,
      size: 3,
      acquireTimeoutMs: 2000,
      maxAttempts,
      retryDelayMs: 10,
    });

  it('keeps working while the server drops every connection again and again', async () => {
    const p = pool(5);
    const drops = setInterval(() => server.drop(), 15);
    try {
      const answers = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          await new Promise((r) => setTimeout(r, i * 3));
          return p.use((c) => c.request('PING'));
        }),
      );
      assert.ok(answers.every((a) => /^PONG \d+$/.test(a)));
      assert.ok(p.size <= 3, 'never more connections than the size');
      assert.ok(server.accepted > 3, `broken connections were replaced (${server.accepted} opened)`);
    } finally {
      clearInterval(drops);
      await p.close();
    }
  });

  it('replaces a connection that died while idle, before using it', async () => {
    const p = pool();
    try {
      await p.use((c) => c.request('PING'));
      const before = server.accepted;
      server.drop();
      await new Promise((r) => setTimeout(r, 50));
      assert.match(await p.use((c) => c.request('PING')), /^PONG/);
      assert.equal(server.accepted, before + 1, 'the dead one was checked and replaced');
    } finally {
      await p.close();
    }
  });

  it('passes other errors through at once, and gives up with a clear error when the server is gone', async () => {
    const p = pool();
    try {
      let calls = 0;
      await assert.rejects(
        p.use(async () => {
          calls += 1;
          throw new TypeError('bad request body');
        }),
        TypeError,
      );
      assert.equal(calls, 1, 'not a connection problem: no retry');
      let tries = 0;
      await assert.rejects(
        p.use(async () => {
          tries += 1;
          throw Object.assign(new Error('socket closed'), { code: 'ECONNRESET' });
        }),
        /gave up after 3 attempts: socket closed/,
      );
      assert.equal(tries, 3);
    } finally {
      await p.close();
    }
  });
});
