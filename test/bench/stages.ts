/**
 * Where an event's milliseconds go, from samples taken at each end (every
 * STAGE_SAMPLE_EVERY-th event of a channel, wall-clock times of one machine):
 *   publish  the publish call → its Redis reply (publisher process)
 *   redis    Redis → the gateway receives it; Redis's moment is estimated as the midpoint of
 *            the publisher's round trip, so this is roughly half the round trip shorter than
 *            "publish call → gateway receive"
 *   gateway  the gateway receives it → its last socket write of that event returned
 *   client   that last socket write → the client's handler ran (per receiving client)
 *   total    the publish call → the client's handler
 */
import { readFileSync } from 'node:fs';

import { pct, type PublishRun, type StageSample } from './processes.js';

export const STAGES = ['publish', 'redis', 'gateway', 'client', 'total'] as const;
export type Stage = (typeof STAGES)[number];
export type StageTimes = Record<Stage, { p50: number; p99: number; n: number }>;

/** The gateway probe's lines: `channel key receivedAt writtenAt`. */
function gatewaySamples(file: string): Map<string, [number, number]> {
  const byKey = new Map<string, [number, number]>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return byKey;
  }
  for (const line of text.split('\n')) {
    const [channel, key, received, written] = line.split(' ');
    if (written !== undefined) byKey.set(`${channel} ${key}`, [Number(received), Number(written)]);
  }
  return byKey;
}

const summary = (values: number[]) => {
  const sorted = values.sort((a, b) => a - b);
  const round = (v: number) => Number(v.toFixed(2));
  return { p50: round(pct(sorted, 0.5)), p99: round(pct(sorted, 0.99)), n: sorted.length };
};

export function stageTimes(published: PublishRun['samples'], gatewayFile: string, handled: StageSample[]): StageTimes {
  const gateway = gatewaySamples(gatewayFile);
  const calls = new Map(published.map(([channel, key, called, replied]) => [`${channel} ${key}`, [called, replied] as const]));
  const values: Record<Stage, number[]> = { publish: [], redis: [], gateway: [], client: [], total: [] };
  for (const [key, [called, replied]] of calls) {
    values.publish.push(replied - called);
    const seen = gateway.get(key);
    if (!seen) continue;
    values.redis.push(seen[0] - (called + replied) / 2);
    values.gateway.push(seen[1] - seen[0]);
  }
  for (const [channel, key, at] of handled) {
    const id = `${channel} ${key}`;
    const seen = gateway.get(id);
    const call = calls.get(id);
    if (seen) values.client.push(at - seen[1]);
    if (call) values.total.push(at - call[0]);
  }
  return Object.fromEntries(STAGES.map((stage) => [stage, summary(values[stage])])) as StageTimes;
}
