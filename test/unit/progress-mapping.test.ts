import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { progressFromBullmq } from '../../server/watch/progress-mapping.js';
import { queueLabel, splitWatchedJobId, watchedJobId } from '../../server/watch/watched-job-id.js';
import { ProgressEvent } from '../../shared/protocol.js';

describe('what BullMQ workers report as progress, as jobcast progress events', () => {
  it('a number is a percentage, clamped; NaN says nothing', () => {
    assert.deepEqual(progressFromBullmq(42.5), { pct: 42.5 });
    assert.deepEqual(progressFromBullmq(140), { pct: 100 });
    assert.deepEqual(progressFromBullmq(-3), { pct: 0 });
    assert.deepEqual(progressFromBullmq(Number.NaN), { pct: null });
  });
  it("an object's pct/percentage/progress, stage and message drive the view; the rest is data", () => {
    assert.deepEqual(progressFromBullmq({ percentage: 30, stage: 'Sending', message: '3 of 10', sent: 3 }), {
      pct: 30,
      stage: 'Sending',
      message: '3 of 10',
      data: { sent: 3 },
    });
    assert.deepEqual(progressFromBullmq({ progress: 70 }), { pct: 70 });
    assert.deepEqual(progressFromBullmq({ pct: 10, progress: 'x' }), { pct: 10, data: { progress: 'x' } });
    assert.deepEqual(progressFromBullmq({ stage: 7, step: 'b' }), { pct: null, data: { stage: 7, step: 'b' } });
  });
  it('anything else travels as data with no percentage, and every result is a valid progress event', () => {
    for (const value of ['halfway', true, [1, 2], null, { stage: 'x'.repeat(500) }]) {
      const mapped = progressFromBullmq(value);
      assert.equal(mapped.pct, null);
      assert.ok(ProgressEvent.safeParse(mapped).success, JSON.stringify(value).slice(0, 40));
    }
    assert.deepEqual(progressFromBullmq('halfway'), { pct: null, data: 'halfway' });
  });
});

describe('watched job ids', () => {
  it('namespace BullMQ ids by queue, and split back', () => {
    assert.equal(watchedJobId('emails', '42'), 'emails:42');
    assert.deepEqual(splitWatchedJobId('emails:42'), { label: 'emails', bullId: '42' });
    assert.equal(splitWatchedJobId('abc'), null);
    assert.equal(queueLabel('{emails}'), 'emails');
  });
  it('refuse ids and names that cannot be part of a channel name', () => {
    assert.throws(() => watchedJobId('emails', 'a b'), { status: 400 });
    assert.throws(() => queueLabel('mails/eu'), /pass \{ alias \}/);
    assert.equal(queueLabel('mails/eu', 'mails-eu'), 'mails-eu');
  });
});
