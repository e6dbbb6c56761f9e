/**
 * Scenario 4, the reconnect storm: subscribed clients behind a TCP proxy (standing in for the
 * load balancer) all lose their connection at once while events keep flowing. Each client's
 * catch-up time runs from the drop to the first event it receives that was published after
 * the drop: jobcast replays what was missed first, so by then it has everything; the baseline
 * has simply lost what was sent while it was away.
 */
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { type ClientGroup, pct, type Publisher, sleep } from './processes.js';
import { nextSeqBase, summarise, type WindowResult } from './window.js';

export interface StormResult {
  clients: number;
  dropped: number;
  catchUpP50: number;
  catchUpP99: number;
  /** Clients that had not caught up 30 s after the drop. */
  stuck: number;
  window: WindowResult;
}

export async function reconnectStorm(
  url: string,
  clients: ClientGroup,
  publisher: Publisher,
  shape: { clients: number; rate: number; durationMs: number; dropAtMs: number },
): Promise<StormResult> {
  const proxy = await TcpProxy.start([Number(new URL(url).port)]);
  try {
    await clients.add(proxy.url, shape.clients);
    await sleep(300);
    const seqBase = nextSeqBase();
    await clients.reset(seqBase);
    const started = Date.now();
    const firstRun = publisher.run(shape.rate, shape.dropAtMs, seqBase);
    await sleep(shape.dropAtMs);
    const droppedAt = Date.now();
    const dropped = proxy.cut();
    await clients.arm(droppedAt);
    // Events keep flowing (in half-second runs of the same window) until every client has
    // seen one published after the drop, or 30 s.
    let { perChannel } = await firstRun;
    let stats = await clients.stats();
    while ((Date.now() - started < shape.durationMs || stats.perClient.some((c) => c.caughtUpAt === null)) && Date.now() < droppedAt + 30_000) {
      ({ perChannel } = await publisher.run(shape.rate, 500, seqBase));
      stats = await clients.stats();
    }
    await sleep(700);
    stats = await clients.stats();
    const catchUp = stats.perClient
      .filter((c) => c.caughtUpAt !== null)
      .map((c) => c.caughtUpAt! - droppedAt)
      .sort((a, b) => a - b);
    return {
      clients: shape.clients,
      dropped,
      catchUpP50: pct(catchUp, 0.5),
      catchUpP99: pct(catchUp, 0.99),
      stuck: shape.clients - catchUp.length,
      window: summarise(shape.rate, Date.now() - started, perChannel, stats, 0),
    };
  } finally {
    await clients.close();
    await proxy.close();
  }
}
