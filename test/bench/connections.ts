/**
 * Scenarios 3 and 5 on one fresh gateway: its RSS with no connections and with idle subscribed
 * ones (KB per connection), then connections added step by step, each receiving 1 event/s,
 * until p99 reaches 100 ms or the last step.
 */
import { type Kind, rssKb, sleep, startRig } from './processes.js';
import { measureWindow, type WindowResult } from './window.js';

export interface ConnectionsShape {
  channels: number;
  steps: number[];
  /** The step at which idle memory is measured. */
  memoryAt: number;
  durationMs: number;
}

export interface ConnectionsResult {
  kind: Kind;
  kbPerConn: number;
  steps: (WindowResult & { connections: number })[];
  /** Most connections held with p99 under 100 ms. */
  held: number;
}

export async function connections(kind: Kind, redisUrl: string, shape: ConnectionsShape): Promise<ConnectionsResult> {
  const rig = await startRig(kind, redisUrl, shape.channels);
  const { gateway, publisher, clients } = rig;
  try {
    await sleep(500);
    const idle = rssKb(gateway.pid);
    let kbPerConn = NaN;
    const steps: ConnectionsResult['steps'] = [];
    for (const target of shape.steps) {
      await clients.add(gateway.url, target - clients.size);
      await sleep(1000);
      if (target === shape.memoryAt) kbPerConn = Number(((rssKb(gateway.pid) - idle) / target).toFixed(1));
      // Each client holds one of `channels` channels: one event per channel per second.
      const window = await measureWindow(gateway, clients, publisher, shape.channels, shape.durationMs);
      steps.push({ ...window, connections: target });
      if (window.p99 >= 100) break;
    }
    const held = Math.max(0, ...steps.filter((s) => s.p99 < 100 && s.lost === 0).map((s) => s.connections));
    return { kind, kbPerConn, steps, held };
  } finally {
    await rig.close();
  }
}
