/** The benchmark's markdown tables and its one-line JSON headline. */
import os from 'node:os';

import type { ConnectionsResult } from './connections.js';
import type { FanoutResult } from './fanout.js';
import { JOBS_WARMUP } from './jobs-run.js';
import type { Shapes } from './run.js';
import { STAGES, type StageTimes } from './stages.js';
import { APART_ROWS, type WatchedApart } from './watched-apart.js';

interface Results {
  jobs: Record<'bare' | 'jobcast' | 'watched', number[]>;
  /** Per watched run: how long after the last job the watcher had published every outcome, ms. */
  watchedLagMs: number[];
  /** Per bare and watched run: CPU µs per job of the BullMQ worker process, Redis and the watcher. */
  jobCpu: Record<'bare' | 'jobcast' | 'watched', { worker: number; redis: number; watcher: number }[]>;
  /** The watched-queue rows with the workers and the watcher on cores of their own. */
  apart: WatchedApart;
  fanouts: FanoutResult[];
  conns: ConnectionsResult[];
}

const of = <T extends { kind: string }>(list: T[], kind: string) => list.filter((r) => r.kind === kind);
/** a ÷ b, or null when b is 0 (the relay had no ramp step under 50 ms: nothing to divide by). */
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(b) ? Number((a / b).toFixed(2)) : null);

/**
 * The median over rounds of a ÷ b, each round's pair run back to back: on a shared machine
 * whose speed moves by half between rounds (seen: bare BullMQ 3,268 then 6,378 jobs/s), a
 * ratio of two best rounds compares different machines, a pair of neighbours the same one.
 */
function pairedRatio(a: number[], b: number[]): number | null {
  const ratios = a.map((v, i) => ratio(v, b[i] ?? 0)).filter((r): r is number => r !== null);
  if (ratios.length === 0) return null;
  const sorted = ratios.sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : Number(((sorted[mid - 1]! + sorted[mid]!) / 2).toFixed(2));
}

/** The worse round's p99 of each stage at the fixed rate, or null when `kind` did not run. */
function stagesP99(fanouts: FanoutResult[], kind: string): Record<string, number> | null {
  const runs = of(fanouts, kind)
    .map((f) => f.fixed.stages)
    .filter((s): s is StageTimes => s !== undefined);
  if (runs.length === 0) return null;
  return Object.fromEntries(STAGES.map((stage) => [stage, Math.max(...runs.map((r) => r[stage].p99))]));
}

/** The best round of a fixed-rate figure, or null when `kind` did not run. */
function best(fanouts: FanoutResult[], kind: string, figure: (f: FanoutResult) => number | undefined): number | null {
  const values = of(fanouts, kind)
    .map(figure)
    .filter((v): v is number => v !== undefined);
  return values.length ? Math.min(...values) : null;
}

export function headline({ jobs, watchedLagMs, apart, fanouts, conns }: Results) {
  const fixedCpu = (kind: string) => Math.min(...of(fanouts, kind).map((f) => f.fixed.cpuUsPerEvent));
  const delivered = (kind: string) => Math.max(...of(fanouts, kind).map((f) => f.bestDelivered));
  const jc = of(fanouts, 'jobcast');
  const jcConns = of(conns, 'jobcast')[0]!;
  return {
    // Both at the fixed rate, from the gateway processes' own CPU accounting; best round of each.
    ratio: ratio(fixedCpu('baseline'), fixedCpu('jobcast')),
    deliveredRatio: ratio(delivered('jobcast'), delivered('baseline')),
    lost:
      jc.reduce((a, f) => a + f.fixed.lost + f.ramp.reduce((b, w) => b + w.lost, 0) + (f.storm?.window.lost ?? 0), 0) +
      jcConns.steps.reduce((a, s) => a + s.lost, 0),
    // The worse round.
    p99Ms: Math.max(...jc.map((f) => f.fixed.p99)),
    p99BaselineMs: of(fanouts, 'baseline').length ? Math.max(...of(fanouts, 'baseline').map((f) => f.fixed.p99)) : null,
    // The bare `ws` fan-out's gateway CPU per delivered event: what Node itself costs.
    floorUsPerDelivery: best(fanouts, 'floor', (f) => f.fixed.cpuUsPerEvent),
    // Per published event at the fixed rate: Redis command time (INFO commandstats).
    redisUsPerEvent: { baseline: best(fanouts, 'baseline', (f) => f.fixed.redisUsPerEvent), jobcast: best(fanouts, 'jobcast', (f) => f.fixed.redisUsPerEvent) },
    // Per event a client handler received: CPU of the client processes (socket.io-client, jobcast's client).
    clientCpuUsPerEvent: {
      baseline: best(fanouts, 'baseline', (f) => f.fixed.clientCpuUsPerEvent),
      jobcast: best(fanouts, 'jobcast', (f) => f.fixed.clientCpuUsPerEvent),
    },
    stagesP99: { baseline: stagesP99(fanouts, 'baseline'), jobcast: stagesP99(fanouts, 'jobcast'), floor: stagesP99(fanouts, 'floor') },
    kbPerConn: jcConns.kbPerConn,
    jobsRatio: pairedRatio(jobs.jobcast, jobs.bare),
    // Workers and their Redis on one core, the watcher and jobcast's Redis on the other (when it could pin).
    watchedRatio: pairedRatio(apart.jobsPerSec.watched, apart.jobsPerSec.bare),
    // The same with a reader that only reads the queue's event stream: the least a watcher can cost.
    watchedFloorRatio: pairedRatio(apart.jobsPerSec.floor, apart.jobsPerSec.bare),
    watchedLagMs: Math.max(...apart.lagMs.watched),
    // The same, a read-only replica of the queue's Redis attached in both rows, the watcher reading from it.
    watchedReplicaRatio: pairedRatio(apart.jobsPerSec.watchedReplica, apart.jobsPerSec.bareReplica),
    watchedReplicaLagMs: Math.max(...apart.lagMs.watchedReplica),
    // Everything on the same two cores and one Redis.
    watchedSharedRatio: pairedRatio(jobs.watched, jobs.bare),
    watchedSharedLagMs: Math.max(...watchedLagMs),
    stormLostBaseline: of(fanouts, 'baseline').reduce((a, f) => a + (f.storm?.window.lost ?? 0), 0),
    connectionsHeld: jcConns.held,
    // The Pusher path (pusher-js clients) against jobcast's socket.io path, when it ran.
    ...(of(fanouts, 'pusher').length
      ? { pusherCpuUsPerEvent: fixedCpu('pusher'), socketIoCpuUsPerEvent: fixedCpu('jobcast'), pusherKbPerConn: of(conns, 'pusher')[0]?.kbPerConn ?? null }
      : {}),
  };
}

const fixedCpuOf = (fanouts: FanoutResult[], kind: string) => Math.min(...of(fanouts, kind).map((f) => f.fixed.cpuUsPerEvent));

export function report(shapes: Shapes, results: Results & { seconds: number }): string {
  const { jobs, watchedLagMs, jobCpu, apart, fanouts, conns } = results;
  const f = shapes.fanout;
  const c = shapes.connections;
  const h = headline(results);
  const cpus = os.cpus();
  const lines = [
    `## jobcast vs the hand-written relay (${shapes.quick ? 'quick' : 'full'} run, ${results.seconds} s)`,
    '',
    `Machine: ${cpus.length} × ${cpus[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}. Everything on loopback, one Redis.`,
    '',
    `### 1. Fan-out: ${f.clients} clients on ${f.channels} job channels, ${f.rate} progress events/s for ${f.durationMs / 1000} s, after ${f.warmUpMs / 1000} s at that rate not counted (JIT warm-up)`,
    '',
    '| relay | delivered/s | p50 ms | p99 ms | max ms | lost | duplicated | gateway CPU µs per delivered event | client CPU µs per received event | Redis command µs per published event | Redis CPU µs per published event |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...fanouts.map(
      ({ kind, fixed: w }) =>
        `| ${kind} | ${w.deliveredPerSec} | ${w.p50} | ${w.p99} | ${w.max} | ${w.lost} | ${w.duplicated} | ${w.cpuUsPerEvent} | ${w.clientCpuUsPerEvent ?? '–'} | ${w.redisUsPerEvent ?? '–'} | ${w.redisCpuUsPerEvent ?? '–'} |`,
    ),
    '',
    `Where the time goes at ${f.rate} events/s, ms as p50 / p99, from every ${'4th'} event of each channel (test/bench/stages.ts): publish call → Redis reply; Redis → gateway receive (Redis's moment taken as the midpoint of the publisher's round trip); gateway receive → its last socket write of the event; that write → the client's handler; and the whole path.`,
    '',
    `| relay | ${STAGES.join(' | ')} |`,
    `| --- | ${STAGES.map(() => '---').join(' | ')} |`,
    ...fanouts
      .filter((r) => r.fixed.stages)
      .map(
        ({ kind, fixed: w }) =>
          `| ${kind} | ${STAGES.map((stage) => (w.stages![stage].n ? `${w.stages![stage].p50} / ${w.stages![stage].p99}` : '–')).join(' | ')} |`,
      ),
    '',
    `Ramp (${f.rampMs / 1000} s per step, stops once p99 ≥ 50 ms or under 95% delivered): published events/s → delivered/s, p99.`,
    '',
    '| relay | steps | best delivered/s with p99 < 50 ms |',
    '| --- | --- | --- |',
    ...fanouts.map(
      (r) =>
        `| ${r.kind} | ${r.ramp.map((w) => `${w.rate} → ${w.deliveredPerSec} (${w.p99} ms${w.lost ? `, ${w.lost} lost` : ''}${w.conflated ? `, ${w.conflated} conflated` : ''})`).join(' · ')} | ${r.bestDelivered} |`,
    ),
    '',
    `### 2. Jobs: ${shapes.jobs} BullMQ jobs with 10 progress updates each, worker concurrency 50, after ${JOBS_WARMUP} through the same worker not counted (JIT warm-up)`,
    '',
    '| runner | jobs/s |',
    '| --- | --- |',
    `| bare BullMQ (job.updateProgress) | ${jobs.bare.join(' / ')} |`,
    `| jobcast (ctx.progress, published to subscribers) | ${jobs.jobcast.join(' / ')} |`,
    `| bare BullMQ, its queue watched by jobcast in another process, everything on the same cores and Redis (every event published; last outcome published ${watchedLagMs.join(' / ')} ms after the last job) | ${jobs.watched.join(' / ')} |`,
    '',
    'CPU µs per job while the jobs ran (test/bench/jobs.ts `cpuMs`): the bare BullMQ workers do the same work with or without a watcher; what a watched run adds is the watcher and its Redis time, on the same cores. The jobcast row is its worker process (running the jobs and relaying their outcomes) and Redis.',
    '',
    '| run | worker process | Redis | watcher |',
    '| --- | --- | --- | --- |',
    ...(['bare', 'jobcast', 'watched'] as const).flatMap((kind) =>
      jobCpu[kind].map((c) => `| ${kind} | ${c.worker} | ${c.redis} | ${kind === 'watched' ? c.watcher : '–'} |`),
    ),
    '',
    `#### Watched queues apart: ${apart.jobs} bare BullMQ jobs (after ${JOBS_WARMUP} not counted), ${apart.pinned ? 'the workers and their Redis on core 0, the watcher (or reader) and jobcast’s Redis on core 1' : 'unpinned (no taskset or one core): the workers, the watcher and both Redis share the cores'}`,
    '',
    'bare: no watcher; floor: a reader that only reads the queue’s event stream as the watcher does (1,000 a read, its position kept in jobcast’s Redis) and publishes nothing, the least any watcher reading the stream can cost the queue’s Redis; watched: jobcast publishing every event to job channels in its own Redis. bareReplica and watchedReplica: the same with a read-only replica of the queue’s Redis attached (on core 1), the watcher reading the stream and the job hashes there (`replica`).',
    '',
    '| run | jobs/s | last outcome published after the last job, ms | µs per job: workers · queue’s Redis · watcher/reader · jobcast’s Redis |',
    '| --- | --- | --- | --- |',
    ...APART_ROWS.map((kind) => {
      const watched = kind === 'watched' || kind === 'watchedReplica';
      return `| ${kind} | ${apart.jobsPerSec[kind].join(' / ')} | ${watched ? apart.lagMs[kind].join(' / ') : '–'} | ${apart.cpu
        .filter((c) => c.kind === kind)
        .map((c) => `${c.worker} · ${c.redis} · ${kind.startsWith('bare') ? '–' : c.watcher} · ${watched ? c.channelRedis : '–'}`)
        .join(' / ')} |`;
    }),
    '',
    `### 3 and 5. Connections: ${c.steps.join(', ')} subscribed clients, 1 event/s each; idle RSS measured at ${c.memoryAt}`,
    '',
    '| relay | gateway KB per idle connection | connections → p99 ms | most held with p99 < 100 ms |',
    '| --- | --- | --- | --- |',
    ...conns.map(
      (r) =>
        `| ${r.kind} | ${r.kbPerConn} | ${r.steps.map((s) => `${s.connections} → ${s.p99}${s.lost ? ` (${s.lost} lost)` : ''}`).join(' · ')} | ${r.held} |`,
    ),
    '',
    `### 4. Reconnect storm: ${f.storm.clients} clients dropped at once, ${f.storm.rate} events/s flowing`,
    '',
    '| relay | dropped | catch-up p50 ms | catch-up p99 ms | not caught up after 30 s | events lost | duplicated |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...fanouts.flatMap(({ kind, storm: s }) =>
      (s ? [s] : []).map((s) => `| ${kind} | ${s.dropped} | ${s.catchUpP50} | ${s.catchUpP99} | ${s.stuck} | ${s.window.lost} | ${s.window.duplicated} |`),
    ),
    '',
    '### Targets',
    '',
    '| measure | target | measured |',
    '| --- | --- | --- |',
    `| ratio (baseline gateway CPU per event ÷ jobcast's) | ≥ 2 | ${h.ratio} |`,
    `| deliveredRatio (highest delivered/s with p99 < 50 ms) | ≥ 1.2 | ${h.deliveredRatio ?? `– (the relay had no window under 50 ms; jobcast ${Math.max(...of(fanouts, 'jobcast').map((f) => f.bestDelivered))})`} |`,
    `| lost (jobcast, every scenario) | 0 | ${h.lost} |`,
    `| p99Ms at ${f.rate} events/s | ≤ the relay's, same run (${h.p99BaselineMs ?? '–'}) | ${h.p99Ms} |`,
    `| gateway CPU µs per delivery against the floor (bare ws, same run: ${h.floorUsPerDelivery ?? '–'}) | within 20% if ratio < 2 | ${h.floorUsPerDelivery ? `${ratio(fixedCpuOf(fanouts, 'jobcast'), h.floorUsPerDelivery)}× the floor` : '–'} |`,
    `| kbPerConn | ≤ 8 | ${h.kbPerConn} |`,
    `| jobsRatio (jobcast ÷ bare BullMQ, the median of ${jobs.bare.length} rounds run back to back) | ≥ 0.9 | ${h.jobsRatio} |`,
    `| watchedRatio (watched bare BullMQ ÷ bare BullMQ, apart; the floor's: ${h.watchedFloorRatio}; all shared: ${h.watchedSharedRatio}) | ≥ 0.95 | ${h.watchedRatio} |`,
    `| watchedReplicaRatio (the same, read from a replica attached in both rows) | ≥ 0.95 | ${h.watchedReplicaRatio} |`,
    `| connections held by one gateway, p99 < 100 ms (tried up to ${Math.max(...c.steps)}) | 10000 | ${h.connectionsHeld} |`,
  ];
  return lines.join('\n');
}
