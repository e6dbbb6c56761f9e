import type { Request } from 'express';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

import { sharedKeys } from '../channels/keys.js';
import { ForbiddenError, RateLimitedError, UnavailableError } from '../errors.js';
import type { JobDefinition } from '../jobs/define-job.js';
import type { RedisClient } from '../redis/connect.js';

/** What the start guard needs of jobcast. */
export interface StartGuardHost {
  readonly redis: RedisClient;
  readonly keyPrefix: string;
  readonly queues: { definition(name: string): JobDefinition<unknown, unknown> };
}

/** Options of {@link startGuard}. */
export interface StartGuardOptions {
  /** Decides who may start a job type over HTTP; when given, every job type may be started through it. */
  authorizeStart?: ((req: Request, jobName: string) => boolean | Promise<boolean>) | undefined;
  /** Starts one client address may make per minute, across every process. @defaultValue 30 */
  startsPerMinute?: number | undefined;
}

/**
 * Who may start a job with `POST <base>/jobs/:name`. Nobody, unless the job type opted in with
 * `http: true` or the router was given `authorizeStart`: a router mounted for its client script
 * must not also be an anonymous way to run the application's jobs. Allowed starts are then
 * limited per client address (`req.ip`: set express's `trust proxy` behind a proxy).
 */
export function startGuard(host: StartGuardHost, options: StartGuardOptions): (req: Request, jobName: string) => Promise<void> {
  const perMinute = options.startsPerMinute ?? 30;
  const limiter = new RateLimiterRedis({ storeClient: host.redis, keyPrefix: sharedKeys(host.keyPrefix).rateLimit('starts'), points: perMinute, duration: 60 });
  return async (req, jobName) => {
    const definition = host.queues.definition(jobName); // 404 for an unknown job type
    if (options.authorizeStart) {
      if (!(await options.authorizeStart(req, jobName))) throw new ForbiddenError(`not allowed to start ${jobName}`);
    } else if (definition.http !== true) {
      throw new ForbiddenError(
        `job type ${jobName} cannot be started over HTTP: start it from your server with jobcast.start(), define it with \`http: true\`, or pass \`authorizeStart\` to jobcast.router()`,
      );
    }
    try {
      await limiter.consume(req.ip ?? 'unknown');
    } catch (limited) {
      if (limited instanceof RateLimiterRes) throw new RateLimitedError(`more than ${perMinute} job starts per minute from this address`, limited.msBeforeNext);
      throw new UnavailableError('the start rate limit could not be checked: Redis is unreachable', { cause: limited });
    }
  };
}
