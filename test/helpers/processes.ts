import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { readyOrKill } from './ready-or-kill.js';
import { deferred } from './wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A jobcast CLI child process (`server/cli.ts` through tsx). */
export interface RoleProcess {
  child: ChildProcess;
  /** The URL it listens on (web, gateway, all), or null for a worker. */
  url: string | null;
  /** Every log line it printed so far. */
  lines: string[];
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `jobcast <role>` with `env` (and extra `node` flags); resolves once it logged that it is up. */
export async function startRole(role: string, env: Record<string, string>, timeoutMs = 30_000, nodeFlags: string[] = []): Promise<RoleProcess> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', 'server/cli.ts', role], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const up = deferred<string | null>();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let buffer = '';
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      lines.push(line);
      try {
        const entry = JSON.parse(line) as { url?: string; role?: string; msg?: string };
        if (entry.role === role && entry.url) up.resolve(entry.url);
        else if (entry.role === role && /running/.test(entry.msg ?? '')) up.resolve(null);
      } catch {
        // not a log line
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  void exited.then((code) => up.reject(new Error(`jobcast ${role} exited with ${code} before it was up:\n${lines.join('\n')}`)));
  const url = await readyOrKill(child, up.promise, timeoutMs, () => `jobcast ${role} was not up after ${timeoutMs} ms:\n${lines.join('\n')}`);
  return {
    child,
    url: url?.replace('localhost', '127.0.0.1') ?? null,
    lines,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
