import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { findRedisServer, freePort, redisAnswers } from '../../server/redis/embedded-redis.js';

const run = promisify(execFile);

/** A three-master Redis Cluster on free loopback ports, made with redis-cli --cluster create. */
export class OwnRedisCluster {
  readonly ports: number[] = [];
  #children: ChildProcess[] = [];
  #dir = '';

  get nodes(): string[] {
    return this.ports.map((p) => `127.0.0.1:${p}`);
  }

  async start(masters = 3): Promise<this> {
    const binary = findRedisServer();
    if (!binary) throw new Error('redis-server is not on PATH');
    this.#dir = await mkdtemp(join(tmpdir(), 'jobcast-cluster-'));
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      this.ports.push(port);
      const dir = join(this.#dir, String(port));
      await run('mkdir', ['-p', dir]);
      this.#children.push(
        spawn(
          binary,
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--dir',
            dir,
            '--save',
            '',
            '--appendonly',
            'no',
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of this.ports) {
      const deadline = Date.now() + 10_000;
      while (!(await redisAnswers('127.0.0.1', port, 200))) {
        if (Date.now() > deadline) throw new Error(`cluster node ${port} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await run('redis-cli', ['--cluster', 'create', ...this.nodes, '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const states = await Promise.all(this.ports.map((p) => run('redis-cli', ['-p', String(p), 'cluster', 'info']).then((r) => r.stdout)));
      if (states.every((s) => s.includes('cluster_state:ok'))) break;
      if (Date.now() > deadline) throw new Error('the cluster did not become ok');
      await new Promise((r) => setTimeout(r, 100));
    }
    return this;
  }

  async destroy(): Promise<void> {
    await Promise.all(
      this.#children.map((child) => {
        if (child.exitCode !== null) return Promise.resolve();
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        return exited;
      }),
    );
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}
