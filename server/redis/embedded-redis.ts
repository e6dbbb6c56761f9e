import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Raised when jobcast needs a Redis and none can be found or started. */
export class NoRedisError extends Error {
  constructor() {
    super(
      'jobcast needs Redis: none answers on 127.0.0.1:6379 and there is no redis-server on PATH. ' +
        'Install one (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL=redis://host:6379',
    );
    this.name = 'NoRedisError';
  }
}

/** A private redis-server child process with its own temp dir. */
export interface EmbeddedRedis {
  url: string;
  port: number;
  /** Stops the server and removes its temp dir; safe to call twice. */
  stop(): Promise<void>;
}

/** The full path of `redis-server` on PATH, or `null`. */
export function findRedisServer(path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when something answers PING with PONG on host:port within `timeoutMs`. */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/**
 * Starts `redis-server` on a free loopback port with nothing kept on disk. Resolves once it
 * answers PING. Call `stop()` on exit (the CLI does, on every signal it can catch).
 */
export async function startEmbeddedRedis(options: { port?: number; binary?: string } = {}): Promise<EmbeddedRedis> {
  const binary = options.binary ?? findRedisServer();
  if (!binary) throw new NoRedisError();
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'jobcast-redis-'));
  const child: ChildProcess = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers('127.0.0.1', port, 200))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start on port ${port}: ${stderr.trim() || 'no output'}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        await exited;
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/**
 * The zero-configuration rule: `REDIS_URL` if set; else the Redis on 127.0.0.1:6379 if one
 * answers; else a private redis-server. `stop` is a no-op unless we started one.
 */
export async function resolveRedis(redisUrl: string | undefined, probePort = 6379): Promise<{ url: string; embedded: EmbeddedRedis | null }> {
  if (redisUrl) return { url: redisUrl, embedded: null };
  if (await redisAnswers('127.0.0.1', probePort)) return { url: `redis://127.0.0.1:${probePort}`, embedded: null };
  const embedded = await startEmbeddedRedis();
  return { url: embedded.url, embedded };
}
