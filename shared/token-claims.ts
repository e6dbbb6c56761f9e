import { z } from 'zod';

/** What a channel token may allow on its channels. */
export const Right = z.enum(['subscribe', 'cancel', 'retry']);
export type Right = z.infer<typeof Right>;

/** The lifetime a caller may ask for a minted browser token: whole seconds, at most a week. */
export const TokenTtlSeconds = z
  .number()
  .int()
  .positive()
  .max(7 * 86_400);

/**
 * The payload of a channel token (an HS256 JWT), as signed by the server: short claim names,
 * since a token travels in every subscribe and URL. Clients never verify it; it is here so
 * every part that reads one (gateway, HTTP API, adapters) agrees on its shape.
 */
export const TokenPayload = z.object({
  /** Channels the token is for. */
  ch: z.array(z.string()).min(1),
  /** Rights it grants on each of them. */
  r: z.array(Right).min(1),
  /** The owner (your user id), when given. */
  sub: z.string().optional(),
  /** Expiry, seconds since the epoch. */
  exp: z.number(),
});
export type TokenPayload = z.infer<typeof TokenPayload>;
