import { timingSafeEqual } from 'node:crypto';

import type { RequestHandler } from 'express';

const COOKIE = 'jobcast_admin';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Admin pages need the admin token: `Authorization: Bearer`, `?token=` (which also sets an
 * HttpOnly cookie for the path, so Bull Board's own requests are let in), or that cookie.
 * Without a configured token the admin pages are off, and say how to turn them on.
 */
export function adminAuth(adminToken: string | undefined, path: string): RequestHandler {
  return (req, res, next) => {
    if (!adminToken) {
      res.status(401).json({ error: { code: 'jobcast:unauthorized', message: 'the admin pages are off: set JOBCAST_ADMIN_TOKEN' } });
      return;
    }
    const header = req.get('authorization');
    const bearer = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    const query = typeof req.query.token === 'string' ? req.query.token : undefined;
    const cookie = /(?:^|;\s*)jobcast_admin=([^;]+)/.exec(req.get('cookie') ?? '')?.[1];
    const given = bearer ?? query ?? (cookie ? decodeURIComponent(cookie) : undefined);
    if (!given || !same(given, adminToken)) {
      res.status(401).json({ error: { code: 'jobcast:unauthorized', message: 'the admin token is required' } });
      return;
    }
    if (query) res.cookie(COOKIE, query, { httpOnly: true, sameSite: 'strict', path });
    next();
  };
}
