import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { z } from 'zod';

import { defineJob } from '../../server/index.js';
import type { ChannelEvent } from '../../shared/protocol.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const LOOP = 400;

/** 400 reports as fast as the handler can make them, in 8 bursts about 40 ms apart. */
async function tightLoop(report: (pct: number) => Promise<void>, fail: boolean): Promise<{ reported: number }> {
  const calls: Promise<void>[] = [];
  for (let i = 1; i <= LOOP; i++) {
    calls.push(report((i * 100) / LOOP));
    if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 40));
  }
  await Promise.all(calls); // every caller's promise settles, coalesced or not
  if (fail) throw new Error('failed after its last report');
  return { reported: calls.length };
}

const coalesced = defineJob({
  name: 'coalesced',
  input: z.object({ fail: z.boolean() }),
  progressEveryMs: 100,
  attempts: 1,
  handler: ({ fail }, ctx) => tightLoop((pct) => ctx.progress(pct, { message: `at ${pct}` }), fail),
});

const everyReport = defineJob({
  name: 'every-report',
  input: z.object({}),
  handler: (_input, ctx) => tightLoop((pct) => ctx.progress(pct), false),
});

describe('progressEveryMs: worker-side progress coalescing, opt-in per job type', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ jobs: [coalesced, everyReport] });
  });
  after(() => stack.close());

  async function historyWhenEnded(channel: string): Promise<ChannelEvent[]> {
    const events = await waitFor(
      async () => {
        const { epoch } = await stack.jobcast.store.read(channel);
        const { events } = await stack.jobcast.store.read(channel, { epoch, offset: 0 });
        return events.some((e) => e.event === 'completed' || e.event === 'failed') ? events : null;
      },
      `the outcome on ${channel}`,
      20_000,
    );
    return events!;
  }

  const pcts = (events: ChannelEvent[]) => events.filter((e) => e.event === 'progress').map((e) => (e.data as { pct: number }).pct);

  it('writes at most one progress per interval, the latest last, before the outcome; lifecycle events all there', async () => {
    const started = await stack.jobcast.start(coalesced, { fail: false });
    const events = await historyWhenEnded(started.channel);
    const names = events.map((e) => e.event);
    assert.deepEqual([names[0], names[1], names.at(-1)], ['queued', 'active', 'completed']);
    const written = pcts(events);
    // 8 bursts at one write per 100 ms: a handful, never hundreds, however late the timers run.
    assert.ok(written.length >= 2 && written.length <= LOOP / 10, `progress events written: ${written.length}`);
    // The interval is kept between the write calls; an event's ts is when the store sent it, an
    // event-loop turn or so later (96 ms apart was seen). Half the interval still tells
    // coalescing from none (0-1 ms apart). The last gap is the flush before the outcome.
    const times = events.filter((e) => e.event === 'progress').map((e) => e.ts);
    const gaps = times.slice(1, -1).map((t, i) => t - times[i]!);
    assert.ok(
      gaps.every((gap) => gap >= 50),
      `one write per 100 ms: ${gaps.join(', ')} ms apart`,
    );
    assert.deepEqual(
      [...written].sort((a, b) => a - b),
      written,
      'in order',
    );
    assert.equal(written.at(-1), 100, 'the latest report is the one written last');
    assert.equal(names.at(-2), 'progress', 'the last progress lands right before the outcome');
    const last = events.filter((e) => e.event === 'progress').at(-1)!;
    assert.deepEqual(last.data, { pct: 100, message: 'at 100' });
    assert.deepEqual((await stack.jobcast.status(started.jobId)).result, { reported: LOOP }, "every caller's promise settled");
  });

  it('flushes the held-back report before a failure too', async () => {
    const started = await stack.jobcast.start(coalesced, { fail: true });
    const events = await historyWhenEnded(started.channel);
    assert.equal(events.at(-1)!.event, 'failed');
    assert.equal(events.at(-2)!.event, 'progress');
    assert.equal(pcts(events).at(-1), 100);
  });

  it('leaves every report alone by default', async () => {
    const started = await stack.jobcast.start(everyReport, {});
    const events = await historyWhenEnded(started.channel);
    // The log keeps the newest 100 events; the offsets tell how many were written.
    const progress = events.filter((e) => e.event === 'progress');
    assert.equal(progress.at(-1)!.offset - (events.find((e) => e.event === 'active')?.offset ?? 2), LOOP);
  });

  it('refuses a negative interval', () => {
    assert.throws(() => defineJob({ name: 'bad-interval', input: z.object({}), progressEveryMs: -1, handler: () => null }), /progressEveryMs/);
  });
});
