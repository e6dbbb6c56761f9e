/**
 * One measured window: publish at a rate for a while, let the last events arrive, and count
 * what the clients got against what was published on their channels.
 */
import { cpuMs, pct, sleep, type ClientGroup, type Publisher } from './processes.js';

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
}

let windows = 0;

/** A fresh range of sequence numbers for each window, so late events of one never count in the next. */
export const nextSeqBase = () => ++windows * 10_000_000;

export async function measureWindow(gatewayPid: number, clients: ClientGroup, publisher: Publisher, rate: number, durationMs: number, settleMs = 500): Promise<WindowResult> {
  const seqBase = nextSeqBase();
  await clients.reset(seqBase);
  const cpuBefore = cpuMs(gatewayPid);
  const published = await publisher.run(rate, durationMs, seqBase);
  await sleep(settleMs);
  const cpuUsed = cpuMs(gatewayPid) - cpuBefore;
  const stats = await clients.stats();
  return summarise(rate, durationMs, published.perChannel, stats, cpuUsed);
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
