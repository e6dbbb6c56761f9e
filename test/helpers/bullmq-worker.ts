import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { readyOrKill } from './ready-or-kill.js';
import { deferred } from './wait.js';

const SCRIPT = fileURLToPath(new URL('../fixtures/bullmq-worker.mjs', import.meta.url));

/** A plain BullMQ worker process (test/fixtures/bullmq-worker.mjs): no jobcast in it. */
export interface BullWorkerProcess {
  child: ChildProcess;
  lines: string[];
  /** SIGTERM (BullMQ's graceful close) or SIGKILL; resolves when it exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the worker on `queue` and resolves once BullMQ says it is ready. */
export async function startBullWorker(
  env: { REDIS_URL: string; QUEUE: string; BULL_PREFIX?: string; STALLED_MS?: string; CANCELLABLE?: string },
  timeoutMs = 15_000,
): Promise<BullWorkerProcess> {
  const child = spawn(process.execPath, [SCRIPT], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const ready = deferred();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      lines.push(line);
      if (line === 'ready') ready.resolve();
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  void exited.then(() => ready.reject(new Error(`the BullMQ worker exited before it was ready:\n${lines.join('\n')}`)));
  await readyOrKill(child, ready.promise, timeoutMs, () => `the BullMQ worker was not ready after ${timeoutMs} ms`);
  return {
    child,
    lines,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
