import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { channelKeys, channelOfLive } from '../../server/channels/keys.js';
import { ChannelName, jobChannel, jobIdOfChannel } from '../../shared/channels.js';
import { eventClassOf, jobStateAfter, SubscribeAck, SubscribeRequest } from '../../shared/protocol.js';

describe('protocol schemas', () => {
  it('accepts a well-formed subscribe and names the field of a malformed one', () => {
    assert.ok(SubscribeRequest.safeParse({ channel: 'job:abc', token: 't', since: { epoch: 'e', offset: 3 } }).success);
    const bad = SubscribeRequest.safeParse({ channel: 'job:abc', token: 't', since: { epoch: 'e', offset: -1 } });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues[0]?.path, ['since', 'offset']);
    assert.equal(SubscribeRequest.safeParse({ channel: 'a{b}', token: 't' }).success, false, 'braces would break the hash tag');
    assert.equal(SubscribeRequest.safeParse('subscribe').success, false);
  });

  it('discriminates ok and error acknowledgements', () => {
    const ok = SubscribeAck.parse({ ok: true, channel: 'c', epoch: 'e', offset: 0, recovered: false, events: [] });
    assert.equal(ok.ok, true);
    const err = SubscribeAck.parse({ ok: false, error: { code: 'jobcast:unauthorized', message: 'no' } });
    assert.equal(err.ok, false);
  });

  it('classifies events for the snapshot and the job state', () => {
    assert.equal(eventClassOf('progress'), 'progress');
    assert.equal(eventClassOf('completed'), 'outcome');
    assert.equal(eventClassOf('cancelled'), 'outcome');
    assert.equal(eventClassOf('retrying'), 'lifecycle');
    assert.equal(eventClassOf('order-shipped'), 'custom');
    assert.equal(eventClassOf('completed', 'job:1'), 'outcome');
    assert.equal(eventClassOf('completed', 'orders'), 'custom', 'lifecycle names mean nothing outside job channels');
    assert.equal(jobStateAfter('progress'), 'active');
    assert.equal(jobStateAfter('order-shipped'), null);
  });

  it('maps channels to hash-tagged keys and back', () => {
    assert.equal(jobIdOfChannel(jobChannel('x1')), 'x1');
    assert.equal(jobIdOfChannel('other'), null);
    const keys = channelKeys('p:', 'job:1');
    assert.equal(keys.meta, 'p:{job:1}:meta');
    assert.equal(channelOfLive('p:', keys.live), 'job:1');
    assert.equal(channelOfLive('p:', 'q:{job:1}'), null);
    assert.equal(ChannelName.safeParse('x'.repeat(165)).success, false);
  });
});
