import express, { type Request, type Router } from 'express';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { z } from 'zod';

import { JobId } from '../../shared/channels.js';
import { ExternalJobReport, OpenExternalJob } from '../../shared/external-jobs.js';
import type { AppRegistry } from '../apps/apps.js';
import { sharedKeys } from '../channels/keys.js';
import { InvalidInputError, invalidInputFrom, RateLimitedError, UnauthorizedError } from '../errors.js';
import type { ExternalJobs } from '../external-jobs/external-jobs.js';
import type { RedisClient } from '../redis/connect.js';
import { claimSignature, verifySignedRequest } from './pusher-signature.js';

/** What {@link createExternalJobsRouter} uses of jobcast. */
export interface ExternalJobsHost {
  externalJobs: ExternalJobs;
  redis: RedisClient;
  keyPrefix: string;
  triggersPerSecond: number;
}

type SignedRequest = Request & { rawBody?: Buffer };

/**
 * The signed HTTP API for jobs of other job systems (see {@link ExternalJobs}), mounted inside
 * the apps router (after its JSON body parser, before its error handler):
 * - `POST /apps/:appId/external-jobs` `{ id, name?, attempts?, stalledAfterSeconds?, failedAfterSeconds? }`
 *   → 201 (or 200 when open already) `{ jobId, channel, token, id, created }`
 * - `POST /apps/:appId/external-jobs/:id/events` `{ type, requestId, … }` → `{ jobId, event, offset, duplicate }`
 * - `GET /apps/:appId/external-jobs/:id` → the job's status
 *
 * A report sent again with the same `requestId` gets its first answer (`duplicate: true`), also
 * when it is the very same signed request: a worker retrying after a timeout never sees the
 * replay refusal for a report that was applied.
 */
export function createExternalJobsRouter(host: ExternalJobsHost, options: { apps: AppRegistry }): Router {
  const router = express.Router();
  const signature = { redis: host.redis, keyPrefix: host.keyPrefix };
  // The apps router's budget: the same Redis keys, so these writes count with the others.
  const writes = new RateLimiterRedis({
    storeClient: host.redis,
    keyPrefix: sharedKeys(host.keyPrefix).rateLimit('apps'),
    points: host.triggersPerSecond,
    duration: 1,
  });

  const verify = async (req: Request, write: boolean) => {
    const signed = verifySignedRequest(req as SignedRequest, String(req.params.appId), { apps: options.apps });
    if (write) {
      try {
        await writes.consume(signed.app.key);
      } catch (limited) {
        if (!(limited instanceof RateLimiterRes)) throw limited;
        throw new RateLimitedError(`more than ${host.triggersPerSecond} requests per second for this app`, limited.msBeforeNext);
      }
    }
    return { app: signed.app, claim: () => claimSignature(signed.signature, signature) };
  };

  router.post('/apps/:appId/external-jobs', async (req, res) => {
    const { app, claim } = await verify(req, true);
    const body = parse(OpenExternalJob, req.body);
    // Opening is idempotent by id, but a replayed signed open would hand out a fresh token.
    if (!(await claim())) throw new UnauthorizedError('this signed request was already used (replay)');
    const opened = await host.externalJobs.open(app.id, body);
    res.status(opened.created ? 201 : 200).json(opened);
  });

  router.post('/apps/:appId/external-jobs/:id/events', async (req, res) => {
    const { app, claim } = await verify(req, true);
    const id = parseId(req.params.id);
    const report = parse(ExternalJobReport, req.body);
    res.json(await host.externalJobs.report(app.id, id, report, { claimSignature: claim }));
  });

  router.get('/apps/:appId/external-jobs/:id', async (req, res) => {
    const { app } = await verify(req, false);
    res.set('Cache-Control', 'no-store').json(await host.externalJobs.status(app.id, parseId(req.params.id)));
  });

  return router;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidInputError('body: a JSON object is required', 'body');
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw invalidInputFrom(parsed.error.issues, 'body');
  return parsed.data;
}

function parseId(raw: unknown): string {
  const parsed = JobId.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(`id: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'id');
  return parsed.data;
}
