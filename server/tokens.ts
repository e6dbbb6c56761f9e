import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';

import { ErrorCode } from '../shared/codes.js';
import { type Right, TokenPayload } from '../shared/token-claims.js';
import { ForbiddenError, UnauthorizedError } from './errors.js';

export type { Right };

/** The verified content of a channel token. */
export interface TokenClaims {
  channels: string[];
  rights: Right[];
  owner: string | undefined;
  /** Seconds since the epoch. */
  expiresAt: number;
}

const encoder = new TextEncoder();

/**
 * Signs and verifies channel tokens: HS256 JWTs scoped to channels and rights, with an expiry.
 * Give several secrets to rotate: the first signs, every one verifies, so tokens minted with
 * the old secret keep working until they expire.
 */
export class TokenSigner {
  readonly #keys: Uint8Array[];

  constructor(secrets: string | readonly string[]) {
    const list = typeof secrets === 'string' ? [secrets] : [...secrets];
    if (list.length === 0 || list.some((s) => s.length < 16)) {
      throw new Error('token secrets must be at least 16 characters');
    }
    this.#keys = list.map((s) => encoder.encode(s));
  }

  /** A token for `channels` with `rights`, valid for `ttlSeconds`. */
  async sign(options: { channels: string[]; rights?: Right[]; owner?: string; ttlSeconds: number }): Promise<string> {
    const jwt = new SignJWT({ ch: options.channels, r: options.rights ?? ['subscribe'] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds);
    if (options.owner !== undefined) jwt.setSubject(options.owner);
    // The first key signs; the constructor guarantees there is one.
    return jwt.sign(this.#keys[0]!);
  }

  /** The claims of a valid token; throws {@link UnauthorizedError} for anything else. */
  async verify(token: string): Promise<TokenClaims> {
    let expired = false;
    for (const key of this.#keys) {
      try {
        const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'] });
        const claims = TokenPayload.safeParse(payload);
        if (!claims.success) break;
        const { ch, r, sub, exp } = claims.data;
        return { channels: ch, rights: r, owner: sub, expiresAt: exp };
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) expired = true;
        // Otherwise try the next secret: the token may be from before a rotation.
      }
    }
    if (expired) throw new UnauthorizedError('the token has expired', ErrorCode.tokenExpired);
    throw new UnauthorizedError('the token is not valid');
  }

  /** Verifies `token` and checks it grants `right` on `channel`; throws 401/403 errors. */
  async authorize(token: string | undefined, channel: string, right: Right): Promise<TokenClaims> {
    if (!token) throw new UnauthorizedError('a token is required');
    const claims = await this.verify(token);
    if (!grants(claims, channel, right)) {
      throw new ForbiddenError(`the token does not grant ${right} on ${channel}`);
    }
    return claims;
  }
}

/** True when `claims` allow `right` on `channel`. */
export function grants(claims: TokenClaims, channel: string, right: Right): boolean {
  return claims.rights.includes(right) && claims.channels.includes(channel);
}
