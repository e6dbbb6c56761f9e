import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import cors from 'cors';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Browser origins allowed to call the HTTP API and open gateway connections. `true` allows
 * any; a list allows those exactly. Requests without an Origin (servers, curl) are allowed:
 * tokens and signatures, not origins, protect the data; origins stop other sites' pages.
 */
export type Origins = true | string[];

/** Parses `JOBCAST_ALLOWED_ORIGINS` (`https://a.example,https://b.example`; empty: any). */
export function parseOrigins(value: string | undefined): Origins {
  const list = (value ?? '')
    .split(',')
    .map((s) => s.trim().replace(/\/$/, ''))
    .filter(Boolean);
  return list.length ? list : true;
}

export function originAllowed(origins: Origins, origin: string | undefined): boolean {
  return origins === true || origin === undefined || origins.includes(origin);
}

/** CORS for the API: the allow-list, the Authorization header, no cookies. */
export function apiCors(origins: Origins): RequestHandler {
  return cors({ origin: origins === true ? true : origins, methods: ['GET', 'POST'], allowedHeaders: ['authorization', 'content-type'], maxAge: 600 });
}

/** Security headers for API answers: nothing in them may run if a browser opens one directly. */
export function apiHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'cross-origin' },
  });
}

/**
 * Security headers and a strict CSP for pages, with a fresh nonce per response in
 * `res.locals.cspNonce` for the page's one script tag (the client gives it to its style).
 */
export function pageHeaders(options: { gatewayUrl?: string } = {}): RequestHandler[] {
  const connect = ["'self'"];
  if (options.gatewayUrl) {
    const gateway = new URL(options.gatewayUrl);
    connect.push(gateway.origin, `${gateway.protocol === 'https:' ? 'wss:' : 'ws:'}//${gateway.host}`);
  } else {
    // Same origin over WebSocket: 'self' covers ws: to the same host only in newer browsers.
    connect.push('ws:', 'wss:');
  }
  const nonce = (_req: IncomingMessage, res: ServerResponse) => `'nonce-${(res as ServerResponse & { locals: { cspNonce: string } }).locals.cspNonce}'`;
  return [
    (_req, res, next) => {
      res.locals.cspNonce = randomBytes(16).toString('base64');
      next();
    },
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'", nonce],
          styleSrc: ["'self'", nonce],
          imgSrc: ["'self'", 'data:'],
          connectSrc: connect,
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'self'"],
        },
      },
    }),
  ];
}
