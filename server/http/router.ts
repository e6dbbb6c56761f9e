import express, { type Request, type Router } from 'express';

import { jobChannel, JobId } from '../../shared/channels.js';
import type { JobStatus, StartedJob } from '../../shared/protocol.js';
import type { AppRegistry } from '../apps/apps.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors.js';
import type { CancelResult } from '../jobs/cancellation.js';
import type { StartOptions } from '../jobs/start-job.js';
import type { Timeline } from '../jobs/timeline.js';
import type { Logger } from '../logger.js';
import type { TokenSigner } from '../tokens.js';
import { isWatchedJobId, WatchedJobId } from '../watch/watched-job-id.js';
import { clientBundle } from './client-bundle.js';
import { errorHandler, tokenOf } from './error-handler.js';
import { openApiDocument } from './openapi.js';
import { createPusherAuthRouter } from './pusher-auth.js';
import type { Origins } from './security.js';
import { apiCors, apiHeaders } from './security.js';
import type { StartGuardHost } from './start-guard.js';
import { startGuard } from './start-guard.js';

/** What the browser router needs of jobcast (a `Jobcast` is one). */
export interface BrowserRouterHost extends StartGuardHost {
  readonly basePath: string;
  readonly origins: Origins;
  readonly maxInputBytes: number;
  readonly logger: Logger;
  readonly signer: TokenSigner;
  /** With apps, Pusher clients' channel authorisation is served too. */
  readonly apps: AppRegistry | undefined;
  readonly timeline: Pick<Timeline, 'record'>;
  readonly store: Pick<ChannelStore, 'loadPartial'>;
  start(job: string, input: unknown, options?: StartOptions): Promise<StartedJob>;
  status(jobId: string): Promise<JobStatus>;
  cancel(jobId: string): Promise<CancelResult>;
  retry(jobId: string): Promise<{ jobId: string; state: 'queued' }>;
}

/** Options of {@link Jobcast.router}. */
export interface RouterOptions {
  /**
   * Who may start jobs through `POST /jobcast/jobs/:name`. Given, it decides for every job
   * type; not given, only job types defined with `http: true` may be started there, by anyone.
   * @defaultValue none: job types without `http: true` answer 403
   */
  authorizeStart?: (req: Request, jobName: string) => boolean | Promise<boolean>;
  /**
   * Job starts over HTTP one client address (`req.ip`; set express's `trust proxy` behind a
   * proxy) may make per minute, counted across every process. @defaultValue 30
   */
  startsPerMinute?: number;
  /** The owner recorded for jobs started over HTTP (your user id). */
  ownerOf?: (req: Request) => string | undefined;
}

/**
 * The HTTP side of jobcast for browsers. Mount it at the application root; it answers only
 * under the base path (`/jobcast` by default) and passes every other request on:
 * - `GET  /jobcast/client.js`: the browser client, one file
 * - `POST /jobcast/jobs/:name`: start a job with the JSON body as input → 202 `{ jobId, channel, token }`
 *   (only job types defined with `http: true`, or as `authorizeStart` allows; rate-limited per address)
 * - `GET  /jobcast/jobs/:id`: status (token required)
 * - `POST /jobcast/jobs/:id/cancel`: cancel (token with the cancel right)
 * - `POST /jobcast/jobs/:id/retry`: run a failed job again (token with the retry right)
 * - `GET  /jobcast/jobs/:id/partial`: the rendered result (token required)
 * - `POST /jobcast/pusher/auth`: Pusher channel authorisation for a jobcast token (with apps)
 * - `GET  /jobcast/openapi.json`: the OpenAPI document
 *
 * Health, metrics, the signed `/apps/…` API and the admin pages are routers of their own
 * (`jobcast.healthRouter()`, `metricsRouter()`, `appsRouter()`, `adminRouter()`).
 */
export function createRouter(jobcast: BrowserRouterHost, options: RouterOptions = {}): Router {
  const router = express.Router();
  const api = express.Router();
  const base = jobcast.basePath;
  router.use(base, apiHeaders(), apiCors(jobcast.origins), api);
  if (jobcast.apps) router.use(createPusherAuthRouter({ apps: jobcast.apps, signer: jobcast.signer, basePath: base, logger: jobcast.logger }));
  const json = express.json({ limit: jobcast.maxInputBytes });
  const mayStart = startGuard(jobcast, { authorizeStart: options.authorizeStart, startsPerMinute: options.startsPerMinute });

  api.get('/openapi.json', (_req, res) => void res.json(openApiDocument(base)));

  api.get('/client.js', async (_req, res) => {
    res
      .type('application/javascript')
      .set('Cache-Control', 'public, max-age=300')
      .send(await clientBundle());
  });

  // The guard runs before the body is read: a refused start costs no parsing.
  api.post(
    '/jobs/:name',
    async (req, _res, next) => {
      await mayStart(req, String(req.params.name));
      next();
    },
    json,
    async (req, res) => {
      const started = await jobcast.start(String(req.params.name), req.body, { owner: options.ownerOf?.(req) });
      res.status(202).json({ ...started, statusUrl: `${base}/jobs/${started.jobId}` });
    },
  );

  api.get('/jobs/:id', async (req, res) => {
    const jobId = parseJobId(req.params.id);
    await jobcast.signer.authorize(tokenOf(req), jobChannel(jobId), 'subscribe');
    res.set('Cache-Control', 'no-store').json(await jobcast.status(jobId));
  });

  api.post('/jobs/:id/cancel', async (req, res) => {
    const jobId = parseJobId(req.params.id);
    await jobcast.signer.authorize(tokenOf(req), jobChannel(jobId), 'cancel');
    res.status(202).json(await jobcast.cancel(jobId));
  });

  api.post('/jobs/:id/retry', async (req, res) => {
    const jobId = parseJobId(req.params.id);
    await jobcast.signer.authorize(tokenOf(req), jobChannel(jobId), 'retry');
    res.status(202).json(await jobcast.retry(jobId));
  });

  api.get('/jobs/:id/partial', async (req, res) => {
    const jobId = parseJobId(req.params.id);
    await jobcast.signer.authorize(tokenOf(req), jobChannel(jobId), 'subscribe');
    const html = await jobcast.store.loadPartial(jobChannel(jobId));
    if (html === null) {
      const status = await jobcast.status(jobId).catch(() => null);
      if (!status) throw new NotFoundError(`no job with id ${jobId}`);
      if (status.state === 'completed') throw new NotFoundError(`job ${jobId} has no rendered result`);
      throw new ConflictError(`job ${jobId} is ${status.state}; its result is not ready`);
    }
    jobcast.timeline.record(jobId, 'partial fetched', {
      ...(req.get('x-request-id') ? { reqId: req.get('x-request-id') } : {}),
      bytes: Buffer.byteLength(html),
    });
    res.type('html').set('Cache-Control', 'private, max-age=3600').send(html);
  });

  api.use(errorHandler(jobcast.logger));
  return router;
}

/** A job id of jobcast's own, or of a watched BullMQ queue (`<queue>:<id>`). */
function parseJobId(raw: unknown): string {
  const parsed = typeof raw === 'string' && isWatchedJobId(raw) ? WatchedJobId.safeParse(raw) : JobId.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(`job id: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'id');
  return parsed.data;
}
