import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { AttemptControl } from '../../server/jobs/attempt-control.js';

/** Settles to 'pending' if `promise` has not settled once the queued callbacks have run. */
const settled = (promise: Promise<unknown>) =>
  Promise.race([
    promise.then(
      () => 'resolved',
      (reason: unknown) => reason,
    ),
    new Promise((resolve) => setImmediate(() => resolve('pending'))),
  ]);

describe('AttemptControl: how an attempt stops, with ctx.signal made only when a handler reads it', () => {
  it('aborts a signal the handler already holds, with the reason, and rejects the attempt', async () => {
    const control = new AttemptControl();
    const signal = control.signal;
    const stopped = control.stopped();
    let heard: unknown;
    signal.addEventListener('abort', () => (heard = signal.reason));
    assert.equal(await settled(stopped), 'pending');
    const reason = new Error('cancelled by the user');
    control.abort(reason);
    assert.equal(signal.aborted, true);
    assert.equal(heard, reason);
    assert.equal(await settled(stopped), reason);
    assert.equal(control.reason, reason);
  });

  it('gives a handler that asks only after the stop an already aborted signal with the same reason', async () => {
    const control = new AttemptControl();
    const reason = new Error('timed out');
    control.abort(reason);
    assert.equal(control.aborted, true);
    assert.equal(control.signal.aborted, true);
    assert.equal(control.signal.reason, reason);
    assert.throws(
      () => control.signal.throwIfAborted(),
      (error) => error === reason,
    );
    assert.equal(await settled(control.stopped()), reason);
  });

  it('keeps the first reason: the end of an attempt does not overwrite a cancel', async () => {
    const control = new AttemptControl();
    const stopped = control.stopped();
    const cancel = new Error('cancel');
    control.abort(cancel);
    control.abort(new Error('the attempt ended'));
    assert.equal(control.reason, cancel);
    assert.equal(control.signal.reason, cancel);
    assert.equal(await settled(stopped), cancel);
  });

  it('makes no signal when nobody asks, and a running attempt is not stopped', async () => {
    const control = new AttemptControl();
    assert.equal(control.aborted, false);
    assert.equal(control.reason, undefined);
    assert.equal(await settled(control.stopped()), 'pending');
  });
});
