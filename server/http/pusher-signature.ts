import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

import type { Request } from 'express';

import type { App, AppRegistry } from '../apps/apps.js';
import { sharedKeys } from '../channels/keys.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';

/** Options of {@link verifyPusherSignature}. */
export interface SignatureOptions {
  apps: AppRegistry;
  redis: RedisClient;
  keyPrefix: string;
  /** Largest difference between the request's auth_timestamp and our clock. @defaultValue 600 */
  maxSkewSeconds?: number;
}

/**
 * Checks a request signed the way Pusher's server SDKs sign: `auth_key`, `auth_timestamp`,
 * `auth_version=1.0`, `body_md5` (when there is a body) and `auth_signature`, an HMAC-SHA256 with
 * the app secret over `METHOD\npath\nsorted query`. A signed write is accepted once: a replay
 * within the clock-skew window is refused.
 */
export async function verifyPusherSignature(req: Request & { rawBody?: Buffer }, appId: string, options: SignatureOptions): Promise<App> {
  const { app, signature } = verifySignedRequest(req, appId, options);
  // Reads are idempotent, and a client polling within one second signs identical requests.
  if (req.method === 'GET') return app;
  if (!(await claimSignature(signature, options))) throw new UnauthorizedError('this signed request was already used (replay)');
  return app;
}

/**
 * The signature check of {@link verifyPusherSignature} without the replay rule, for endpoints
 * that answer a repeated write themselves (a retried report gets its first answer again).
 * Throws 401/403 like it; returns the app and the request's signature.
 */
export function verifySignedRequest(
  req: Request & { rawBody?: Buffer },
  appId: string,
  options: Omit<SignatureOptions, 'redis' | 'keyPrefix'>,
): { app: App; signature: string } {
  const app = options.apps.get(appId);
  if (!app) throw new ForbiddenError(`unknown app ${JSON.stringify(appId).slice(0, 70)}`);
  if (!app.enabled) throw new ForbiddenError(`app ${appId} is disabled`);

  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query)) {
    if (typeof v !== 'string') throw new UnauthorizedError(`query parameter ${k} must appear once`);
    query[k] = v;
  }
  const { auth_key: key, auth_timestamp: timestamp, auth_version: version, auth_signature: signature, body_md5: bodyMd5 } = query;
  if (!key || !timestamp || !signature) throw new UnauthorizedError('auth_key, auth_timestamp and auth_signature are required');
  if (key !== app.key) throw new UnauthorizedError('auth_key does not belong to this app');
  if (version !== undefined && version !== '1.0') throw new UnauthorizedError('auth_version must be 1.0');
  const skew = options.maxSkewSeconds ?? 600;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > skew) {
    throw new UnauthorizedError(`auth_timestamp is more than ${skew} s away from the server's clock`);
  }
  const body = req.rawBody ?? Buffer.alloc(0);
  if (body.length > 0 || bodyMd5 !== undefined) {
    if (createHash('md5').update(body).digest('hex') !== bodyMd5) throw new UnauthorizedError('body_md5 does not match the body');
  }

  const sorted = Object.keys(query)
    .filter((k) => k !== 'auth_signature')
    .sort()
    .map((k) => `${k.toLowerCase()}=${query[k]}`)
    .join('&');
  const expected = createHmac('sha256', app.secret).update(`${req.method}\n${req.baseUrl}${req.path}\n${sorted}`).digest('hex');
  const given = Buffer.from(signature, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected, 'utf8'))) {
    throw new UnauthorizedError('auth_signature does not match');
  }
  return { app, signature };
}

/**
 * Marks a signature used; false when it was used before. A write is accepted once: the same
 * signed POST sent again inside the clock-skew window is a replay.
 */
export async function claimSignature(signature: string, options: Pick<SignatureOptions, 'redis' | 'keyPrefix' | 'maxSkewSeconds'>): Promise<boolean> {
  const skew = options.maxSkewSeconds ?? 600;
  return (await options.redis.set(sharedKeys(options.keyPrefix).signature(signature), '1', 'EX', skew * 2, 'NX')) !== null;
}
