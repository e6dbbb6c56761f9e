import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SignJWT } from 'jose';

import { ForbiddenError, UnauthorizedError } from '../../server/errors.js';
import { TokenSigner } from '../../server/tokens.js';
import { ErrorCode } from '../../shared/codes.js';

const SECRET = 'a-secret-that-is-long-enough';

describe('channel tokens', () => {
  it('grants exactly the channels and rights it was minted for', async () => {
    const signer = new TokenSigner(SECRET);
    const token = await signer.sign({ channels: ['job:1'], rights: ['subscribe'], owner: 'alice', ttlSeconds: 60 });
    const claims = await signer.authorize(token, 'job:1', 'subscribe');
    assert.equal(claims.owner, 'alice');
    await assert.rejects(signer.authorize(token, 'job:2', 'subscribe'), ForbiddenError);
    await assert.rejects(signer.authorize(token, 'job:1', 'cancel'), ForbiddenError);
  });

  it('refuses missing, tampered, foreign and expired tokens with distinct codes', async () => {
    const signer = new TokenSigner(SECRET);
    await assert.rejects(signer.authorize(undefined, 'job:1', 'subscribe'), UnauthorizedError);
    const token = await signer.sign({ channels: ['job:1'], ttlSeconds: 60 });
    const [h, p, s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ch: ['job:2'], r: ['subscribe'], exp: 9e9 })).toString('base64url');
    await assert.rejects(signer.verify(`${h}.${forged}.${s}`), (e: unknown) => e instanceof UnauthorizedError && e.code === ErrorCode.unauthorized);
    await assert.rejects(new TokenSigner('another-secret-of-16+chars').verify(token), UnauthorizedError);
    void p;
    const expired = await new SignJWT({ ch: ['job:1'], r: ['subscribe'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(new TextEncoder().encode(SECRET));
    await assert.rejects(signer.verify(expired), (e: unknown) => e instanceof UnauthorizedError && e.code === ErrorCode.tokenExpired);
    await assert.rejects(signer.verify('not-a-token'), UnauthorizedError);
  });

  it('accepts tokens of the previous secret during a rotation, and signs with the new one', async () => {
    const old = new TokenSigner('the-old-secret-0123456');
    const oldToken = await old.sign({ channels: ['c'], ttlSeconds: 60 });
    const rotating = new TokenSigner(['the-new-secret-0123456', 'the-old-secret-0123456']);
    await rotating.authorize(oldToken, 'c', 'subscribe');
    const newToken = await rotating.sign({ channels: ['c'], ttlSeconds: 60 });
    await new TokenSigner('the-new-secret-0123456').authorize(newToken, 'c', 'subscribe');
    await assert.rejects(old.verify(newToken), UnauthorizedError);
    // After the window, the old secret is dropped from the list: its tokens stop working.
    await assert.rejects(new TokenSigner('the-new-secret-0123456').verify(oldToken), UnauthorizedError);
  });

  it('rejects short secrets at construction', () => {
    assert.throws(() => new TokenSigner('short'), /at least 16/);
  });
});
