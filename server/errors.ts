import { ErrorCode, httpStatusOf } from '../shared/codes.js';

/** Base of every error jobcast raises on purpose: a stable `code` and the HTTP status it maps to. */
export class JobcastError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JobcastError';
    this.code = code;
    this.status = httpStatusOf[code];
  }

  /** The shape sent to clients: never a stack, never a cause (it may hold secrets). */
  toWire(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Input failed validation; `field` names the first offending field (dotted path). */
export class InvalidInputError extends JobcastError {
  readonly field: string | undefined;
  constructor(message: string, field?: string, options?: { cause?: unknown }) {
    super(ErrorCode.invalidInput, message, options);
    this.name = 'InvalidInputError';
    this.field = field;
  }
  override toWire(): { code: string; message: string; field?: string } {
    return this.field === undefined ? super.toWire() : { ...super.toWire(), field: this.field };
  }
}

export class UnauthorizedError extends JobcastError {
  constructor(message = 'a valid token is required', code: ErrorCode = ErrorCode.unauthorized) {
    super(code, message);
    this.name = 'UnauthorizedError';
  }
}

export class ForbiddenError extends JobcastError {
  constructor(message: string) {
    super(ErrorCode.forbidden, message);
    this.name = 'ForbiddenError';
  }
}

export class NotFoundError extends JobcastError {
  constructor(message: string) {
    super(ErrorCode.notFound, message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends JobcastError {
  constructor(message: string) {
    super(ErrorCode.conflict, message);
    this.name = 'ConflictError';
  }
}

export class PayloadTooLargeError extends JobcastError {
  constructor(message: string) {
    super(ErrorCode.payloadTooLarge, message);
    this.name = 'PayloadTooLargeError';
  }
}

/** Too many requests; `retryAfterMs` says when to try again (sent as Retry-After). */
export class RateLimitedError extends JobcastError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super(ErrorCode.rateLimited, message);
    this.name = 'RateLimitedError';
    this.retryAfterMs = retryAfterMs;
  }
  override toWire(): { code: string; message: string; retryAfterMs: number } {
    return { ...super.toWire(), retryAfterMs: this.retryAfterMs };
  }
}

export class UnavailableError extends JobcastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.unavailable, message, options);
    this.name = 'UnavailableError';
  }
}

/** Turns a zod error into an {@link InvalidInputError} naming the first field and its rule. */
export function invalidInputFrom(issues: readonly { path: readonly PropertyKey[]; message: string }[], what = 'input'): InvalidInputError {
  const first = issues[0];
  if (!first) return new InvalidInputError(`invalid ${what}`);
  const field = first.path.map(String).join('.');
  const where = field ? `${what}.${field}` : what;
  return new InvalidInputError(`${where}: ${first.message}`, field || undefined);
}
