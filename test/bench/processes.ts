/**
 * The benchmark's processes: a gateway (jobcast's real `gateway` role or the hand-written
 * relay), groups of client processes, and publisher runs; and what the kernel says about them.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { TokenSigner } from '../../server/tokens.js';
import { startRole } from '../helpers/processes.js';
import { deleteKeys, uniquePrefix } from '../helpers/redis.js';

/**
 * The hand-written relay, jobcast's socket.io path, pusher-js clients on jobcast's Pusher path,
 * and the floor: a bare `ws` fan-out of one pre-built frame (`floor-gateway.ts`).
 */
export type Kind = 'baseline' | 'jobcast' | 'pusher' | 'floor';
export const SECRET = 'bench-secret-0123456789abcdef';
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** CPU time (user + system) the process has used, in ms. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
}

export const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
export const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The next IPC message from `child` that satisfies `predicate`. */
export function message<T>(child: ChildProcess, predicate: (m: T) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`bench process exited with ${code}`));
    const on = (m: T) => {
      if (!predicate(m)) return;
      child.off('message', on);
      child.off('exit', onExit);
      resolve(m);
    };
    child.on('message', on);
    child.once('exit', onExit);
  });
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      child.stdout!.off('data', onData);
      resolve(buffer.slice(0, newline));
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`bench process exited with ${code} before it printed`)));
  });
}

export interface BenchGateway {
  url: string;
  pid: number;
  /** Where the gateway's stage probe writes (see server/gateway/stage-probe.ts). */
  stagesFile: string;
  stop(): Promise<unknown>;
}

/**
 * `BENCH_PROFILE=dir npm run bench`: every gateway writes a V8 CPU profile into `dir` as it
 * stops; `BENCH_PROFILE_CLIENTS=dir` does the same for the client processes.
 */
const profileFlags = (dir: string | undefined) => (dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []);
const profile = profileFlags(process.env.BENCH_PROFILE);

export async function startGateway(kind: Kind, redisUrl: string, prefix: string): Promise<BenchGateway> {
  const stagesFile = join(tmpdir(), `jobcast-bench-stages-${prefix.replace(/\W/g, '_')}.txt`);
  rmSync(stagesFile, { force: true });
  const removeStages = () => rmSync(stagesFile, { force: true });
  if (kind === 'baseline' || kind === 'floor') {
    const script = kind === 'baseline' ? './baseline-relay.ts' : './floor-gateway.ts';
    const child = spawn(process.execPath, [...profile, '--import', 'tsx', here(script)], {
      env: { ...process.env, REDIS_URL: redisUrl, BENCH_PREFIX: prefix, JOBCAST_STAGE_PROBE: stagesFile },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const { url } = JSON.parse(await firstLine(child)) as { url: string };
    const exited = new Promise((resolve) => child.once('exit', resolve));
    return { url, pid: child.pid!, stagesFile, stop: () => (child.kill('SIGTERM'), exited.finally(removeStages)) };
  }
  const gateway = await startRole(
    'gateway',
    {
      REDIS_URL: redisUrl,
      JOBCAST_PREFIX: prefix,
      JOBCAST_SECRET: SECRET,
      JOBCAST_DEMO: '0',
      JOBCAST_MAX_CONNECTIONS_PER_IP: '100000',
      JOBCAST_STAGE_PROBE: stagesFile,
    },
    30_000,
    profile,
  );
  return { url: gateway.url!, pid: gateway.child.pid!, stagesFile, stop: () => gateway.stop().finally(removeStages) };
}

/** A sampled event as one end saw it: channel, offset (or the relay's seq), wall-clock ms. */
export type StageSample = [channel: string, key: number, at: number];

interface ClientStats {
  latencies: number[];
  /** When a client's handler ran, for sampled events (see stages.ts). */
  samples: StageSample[];
  perClient: { channel: number; n: number; unique: number; conflated: number; caughtUpAt: number | null }[];
}

/** Client processes of up to 2,500 connections each, driven together. */
export class ClientGroup {
  readonly #children: ChildProcess[] = [];
  #opened = 0;

  constructor(
    readonly kind: Kind,
    readonly channels: number,
    readonly tokens: string[],
  ) {}

  get size(): number {
    return this.#opened;
  }

  /** The client processes, for their CPU time. */
  get pids(): number[] {
    return this.#children.map((child) => child.pid!);
  }

  /** Opens `count` more connections to `url`, spread over the channels after the ones open. */
  async add(url: string, count: number): Promise<void> {
    const starts: Promise<unknown>[] = [];
    for (let done = 0; done < count; done += 2500) {
      const n = Math.min(2500, count - done);
      const args = [this.kind, url, String(n), String(this.#opened + done), String(this.channels), JSON.stringify(this.tokens)];
      const child = fork(here('./clients.ts'), args, { execArgv: [...profileFlags(process.env.BENCH_PROFILE_CLIENTS), '--import', 'tsx'] });
      this.#children.push(child);
      starts.push(
        message<{ ready?: boolean; error?: string }>(child, (m) => Boolean(m.ready || m.error)).then((m) => {
          if (m.error) throw new Error(`bench clients failed to connect: ${m.error}`);
        }),
      );
    }
    await Promise.all(starts);
    this.#opened += count;
  }

  async #all<T>(command: object, predicate: (m: T) => boolean): Promise<T[]> {
    return Promise.all(
      this.#children.map((child) => {
        const reply = message<T>(child, predicate);
        child.send(command);
        return reply;
      }),
    );
  }

  /** Starts a measured window: events with sequence numbers at or below `base` are ignored. */
  async reset(base: number): Promise<void> {
    await this.#all<{ ok?: boolean }>({ cmd: 'reset', base }, (m) => Boolean(m.ok));
  }

  async arm(at: number): Promise<void> {
    await this.#all<{ ok?: boolean }>({ cmd: 'arm', at }, (m) => Boolean(m.ok));
  }

  async stats(): Promise<ClientStats> {
    const replies = await this.#all<ClientStats>({ cmd: 'stats' }, (m) => 'latencies' in m);
    return { latencies: replies.flatMap((r) => r.latencies), samples: replies.flatMap((r) => r.samples), perClient: replies.flatMap((r) => r.perClient) };
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#children.splice(0).map((child) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.send({ cmd: 'close' });
        return exited;
      }),
    );
  }
}

export interface PublishRun {
  sent: number;
  perChannel: number[];
  samples: [channel: string, key: number, calledAt: number, repliedAt: number][];
}

/** A publisher process kept for a whole scenario (its start-up stays out of every window). */
export class Publisher {
  private constructor(readonly child: ChildProcess) {}

  static async start(kind: Kind, redisUrl: string, prefix: string, channels: number): Promise<Publisher> {
    const child = fork(here('./publisher.ts'), [kind, redisUrl, prefix, String(channels)], { execArgv: ['--import', 'tsx'] });
    await message<{ ready?: boolean }>(child, (m) => Boolean(m.ready));
    return new Publisher(child);
  }

  /**
   * `rate` events/s for `durationMs`; resolves once all were acknowledged by Redis, with the
   * call and reply times of sampled events (`[channel, key, calledAt, repliedAt]`).
   */
  async run(rate: number, durationMs: number, seqBase: number): Promise<PublishRun> {
    const reply = message<PublishRun>(this.child, (m) => 'sent' in m);
    this.child.send({ rate, durationMs, seqBase });
    return reply;
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ cmd: 'close' });
    await exited;
  }
}

/** One subscribe token per bench channel `job:bench-<n>`. */
export function channelTokens(channels: number): Promise<string[]> {
  const signer = new TokenSigner(SECRET);
  return Promise.all(Array.from({ length: channels }, (_, c) => signer.sign({ channels: [`job:bench-${c}`], ttlSeconds: 3600 })));
}

/** A gateway, a publisher and (not yet connected) clients of one kind, on a key prefix of their own. */
export async function startRig(kind: Kind, redisUrl: string, channels: number) {
  const prefix = uniquePrefix('bench');
  const gateway = await startGateway(kind, redisUrl, prefix);
  const tokens = await channelTokens(channels);
  const publisher = await Publisher.start(kind, redisUrl, prefix, channels);
  const clients = new ClientGroup(kind, channels, tokens);
  return {
    gateway,
    tokens,
    publisher,
    clients,
    async close() {
      await clients.close();
      await publisher.close();
      await gateway.stop();
      await deleteKeys(redisUrl, prefix);
    },
  };
}
