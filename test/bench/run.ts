/**
 * `npm run bench [-- --quick]`: jobcast's gateway against the hand-written relay, in the same
 * run, each in its own processes (gateway, clients, publisher), on one Redis, loopback only.
 *
 * Measured now: scenario 1 at the fixed rate (delivered events/s, latency p50/p99/max from the
 * publish call to the client's handler, lost and duplicated events, gateway CPU per delivered
 * event from the gateway process's own accounting), scenario 2 (jobs/s, bare BullMQ against
 * jobcast's runner) and scenario 3 (gateway RSS per subscribed connection). Not yet: the ramp,
 * the reconnect storm, 10,000 connections.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TokenSigner } from '../../server/tokens.js';
import { startRole } from '../helpers/processes.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const quick = process.argv.includes('--quick');
const CLIENTS = quick ? 500 : 1000;
const CHANNELS = 100;
const RATE = 2000;
const DURATION_MS = quick ? 4000 : 10_000;
const SECRET = 'bench-secret-0123456789abcdef';
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime+stime, in clock ticks of 10 ms
};
const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

function message<T>(child: ChildProcess, predicate: (m: T) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: T) => {
      if (predicate(m)) {
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
  });
}

interface Result {
  kind: string;
  deliveredPerSec: number;
  p50: number;
  p99: number;
  max: number;
  lost: number;
  duplicated: number;
  cpuUsPerEvent: number;
  kbPerConn: number;
}

async function scenario(kind: 'baseline' | 'jobcast', redisUrl: string): Promise<Result> {
  const prefix = uniquePrefix('bench');
  let gatewayPid: number;
  let url: string;
  let stopGateway: () => Promise<unknown>;
  if (kind === 'baseline') {
    const child = spawn(process.execPath, ['--import', 'tsx', here('./baseline-relay.ts')], { env: { ...process.env, REDIS_URL: redisUrl, BENCH_PREFIX: prefix }, stdio: ['ignore', 'pipe', 'inherit'] });
    url = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { url: string }).url)));
    gatewayPid = child.pid!;
    stopGateway = async () => child.kill('SIGTERM');
  } else {
    const gateway = await startRole('gateway', { REDIS_URL: redisUrl, JOBCAST_PREFIX: prefix, JOBCAST_SECRET: SECRET, JOBCAST_DEMO: '0', JOBCAST_MAX_CONNECTIONS_PER_IP: '100000' });
    url = gateway.url!;
    gatewayPid = gateway.child.pid!;
    stopGateway = () => gateway.stop();
  }
  await new Promise((r) => setTimeout(r, 500));
  const rssBefore = rssKb(gatewayPid);
  const signer = new TokenSigner(SECRET);
  const tokens = await Promise.all(Array.from({ length: CHANNELS }, (_, c) => signer.sign({ channels: [`job:bench-${c}`], ttlSeconds: 3600 })));
  const clients = fork(here('./clients.ts'), [kind, url, String(CLIENTS), String(CHANNELS), JSON.stringify(tokens)], { execArgv: ['--import', 'tsx'] });
  await message<{ ready?: boolean }>(clients, (m) => Boolean(m.ready));
  await new Promise((r) => setTimeout(r, 500));
  const kbPerConn = (rssKb(gatewayPid) - rssBefore) / CLIENTS;

  clients.send({ cmd: 'reset' });
  await message<{ ok?: boolean }>(clients, (m) => Boolean(m.ok));
  const cpuBefore = cpuMs(gatewayPid);
  const publisher = spawn(process.execPath, ['--import', 'tsx', here('./publisher.ts'), kind, redisUrl, prefix, String(CHANNELS), String(RATE), String(DURATION_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const published = await new Promise<{ sent: number; perChannel: number[] }>((resolve) => publisher.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()))));
  await new Promise((r) => setTimeout(r, 1000)); // let the last events arrive
  const cpuUsed = cpuMs(gatewayPid) - cpuBefore;
  clients.send({ cmd: 'stats' });
  const stats = await message<{ latencies: number[]; perClient: { n: number; unique: number }[] }>(clients, (m) => 'latencies' in m);
  clients.send({ cmd: 'close' });
  await stopGateway();
  await deleteKeys(redisUrl, prefix);

  const clientsPerChannel = CLIENTS / CHANNELS;
  const expected = published.perChannel.reduce((a, n) => a + n * clientsPerChannel, 0);
  const delivered = stats.perClient.reduce((a, c) => a + c.unique, 0);
  const duplicated = stats.perClient.reduce((a, c) => a + c.n - c.unique, 0);
  const sorted = stats.latencies.sort((a, b) => a - b);
  return {
    kind,
    deliveredPerSec: Math.round(delivered / (DURATION_MS / 1000)),
    p50: pct(sorted, 0.5),
    p99: pct(sorted, 0.99),
    max: sorted.at(-1) ?? 0,
    lost: Math.max(0, expected - delivered),
    duplicated,
    cpuUsPerEvent: Number(((cpuUsed * 1000) / Math.max(1, delivered)).toFixed(2)),
    kbPerConn: Number(kbPerConn.toFixed(1)),
  };
}

async function jobsScenario(kind: 'bare' | 'jobcast', redisUrl: string): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', here('./jobs.ts'), kind, redisUrl, String(quick ? 2000 : 5000)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString())));
  return (JSON.parse(line) as { jobsPerSec: number }).jobsPerSec;
}

const redisUrl = await testRedisUrl();
const jobRates: Record<string, number[]> = { bare: [], jobcast: [] };
for (const kind of quick ? (['bare', 'jobcast'] as const) : (['bare', 'jobcast', 'bare', 'jobcast'] as const)) {
  jobRates[kind]!.push(await jobsScenario(kind, redisUrl));
}
const results: Result[] = [];
// Alternate, so drift on a shared machine hits both alike.
for (const kind of quick ? (['baseline', 'jobcast'] as const) : (['baseline', 'jobcast', 'baseline', 'jobcast'] as const)) {
  results.push(await scenario(kind, redisUrl));
}
const best = (kind: string) => {
  const rs = results.filter((r) => r.kind === kind);
  return rs.reduce((a, b) => (b.cpuUsPerEvent < a.cpuUsPerEvent ? b : a));
};
const base = best('baseline');
const jc = best('jobcast');
const table = [
  `Fan-out: ${CLIENTS} clients on ${CHANNELS} channels, ${RATE} progress events/s for ${DURATION_MS / 1000} s (${quick ? 'quick' : 'full'} run)`,
  '',
  '| relay | delivered/s | p50 ms | p99 ms | max ms | lost | duplicated | gateway CPU µs/event | gateway KB/connection |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...results.map((r) => `| ${r.kind} | ${r.deliveredPerSec} | ${r.p50} | ${r.p99} | ${r.max} | ${r.lost} | ${r.duplicated} | ${r.cpuUsPerEvent} | ${r.kbPerConn} |`),
].join('\n');
const bestRate = (kind: string) => Math.max(...jobRates[kind]!);
const jobsTable = [
  '',
  `Jobs: ${quick ? 2000 : 5000} BullMQ jobs with 10 progress updates each, worker concurrency 50`,
  '',
  '| runner | jobs/s |',
  '| --- | --- |',
  `| bare BullMQ (job.updateProgress) | ${jobRates.bare!.join(' / ')} |`,
  `| jobcast (ctx.progress, published to subscribers) | ${jobRates.jobcast!.join(' / ')} |`,
].join('\n');
console.log(table + '\n' + jobsTable);
writeFileSync('bench-results.md', table + '\n' + jobsTable + '\n');
console.log(
  JSON.stringify({
    ratio: Number((base.cpuUsPerEvent / jc.cpuUsPerEvent).toFixed(2)),
    deliveredRatio: null,
    lost: results.filter((r) => r.kind === 'jobcast').reduce((a, r) => a + r.lost, 0),
    p99Ms: jc.p99,
    kbPerConn: jc.kbPerConn,
    jobsRatio: Number((bestRate('jobcast') / bestRate('bare')).toFixed(2)),
    notMeasured: ['ramp to the highest rate (deliveredRatio)', 'reconnect storm', '10,000 connections'],
  }),
);
process.exit(0);
