/**
 * Scenario 1, fan-out: clients spread over job channels; a fixed rate first, then a ramp to
 * the highest rate still delivered with p99 under 50 ms. Then scenario 4, the reconnect storm,
 * on the same gateway.
 */
import { ClientGroup, type Kind, sleep, startRig } from './processes.js';
import { reconnectStorm, type StormResult } from './storm.js';
import { measureWindow, type WindowResult } from './window.js';

export interface FanoutShape {
  clients: number;
  channels: number;
  rate: number;
  durationMs: number;
  /**
   * Published at the fixed rate first, not counted: until V8 has compiled the hot paths of the
   * gateway and the clients (2-s slices of one rig, 1,000 clients at 2,000 events/s: the
   * gateway's first 4 s cost 15-30% more CPU per delivery than the rest in every row, and
   * TurboFan was 10% of the gateway's samples in the first 4 s, under 1% after 15 s).
   */
  warmUpMs: number;
  ramp: number[];
  rampMs: number;
  storm: { clients: number; rate: number; durationMs: number; dropAtMs: number };
}

export interface FanoutResult {
  kind: Kind;
  fixed: WindowResult;
  ramp: WindowResult[];
  /** Highest delivered events/s of a window with p99 under 50 ms. */
  bestDelivered: number;
  /** Not run for the floor, which has no reconnect at all. */
  storm: StormResult | null;
}

export async function fanout(kind: Kind, redisUrl: string, shape: FanoutShape): Promise<FanoutResult> {
  const rig = await startRig(kind, redisUrl, shape.channels);
  const { gateway, publisher, clients } = rig;
  try {
    await clients.add(gateway.url, shape.clients);
    await sleep(300);
    await measureWindow(gateway, clients, publisher, shape.rate, shape.warmUpMs, 300); // not counted
    const fixed = await measureWindow(gateway, clients, publisher, shape.rate, shape.durationMs);
    const ramp: WindowResult[] = [];
    for (const rate of shape.ramp) {
      const window = await measureWindow(gateway, clients, publisher, rate, shape.rampMs);
      ramp.push(window);
      const expected = (rate * shape.clients) / shape.channels;
      if (window.p99 >= 50 || window.deliveredPerSec < expected * 0.95) break;
    }
    const within = [fixed, ...ramp].filter((w) => w.p99 < 50);
    await clients.close();
    const storm = kind === 'floor' ? null : await reconnectStorm(gateway.url, new ClientGroup(kind, shape.channels, rig.tokens), publisher, shape.storm);
    return { kind, fixed, ramp, bestDelivered: Math.max(0, ...within.map((w) => w.deliveredPerSec)), storm };
  } finally {
    await rig.close();
  }
}
