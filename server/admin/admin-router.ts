import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type Router } from 'express';

import { JobId } from '../../shared/channels.js';
import type { JobStatus } from '../../shared/protocol.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { sharedKeys } from '../channels/keys.js';
import { InvalidInputError } from '../errors.js';
import { readPresence } from '../gateway/presence.js';
import { errorHandler } from '../http/error-handler.js';
import { pageHeaders } from '../http/security.js';
import type { JobQueues } from '../jobs/job-queues.js';
import type { Timeline } from '../jobs/timeline.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import { isWatchedJobId, WatchedJobId } from '../watch/watched-job-id.js';
import { adminAuth } from './admin-auth.js';
import { consolePage } from './console-page.js';
import { CONSOLE_SCRIPT } from './console-script.js';
import type { Firehose } from './firehose.js';

/** What the admin pages need of jobcast (a `Jobcast` is one). */
export interface AdminRouterHost {
  readonly logger: Logger;
  readonly redis: RedisClient;
  readonly keyPrefix: string;
  readonly queues: JobQueues;
  readonly store: ChannelStore;
  readonly timeline: Pick<Timeline, 'read'>;
  readonly firehose: Pick<Firehose, 'read'>;
  /** Watched BullMQ queues, shown beside jobcast's own. */
  readonly watchedQueues: readonly { name: string; prefix: string; bullQueue: Queue }[];
  status(jobId: string): Promise<JobStatus>;
}

/**
 * The operator's pages under `/admin/`, behind the admin token: the live debug console, its
 * JSON API, and Bull Board at `/admin/queues`.
 */
export function createAdminRouter(jobcast: AdminRouterHost, options: { adminToken: string | undefined; path?: string }): Router {
  const path = options.path ?? '/admin';
  const router = express.Router();
  router.use(path, adminAuth(options.adminToken, path));
  // Relative links in the console need the trailing slash; express matches both spellings here.
  router.get(path, ...pageHeaders(), (req, res) => {
    const url = new URL(req.originalUrl, 'http://x');
    if (!url.pathname.endsWith('/')) return res.redirect(`${path}/${url.search}`);
    res.type('html').send(consolePage(String(res.locals.cspNonce)));
  });
  router.get(`${path}/console.js`, (_req, res) => void res.type('application/javascript').send(CONSOLE_SCRIPT));

  router.get(`${path}/api/overview`, async (_req, res) => {
    const presence = await readPresence(jobcast.redis, jobcast.keyPrefix);
    const gateways = await jobcast.redis.zcard(sharedKeys(jobcast.keyPrefix).gateways);
    let subscriptions = 0;
    for (const n of presence.values()) subscriptions += n;
    const queues: Record<string, Record<string, number>> = {};
    for (const d of jobcast.queues.definitions)
      queues[d.name] = await jobcast.queues.queue(d.name).getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    // Watched BullMQ queues in the same table, named so they are not taken for job types.
    for (const q of jobcast.watchedQueues)
      queues[`${q.name} (watched, prefix ${q.prefix})`] = await q.bullQueue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    res.json({ gateways, channels: presence.size, subscriptions, queues });
  });

  router.get(`${path}/api/events`, async (req, res) => {
    const after = typeof req.query.after === 'string' && /^\d+-\d+$/.test(req.query.after) ? req.query.after : undefined;
    res.json(await jobcast.firehose.read(after));
  });

  router.get(`${path}/api/jobs/:id/timeline`, async (req, res) => {
    const parsed = isWatchedJobId(String(req.params.id)) ? WatchedJobId.safeParse(req.params.id) : JobId.safeParse(req.params.id);
    if (!parsed.success) throw new InvalidInputError('job id: letters, digits, _ and - (or <queue>:<id> for a watched queue)', 'id');
    const [entries, status] = await Promise.all([jobcast.timeline.read(parsed.data, jobcast.store), jobcast.status(parsed.data).catch(() => null)]);
    res.json({ status, entries });
  });

  // Bull Board, the queue dashboard people know, with the same token.
  const board = new ExpressAdapter();
  board.setBasePath(`${path}/queues`);
  createBullBoard({
    queues: [...jobcast.queues.definitions.map((d) => jobcast.queues.queue(d.name)), ...jobcast.watchedQueues.map((q) => q.bullQueue)].map(
      (q) => new BullMQAdapter(q),
    ),
    serverAdapter: board,
  });
  router.use(`${path}/queues`, board.getRouter());

  router.use(path, errorHandler(jobcast.logger));
  return router;
}
