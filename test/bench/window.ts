/**
 * One measured window: publish at a rate for a while, let the last events arrive, and count
 * what the clients got against what was published on their channels.
 */
import type { BenchRedis } from './own-redis.js';
import { type BenchGateway, type ClientGroup, cpuMs, pct, type Publisher, sleep } from './processes.js';
import { type StageTimes, stageTimes } from './stages.js';

export interface WindowResult {
  rate: number;
  deliveredPerSec: number;
  p50: number;
  p99: number;
  max: number;
  /** Events a client should have had and never got (conflated progress not counted). */
  lost: number;
  duplicated: number;
  /** Progress replaced by a newer one for a client that fell behind (jobcast only). */
  conflated: number;
  cpuUsPerEvent: number;
  /** CPU of the client processes per event their handlers received (the client library's cost). */
  clientCpuUsPerEvent?: number;
  /** Per published event: Redis's own command time (`INFO commandstats`) and its process CPU. */
  redisUsPerEvent?: number;
  redisCpuUsPerEvent?: number;
  stages?: StageTimes;
}

let windows = 0;
let redis: BenchRedis | null = null;

/** The Redis whose command time and CPU every window reports. */
export function observeRedis(observed: BenchRedis): void {
  redis = observed;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const perEvent = (ms: number, events: number) => Number(((ms * 1000) / Math.max(1, events)).toFixed(2));

/** A fresh range of sequence numbers for each window, so late events of one never count in the next. */
export const nextSeqBase = () => ++windows * 10_000_000;

export async function measureWindow(
  gateway: BenchGateway,
  clients: ClientGroup,
  publisher: Publisher,
  rate: number,
  durationMs: number,
  settleMs = 500,
): Promise<WindowResult> {
  const seqBase = nextSeqBase();
  await clients.reset(seqBase);
  const cpuBefore = cpuMs(gateway.pid);
  const clientPids = clients.pids;
  const clientCpuBefore = sum(clientPids.map(cpuMs));
  const redisPid = redis?.pid ?? null;
  const redisCpuBefore = redisPid ? cpuMs(redisPid) : 0;
  const redisUsBefore = redisPid ? await redis!.commandUs() : { scripts: 0, publish: 0 };
  const published = await publisher.run(rate, durationMs, seqBase);
  await sleep(settleMs);
  const cpuUsed = cpuMs(gateway.pid) - cpuBefore;
  const clientCpu = sum(clientPids.map(cpuMs)) - clientCpuBefore;
  const redisCpu = redisPid ? cpuMs(redisPid) - redisCpuBefore : 0;
  // Measured before the stats round trip below, which costs Redis nothing but takes time.
  const redisUsAfter = redisPid ? await redis!.commandUs() : redisUsBefore;
  const scriptsUs = redisUsAfter.scripts - redisUsBefore.scripts;
  const redisUs = scriptsUs > 0 ? scriptsUs : redisUsAfter.publish - redisUsBefore.publish;
  const stats = await clients.stats();
  const result = summarise(rate, durationMs, published.perChannel, stats, cpuUsed);
  result.clientCpuUsPerEvent = perEvent(clientCpu, stats.latencies.length);
  if (redisPid) {
    result.redisUsPerEvent = Number((redisUs / Math.max(1, published.sent)).toFixed(2));
    result.redisCpuUsPerEvent = perEvent(redisCpu, published.sent);
  }
  result.stages = stageTimes(published.samples, gateway.stagesFile, stats.samples);
  return result;
}

export function summarise(
  rate: number,
  durationMs: number,
  perChannel: number[],
  stats: Awaited<ReturnType<ClientGroup['stats']>>,
  cpuUsed: number,
): WindowResult {
  let delivered = 0;
  let lost = 0;
  let duplicated = 0;
  let conflated = 0;
  for (const client of stats.perClient) {
    delivered += client.unique;
    duplicated += client.n - client.unique;
    conflated += client.conflated;
    lost += Math.max(0, perChannel[client.channel]! - client.unique - client.conflated);
  }
  const sorted = stats.latencies.sort((a, b) => a - b);
  return {
    rate,
    deliveredPerSec: Math.round(delivered / (durationMs / 1000)),
    p50: pct(sorted, 0.5),
    p99: pct(sorted, 0.99),
    max: sorted.at(-1) ?? 0,
    lost,
    duplicated,
    conflated,
    cpuUsPerEvent: Number(((cpuUsed * 1000) / Math.max(1, delivered)).toFixed(2)),
  };
}
