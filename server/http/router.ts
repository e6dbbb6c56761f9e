import express, { type Request, type Router } from 'express';
import { JobId, jobChannel } from '../../shared/channels.js';
import { ConflictError, InvalidInputError, NotFoundError, ForbiddenError } from '../errors.js';
import type { Jobcast } from '../jobcast.js';
import { clientBundle } from './client-bundle.js';
import { errorHandler, tokenOf } from './error-handler.js';
import { openApiDocument } from './openapi.js';
import { apiCors, apiHeaders } from './security.js';
import { createAppsRouter } from './pusher-router.js';
import { WatchedJobId, isWatchedJobId } from '../watch/watched-job-id.js';

/** Options of {@link Jobcast.router}. */
export interface RouterOptions {
  /**
   * Who may start jobs through `POST /jobcast/jobs/:name`. Mount the router behind your own
   * authentication, or decide here. @defaultValue every request may
   */
  authorizeStart?: (req: Request, jobName: string) => boolean | Promise<boolean>;
  /** The owner recorded for jobs started over HTTP (your user id). */
  ownerOf?: (req: Request) => string | undefined;
}

/**
 * The HTTP side of jobcast, mounted at the application root; its paths start with the base
 * path (`/jobcast` by default):
 * - `GET  /jobcast/client.js`: the browser client, one file
 * - `POST /jobcast/jobs/:name`: start a job with the JSON body as input → 202 `{ jobId, channel, token }`
 * - `GET  /jobcast/jobs/:id`: status (token required)
 * - `POST /jobcast/jobs/:id/cancel`: cancel (token with the cancel right)
 * - `POST /jobcast/jobs/:id/retry`: run a failed job again (token with the retry right)
 * - `GET  /jobcast/jobs/:id/partial`: the rendered result (token required)
 */
export function createRouter(jobcast: Jobcast, options: RouterOptions = {}): Router {
  const router = express.Router();
  const base = jobcast.basePath;
  router.use(base, apiHeaders(), apiCors(jobcast.origins));
  const json = express.json({ limit: jobcast.maxInputBytes });

  router.get('/metrics', async (_req, res) => {
    res.type('text/plain; version=0.0.4').send(await jobcast.metricsText());
  });
  router.get('/healthz', (_req, res) => void res.json({ ok: true, checks: { process: 'alive' } }));
  router.get('/readyz', async (_req, res) => {
    const ready = await jobcast.readiness();
    res.status(ready.ok ? 200 : 503).json(ready);
  });

  router.get(`${base}/openapi.json`, (_req, res) => void res.json(openApiDocument(base)));
  if (jobcast.apps) router.use(createAppsRouter(jobcast, { apps: jobcast.apps, maxEventBytes: jobcast.maxEventBytes }));

  router.get(`${base}/client.js`, async (_req, res) => {
    res.type('application/javascript').set('Cache-Control', 'public, max-age=300').send(await clientBundle());
  });

  router.post(`${base}/jobs/:name`, json, async (req, res) => {
    const name = String(req.params.name);
    jobcast.queues.definition(name);
    if (options.authorizeStart && !(await options.authorizeStart(req, name))) {
      throw new ForbiddenError(`not allowed to start ${name}`);
    }
    const started = await jobcast.start(name, req.body, { owner: options.ownerOf?.(req) });
    res.status(202).json({ ...started, statusUrl: `${base}/jobs/${started.jobId}` });
  });

  router.get(`${base}/jobs/:id`, async (req, res) => {
    const jobId = parseJobId(req.params.id);
    await jobcast.signer.authorize(tokenOf(req), jobChannel(jobId), 'subscribe');
    res.set('Cache-Control', 'no-store').json(await jobcast.status(jobId));
  });

  router.post(`${base}/jobs/:id/cancel`, async (req, res) => {
    const jobId = parseJobId(req.params.id);
    await jobcast.signer.authorize(tokenOf(req), jobChannel(jobId), 'cancel');
    res.status(202).json(await jobcast.cancel(jobId));
  });

  router.post(`${base}/jobs/:id/retry`, async (req, res) => {
    const jobId = parseJobId(req.params.id);
    await jobcast.signer.authorize(tokenOf(req), jobChannel(jobId), 'retry');
    res.status(202).json(await jobcast.retry(jobId));
  });

  router.get(`${base}/jobs/:id/partial`, async (req, res) => {
    const jobId = parseJobId(req.params.id);
    await jobcast.signer.authorize(tokenOf(req), jobChannel(jobId), 'subscribe');
    const html = await jobcast.store.loadPartial(jobChannel(jobId));
    if (html === null) {
      const status = await jobcast.status(jobId).catch(() => null);
      if (!status) throw new NotFoundError(`no job with id ${jobId}`);
      if (status.state === 'completed') throw new NotFoundError(`job ${jobId} has no rendered result`);
      throw new ConflictError(`job ${jobId} is ${status.state}; its result is not ready`);
    }
    jobcast.timeline.record(jobId, 'partial fetched', { ...(req.get('x-request-id') ? { reqId: req.get('x-request-id') } : {}), bytes: Buffer.byteLength(html) });
    res.type('html').set('Cache-Control', 'private, max-age=3600').send(html);
  });

  router.use(errorHandler(jobcast.logger));
  return router;
}

/** A job id of jobcast's own, or of a watched BullMQ queue (`<queue>:<id>`). */
function parseJobId(raw: unknown): string {
  const parsed = typeof raw === 'string' && isWatchedJobId(raw) ? WatchedJobId.safeParse(raw) : JobId.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(`job id: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'id');
  return parsed.data;
}
