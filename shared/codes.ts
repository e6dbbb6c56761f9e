/**
 * Stable error codes that travel to clients, in HTTP bodies and socket acknowledgements.
 * Clients branch on these strings, never on messages, so a code is never renamed.
 */
export const ErrorCode = {
  invalidInput: 'jobcast:invalid-input',
  invalidFrame: 'jobcast:invalid-frame',
  invalidPosition: 'jobcast:invalid-position',
  unauthorized: 'jobcast:unauthorized',
  tokenExpired: 'jobcast:token-expired',
  forbidden: 'jobcast:forbidden',
  notFound: 'jobcast:not-found',
  conflict: 'jobcast:conflict',
  payloadTooLarge: 'jobcast:payload-too-large',
  rateLimited: 'jobcast:rate-limited',
  unavailable: 'jobcast:unavailable',
  internal: 'jobcast:internal',
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status that goes with each code, used by the HTTP layer and documented in the README. */
export const httpStatusOf: Record<ErrorCode, number> = {
  'jobcast:invalid-input': 400,
  'jobcast:invalid-frame': 400,
  'jobcast:invalid-position': 400,
  'jobcast:unauthorized': 401,
  'jobcast:token-expired': 401,
  'jobcast:forbidden': 403,
  'jobcast:not-found': 404,
  'jobcast:conflict': 409,
  'jobcast:payload-too-large': 413,
  'jobcast:rate-limited': 429,
  'jobcast:unavailable': 503,
  'jobcast:internal': 500,
};
