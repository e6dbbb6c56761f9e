import assert from 'node:assert/strict';

import type { Queue } from 'bullmq';

import { connect, type JobcastConnection } from '../../client/connection.js';
import type { Subscription } from '../../client/subscription.js';
import type { Jobcast } from '../../server/index.js';
import { waitFor } from './wait.js';

/** One client following one channel, recording what the application would see. */
export interface Watcher {
  connection: JobcastConnection;
  subscription: Subscription;
  channel: string;
  /** Offsets delivered to the application, in delivery order. */
  offsets: number[];
  events: string[];
  /** Subscribes acknowledged with recovered=false after the first one (history was trimmed). */
  unrecovered: number;
  /** Times from losing the connection to being subscribed again, ms. */
  catchUps: number[];
  done: boolean;
}

/** Subscribes a new client connection per channel entry; resolves when all are subscribed. */
export async function watch(url: string, channels: { channel: string; token: string }[]): Promise<Watcher[]> {
  return Promise.all(
    channels.map(async ({ channel, token }) => {
      const connection = connect({ url, ackTimeoutMs: 5000 });
      const subscription = connection.channel(channel, { token });
      const w: Watcher = { connection, subscription, channel, offsets: [], events: [], unrecovered: 0, catchUps: [], done: false };
      let lostAt: number | null = null;
      let first = true;
      connection.on('state', ({ state }) => {
        if (state !== 'connected' && lostAt === null) lostAt = Date.now();
      });
      subscription.onState(({ state, recovered }) => {
        if (state !== 'subscribed') return;
        if (!first && recovered === false) w.unrecovered += 1;
        first = false;
        if (lostAt !== null) w.catchUps.push(Date.now() - lostAt);
        lostAt = null;
      });
      subscription.on('*', (e) => {
        w.offsets.push(e.offset);
        w.events.push(e.event);
        if (['completed', 'failed', 'cancelled'].includes(e.event)) w.done = true;
      });
      await subscription.subscribe();
      return w;
    }),
  );
}

export interface DeliveryReport {
  published: number;
  delivered: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  p99CatchUpMs: number;
}

/**
 * Compares what each watcher got with what was published on its channel (`published[channel]`
 * = the channel's newest offset, every offset from `from` to it published). Events a watcher
 * could not recover because the log was trimmed count as lost only if it was not told so
 * (recovered=false).
 */
export function report(watchers: Watcher[], published: Map<string, { from: number; to: number }>): DeliveryReport {
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let delivered = 0;
  let expected = 0;
  const catchUps: number[] = [];
  for (const w of watchers) {
    const range = published.get(w.channel)!;
    expected += range.to - range.from + 1;
    delivered += w.offsets.length;
    duplicated += w.offsets.length - new Set(w.offsets).size;
    for (let i = 1; i < w.offsets.length; i++) if (w.offsets[i]! <= w.offsets[i - 1]!) outOfOrder += 1;
    const got = new Set(w.offsets);
    let missing = 0;
    for (let o = range.from; o <= range.to; o++) if (!got.has(o)) missing += 1;
    // A trimmed gap is a documented outcome only when the client was told (recovered=false).
    if (missing > 0 && w.unrecovered === 0) lost += missing;
    catchUps.push(...w.catchUps);
  }
  catchUps.sort((a, b) => a - b);
  const p99CatchUpMs = catchUps.length ? catchUps[Math.min(catchUps.length - 1, Math.floor(catchUps.length * 0.99))]! : 0;
  return { published: expected, delivered, lost, duplicated, outOfOrder, p99CatchUpMs };
}

export function closeAll(watchers: Watcher[]): void {
  for (const w of watchers) w.connection.close();
}

/**
 * Adds a job to a watched BullMQ `queue` (paused meanwhile, so the page subscribes before the
 * job starts), follows it from a page, and resolves once the page has the outcome, having
 * checked that it saw queued, active, progress and completed, in that order.
 */
export async function followBullJob(url: string, jobcast: Pick<Jobcast, 'tokenForJob'>, queue: Queue, data: object, watchers: Watcher[]) {
  await queue.pause();
  const job = await queue.add('job', data);
  const started = await jobcast.tokenForJob(job);
  const [w] = await watch(url, [started]);
  watchers.push(w!);
  await queue.resume();
  await waitFor(() => w!.done, 'the outcome', 20_000);
  assert.deepEqual(
    w!.events.filter((e) => e !== 'progress'),
    ['queued', 'active', 'completed'],
  );
  assert.ok(w!.events.includes('progress'));
  return { job, started };
}
