import genericPool from 'generic-pool';

/** Options of {@link createResourcePool}. */
export interface ResourcePoolOptions<T> {
  /** Opens one connection (to a database, an SMTP server, a licence server…). */
  create: () => Promise<T>;
  /** Closes one; errors are ignored (it is being thrown away). */
  destroy: (resource: T) => Promise<void> | void;
  /** Is it still usable? Checked before each use, so a silently dead one is replaced. */
  healthy?: (resource: T) => Promise<boolean> | boolean;
  /** Does this error mean the connection broke (so: replace it and try again)? @defaultValue network errors (ECONNRESET, EPIPE, ECONNREFUSED, ETIMEDOUT, socket closed) */
  isBroken?: (error: unknown) => boolean;
  /** Connections at most. @defaultValue 4 */
  size?: number;
  /** How long `use` waits for a free connection. @defaultValue 5000 */
  acquireTimeoutMs?: number;
  /** Tries of one `use` across broken connections before giving up. @defaultValue 3 */
  maxAttempts?: number;
  /** Wait before the next try, in ms, growing with each. @defaultValue 100 */
  retryDelayMs?: number;
}

/** A pool of long-lived connections shared by a worker's jobs. */
export interface ResourcePool<T> {
  /**
   * Runs `fn` with a healthy connection. If it fails because the connection broke, the
   * connection is destroyed and `fn` runs again on another, up to `maxAttempts`; any other
   * error is passed through at once.
   */
  use<R>(fn: (resource: T) => Promise<R>): Promise<R>;
  /** Connections open now, and in use. */
  readonly size: number;
  readonly borrowed: number;
  /** Closes every connection; idempotent. */
  close(): Promise<void>;
}

const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'ECONNABORTED', 'ERR_SOCKET_CLOSED', 'ERR_STREAM_DESTROYED']);
const brokenByDefault = (error: unknown) => {
  const e = error as { code?: string; message?: string } | null;
  return Boolean(e && ((e.code && BROKEN.has(e.code)) || /socket (hang up|closed)|connection (closed|reset)/i.test(e.message ?? '')));
};

/**
 * A pool of long-lived external connections for jobs, that heals itself: connections are
 * checked before use, a broken one is replaced and the work retried, and it gives up with a
 * clear error after `maxAttempts`. Sizing and waiting come from `generic-pool`.
 *
 * @example
 * ```ts
 * const smtp = createResourcePool({ create: () => connectSmtp(), destroy: (c) => c.quit(), healthy: (c) => c.isOpen });
 * const send = defineJob({ name: 'send-mail', input, handler: (mail) => smtp.use((c) => c.send(mail)) });
 * ```
 */
export function createResourcePool<T>(options: ResourcePoolOptions<T>): ResourcePool<T> {
  const isBroken = options.isBroken ?? brokenByDefault;
  const maxAttempts = options.maxAttempts ?? 3;
  const pool = genericPool.createPool<T>(
    {
      create: options.create,
      destroy: async (resource) => {
        try {
          await options.destroy(resource);
        } catch {
          // it is being thrown away
        }
      },
      ...(options.healthy ? { validate: async (resource: T) => Boolean(await options.healthy!(resource)) } : {}),
    },
    { max: options.size ?? 4, min: 0, acquireTimeoutMillis: options.acquireTimeoutMs ?? 5000, testOnBorrow: Boolean(options.healthy) },
  );
  let closing: Promise<void> | undefined;
  return {
    async use(fn) {
      let lastError: unknown;
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        let resource: T;
        try {
          resource = await pool.acquire();
        } catch (error) {
          lastError = error;
          if (attempt === maxAttempts) break;
          await new Promise((r) => setTimeout(r, (options.retryDelayMs ?? 100) * attempt));
          continue;
        }
        try {
          const result = await fn(resource);
          await pool.release(resource);
          return result;
        } catch (error) {
          if (!isBroken(error)) {
            await pool.release(resource);
            throw error;
          }
          // Broken: never hand this one out again.
          lastError = error;
          await pool.destroy(resource);
          if (attempt < maxAttempts) await new Promise((r) => setTimeout(r, (options.retryDelayMs ?? 100) * attempt));
        }
      }
      throw new Error(`gave up after ${maxAttempts} attempts: ${(lastError as Error)?.message ?? String(lastError)}`, { cause: lastError });
    },
    get size() {
      return pool.size;
    },
    get borrowed() {
      return pool.borrowed;
    },
    close() {
      closing ??= pool.drain().then(() => pool.clear());
      return closing;
    },
  };
}
