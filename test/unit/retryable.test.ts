import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { retryable } from '../../server/jobs/define-job.js';

class RateLimited extends Error {}
class BadRequest extends Error {}

describe('which errors are worth another attempt', () => {
  it('every error without a rule; a predicate decides; a list names classes and codes', () => {
    assert.equal(retryable(undefined, new BadRequest('x')), true);
    assert.equal(
      retryable((e) => !(e instanceof BadRequest), new BadRequest('x')),
      false,
    );
    const list = [RateLimited, 'ETIMEDOUT', 'AbortError'];
    assert.equal(retryable(list, new RateLimited('slow down')), true);
    assert.equal(retryable(list, Object.assign(new Error('t'), { code: 'ETIMEDOUT' })), true);
    assert.equal(retryable(list, Object.assign(new Error('a'), { name: 'AbortError' })), true);
    assert.equal(retryable(list, new BadRequest('no')), false);
    assert.equal(retryable(list, 'not an error'), false);
  });
});
