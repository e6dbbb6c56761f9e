import express, { type Request, type Router } from 'express';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { z } from 'zod';

import { ChannelName, isJobChannel, JobId } from '../../shared/channels.js';
import type { JobStatus, StartedJob } from '../../shared/protocol.js';
import { Right, TokenTtlSeconds } from '../../shared/token-claims.js';
import type { AppRegistry } from '../apps/apps.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { sharedKeys } from '../channels/keys.js';
import { ForbiddenError, InvalidInputError, invalidInputFrom, NotFoundError, PayloadTooLargeError, RateLimitedError } from '../errors.js';
import { readPresence } from '../gateway/presence.js';
import type { CancelResult } from '../jobs/cancellation.js';
import type { StartOptions } from '../jobs/start-job.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import { errorHandler } from './error-handler.js';
import type { ExternalJobsHost } from './external-jobs-router.js';
import { createExternalJobsRouter } from './external-jobs-router.js';
import { verifyPusherSignature } from './pusher-signature.js';
import { apiHeaders } from './security.js';

/** What the signed apps API needs of jobcast (a `Jobcast` is one). */
export interface AppsRouterHost extends ExternalJobsHost {
  readonly logger: Logger;
  readonly redis: RedisClient;
  readonly keyPrefix: string;
  readonly triggersPerSecond: number;
  readonly store: Pick<ChannelStore, 'append'>;
  start(job: string, input: unknown, options?: StartOptions): Promise<StartedJob>;
  status(jobId: string): Promise<JobStatus>;
  cancel(jobId: string): Promise<CancelResult>;
  appOfJob(jobId: string): Promise<string | null>;
  token(channels: string[], options?: { owner?: string; rights?: Right[]; ttlSeconds?: number }): Promise<string>;
}

/** Options of {@link createAppsRouter}. */
export interface AppsRouterOptions {
  apps: AppRegistry;
  /** Largest event data in bytes, as Pusher limits it. @defaultValue 10240 */
  maxEventBytes?: number;
}

const EventBody = z.object({
  name: z.string().min(1).max(200),
  data: z.string(),
  channels: z.array(z.string()).min(1).max(100).optional(),
  channel: z.string().optional(),
  socket_id: z.string().max(100).optional(),
});
const BatchBody = z.object({
  batch: z
    .array(EventBody.omit({ channels: true }).extend({ channel: z.string() }))
    .min(1)
    .max(10),
});
const TokenBody = z.object({
  channels: z.array(z.string()).min(1).max(100),
  rights: z.array(Right).optional(),
  ttlSeconds: TokenTtlSeconds.optional(),
  owner: z.string().max(200).optional(),
});

/**
 * The HTTP API for other languages, signed the way Pusher's server SDKs sign, at the paths they
 * call, so `Pusher.trigger` from Ruby, Python, PHP or Node works pointed at jobcast:
 * - `POST /apps/:appId/events`, `POST /apps/:appId/batch_events`
 * - `GET /apps/:appId/channels`, `GET /apps/:appId/channels/:name`
 * and, for what Pusher has no word for, with the same signature:
 * - `POST /apps/:appId/jobs/:name`, `GET /apps/:appId/jobs/:id`, `POST /apps/:appId/jobs/:id/cancel`
 * - `POST /apps/:appId/tokens`
 */
export function createAppsRouter(jobcast: AppsRouterHost, options: AppsRouterOptions): Router {
  const { apps } = options;
  const maxEventBytes = options.maxEventBytes ?? 10_240;
  const router = express.Router();
  const verify = (req: Request) =>
    verifyPusherSignature(req as Request & { rawBody?: Buffer }, String(req.params.appId), { apps, redis: jobcast.redis, keyPrefix: jobcast.keyPrefix });

  // Per app key, across every process: a runaway publisher slows down, the others do not.
  const writes = new RateLimiterRedis({
    storeClient: jobcast.redis,
    keyPrefix: sharedKeys(jobcast.keyPrefix).rateLimit('apps'),
    points: jobcast.triggersPerSecond,
    duration: 1,
  });
  const verifyWrite = async (req: Request) => {
    const app = await verify(req);
    try {
      await writes.consume(app.key);
    } catch (limited) {
      if (!(limited instanceof RateLimiterRes)) throw limited;
      throw new RateLimitedError(`more than ${jobcast.triggersPerSecond} requests per second for this app`, limited.msBeforeNext);
    }
    return app;
  };

  router.use('/apps/:appId', apiHeaders());
  router.use(
    '/apps/:appId',
    express.json({
      limit: 1024 * 1024,
      verify: (req, _res, buf) => void ((req as Request & { rawBody?: Buffer }).rawBody = buf),
    }),
  );

  /** An app's channel name → the internal one; names of jobcast's own spaces are refused. */
  function channelOf(appId: string, name: string): string {
    const parsed = ChannelName.safeParse(name);
    if (!parsed.success) throw new InvalidInputError(`channel ${JSON.stringify(name).slice(0, 80)}: ${parsed.error.issues[0]?.message}`, 'channel');
    if (isJobChannel(name) || name.startsWith('app:')) throw new ForbiddenError(`channel names starting with job: or app: are jobcast's own`);
    return apps.channelOf(appId, name);
  }

  async function publish(appId: string, event: z.infer<typeof EventBody>, channels: string[]): Promise<void> {
    if (event.name.startsWith('jobcast:')) throw new InvalidInputError('event names starting with jobcast: are reserved', 'name');
    if (Buffer.byteLength(event.data) > maxEventBytes) throw new PayloadTooLargeError(`event data is over the ${maxEventBytes}-byte limit`);
    const internal = channels.map((c) => channelOf(appId, c));
    let data: unknown = event.data;
    try {
      data = JSON.parse(event.data); // Pusher SDKs send JSON text; clients get the value
    } catch {
      // plain text stays text
    }
    for (const channel of internal) await jobcast.store.append(channel, event.name, data, event.socket_id ? { exclude: event.socket_id } : {});
  }

  function parse<T>(schema: z.ZodType<T>, body: unknown): T {
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw invalidInputFrom(parsed.error.issues, 'body');
    return parsed.data;
  }

  router.post('/apps/:appId/events', async (req, res) => {
    const app = await verifyWrite(req);
    const event = parse(EventBody, req.body);
    const channels = event.channels ?? (event.channel ? [event.channel] : []);
    if (channels.length === 0) throw new InvalidInputError('body: channel or channels is required', 'channels');
    // Check every channel before publishing any: a bad one changes nothing.
    channels.forEach((c) => channelOf(app.id, c));
    await publish(app.id, event, channels);
    res.json({});
  });

  router.post('/apps/:appId/batch_events', async (req, res) => {
    const app = await verifyWrite(req);
    const { batch } = parse(BatchBody, req.body);
    for (const event of batch) {
      channelOf(app.id, event.channel);
      if (Buffer.byteLength(event.data) > maxEventBytes) throw new PayloadTooLargeError(`event data is over the ${maxEventBytes}-byte limit`);
    }
    for (const event of batch) await publish(app.id, event, [event.channel]);
    res.json({ batch: batch.map(() => ({})) });
  });

  router.get('/apps/:appId/channels', async (req, res) => {
    const app = await verify(req);
    const prefix = typeof req.query.filter_by_prefix === 'string' ? req.query.filter_by_prefix : '';
    const withCount = String(req.query.info ?? '')
      .split(',')
      .includes('subscription_count');
    const channels: Record<string, { subscription_count?: number }> = {};
    for (const [internal, count] of await readPresence(jobcast.redis, jobcast.keyPrefix)) {
      const name = apps.nameIn(app.id, internal);
      if (name === null || isJobChannel(name) || !name.startsWith(prefix) || count <= 0) continue;
      channels[name] = withCount ? { subscription_count: count } : {};
    }
    res.json({ channels });
  });

  router.get('/apps/:appId/channels/:channelName', async (req, res) => {
    const app = await verify(req);
    const internal = channelOf(app.id, String(req.params.channelName));
    const count = (await readPresence(jobcast.redis, jobcast.keyPrefix)).get(internal) ?? 0;
    const withCount = String(req.query.info ?? '')
      .split(',')
      .includes('subscription_count');
    res.json({ occupied: count > 0, ...(withCount ? { subscription_count: count } : {}) });
  });

  router.post('/apps/:appId/tokens', async (req, res) => {
    const app = await verify(req);
    const body = parse(TokenBody, req.body);
    const channels = body.channels.map((c) => channelOf(app.id, c));
    const token = await jobcast.token(channels, {
      rights: body.rights ?? ['subscribe'],
      ...(body.owner ? { owner: body.owner } : {}),
      ...(body.ttlSeconds ? { ttlSeconds: body.ttlSeconds } : {}),
    });
    res.json({ token, channels });
  });

  router.post('/apps/:appId/jobs/:name', async (req, res) => {
    const app = await verifyWrite(req);
    const started = await jobcast.start(String(req.params.name), req.body, { app: app.id });
    res.status(202).json(started);
  });

  router.get('/apps/:appId/jobs/:id', async (req, res) => {
    const app = await verify(req);
    const jobId = await ownJob(app.id, req.params.id);
    res.json(await jobcast.status(jobId));
  });

  router.post('/apps/:appId/jobs/:id/cancel', async (req, res) => {
    const app = await verify(req);
    const jobId = await ownJob(app.id, req.params.id);
    res.status(202).json(await jobcast.cancel(jobId));
  });

  /** The job id if the job belongs to the app (jobs started without an app are the default app's). */
  async function ownJob(appId: string, raw: unknown): Promise<string> {
    const parsed = JobId.safeParse(raw);
    if (!parsed.success) throw new InvalidInputError(`job id: ${parsed.error.issues[0]?.message}`, 'id');
    const owner = (await jobcast.appOfJob(parsed.data)) ?? apps.defaultAppId;
    // Another app's job answers like a missing one: its existence is not ours to tell.
    if (owner !== appId) throw new NotFoundError(`no job with id ${parsed.data}`);
    return parsed.data;
  }

  router.use(createExternalJobsRouter(jobcast, { apps }));
  router.use(errorHandler(jobcast.logger));
  return router;
}
