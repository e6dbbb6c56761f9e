import type { ErrorRequestHandler, Request } from 'express';

import { ErrorCode } from '../../shared/codes.js';
import { JobcastError, RateLimitedError } from '../errors.js';
import type { Logger } from '../logger.js';

/** Maps body-parser's and express's own client errors to jobcast's codes. */
function fromBodyParser(error: { type?: unknown; limit?: unknown; status?: unknown }): JobcastError | null {
  if (error.type === 'entity.too.large') return new JobcastError(ErrorCode.payloadTooLarge, `request body is over the ${String(error.limit)}-byte limit`);
  if (error.type === 'entity.parse.failed') return new JobcastError(ErrorCode.invalidInput, 'request body is not valid JSON');
  if ((typeof error.type === 'string' && error.type.startsWith('encoding.')) || error.type === 'charset.unsupported') {
    return new JobcastError(ErrorCode.invalidInput, 'request body encoding is not supported');
  }
  // Express answers a malformed URL (a bad %-escape in a path parameter) with a 400 error.
  if (typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
    return new JobcastError(error.status === 413 ? ErrorCode.payloadTooLarge : ErrorCode.invalidInput, 'the request is malformed');
  }
  return null;
}

/** The one place HTTP errors become responses: `{ error: { code, message, field? } }`. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req: Request, res, next) => {
    if (res.headersSent) return next(error);
    const known = error instanceof JobcastError ? error : fromBodyParser((error ?? {}) as { type?: unknown });
    if (known) {
      if (known instanceof RateLimitedError) res.set('Retry-After', String(Math.max(1, Math.ceil(known.retryAfterMs / 1000))));
      res.status(known.status).json({ error: known.toWire() });
      return;
    }
    logger.error({ err: error, method: req.method, url: req.originalUrl }, 'request failed');
    res.status(500).json({ error: { code: ErrorCode.internal, message: 'internal error' } });
  };
}

/** The token of a request: `Authorization: Bearer …` or `?token=`. */
export function tokenOf(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  const query = req.query.token;
  return typeof query === 'string' ? query : undefined;
}
