import { ErrorCode } from '../shared/codes.js';

/**
 * How the client retries a subscribe: one policy for the first subscribe and every later one
 * (after a reconnect, after a gap). Documented for other clients in shared/PROTOCOL.md.
 */
export interface RetryPolicy {
  /** First retry delay. @defaultValue 250 */
  minDelayMs: number;
  /**
   * Largest retry delay: also the longest a client may take to notice that Redis is back,
   * hence short. @defaultValue 1500
   */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { minDelayMs: 250, maxDelayMs: 1500 };

/**
 * The wait before retry number `attempt` (0 for the first): doubling from `minDelayMs`,
 * capped at `maxDelayMs`, with "equal jitter" (half fixed, half random) so clients refused by
 * the same outage do not come back in step.
 */
export function retryDelay(attempt: number, policy: RetryPolicy = DEFAULT_RETRY, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Whether a refused subscribe may succeed later without anything changing on the client:
 * Redis down or the gateway shutting down (`unavailable`), a gateway error (`internal`), too
 * many subscribes (`rate-limited`). Everything else (bad or wrong token, no right, bad
 * request) is final, except an expired token when there is a way to get a fresh one.
 */
export function transient(code: string): boolean {
  return code === ErrorCode.unavailable || code === ErrorCode.internal || code === ErrorCode.rateLimited;
}
