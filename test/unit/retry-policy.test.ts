import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { DEFAULT_RETRY, retryDelay, transient } from '../../client/retry-policy.js';
import { ErrorCode } from '../../shared/codes.js';

describe('client retry policy', () => {
  it('doubles from 250 ms to the 1.5 s cap, with half of each delay random', () => {
    const low = Array.from({ length: 8 }, (_, i) => retryDelay(i, DEFAULT_RETRY, () => 0));
    const high = Array.from({ length: 8 }, (_, i) => retryDelay(i, DEFAULT_RETRY, () => 1));
    assert.deepEqual(high, [250, 500, 1000, 1500, 1500, 1500, 1500, 1500]);
    assert.deepEqual(low, [125, 250, 500, 750, 750, 750, 750, 750]);
    assert.equal(
      retryDelay(1000, { minDelayMs: 250, maxDelayMs: 5000 }, () => 1),
      5000,
      'no overflow past many attempts',
    );
  });

  it('retries passing refusals only', () => {
    for (const code of [ErrorCode.unavailable, ErrorCode.internal, ErrorCode.rateLimited]) assert.ok(transient(code), code);
    for (const code of [
      ErrorCode.unauthorized,
      ErrorCode.tokenExpired,
      ErrorCode.forbidden,
      ErrorCode.notFound,
      ErrorCode.invalidFrame,
      ErrorCode.invalidPosition,
    ])
      assert.ok(!transient(code), code);
  });
});
