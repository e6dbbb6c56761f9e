import { createHash, timingSafeEqual } from 'node:crypto';

import express, { type Router } from 'express';

import { ErrorCode } from '../../shared/codes.js';

/** What the metrics router needs of jobcast. */
export interface MetricsHost {
  metricsText(): Promise<string>;
}

/** Options of {@link createMetricsRouter}. */
export interface MetricsRouterOptions {
  /**
   * A bearer token the scraper must send (`Authorization: Bearer <token>`; Prometheus:
   * `authorization: { credentials: … }`). Unset, anyone who reaches the path may read.
   * @defaultValue none
   */
  token?: string | undefined;
}

/**
 * Prometheus text of this process at `GET /metrics` under where it is mounted. The figures
 * (queues, connections, process memory) are operators' business: give it a token, or mount it
 * on an app that listens on an internal port only.
 */
export function createMetricsRouter(host: MetricsHost, options: MetricsRouterOptions = {}): Router {
  if (options.token !== undefined && options.token.length < 16) throw new Error('metricsRouter: the token must be at least 16 characters');
  const expected = options.token === undefined ? null : digest(options.token);
  const router = express.Router();
  router.get('/metrics', async (req, res) => {
    if (expected) {
      const header = req.get('authorization') ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
      // Compared as digests, in constant time: the token's length and prefix stay secret.
      if (!timingSafeEqual(digest(given), expected)) {
        res
          .set('WWW-Authenticate', 'Bearer realm="jobcast metrics"')
          .status(401)
          .json({ error: { code: ErrorCode.unauthorized, message: 'metrics need Authorization: Bearer <JOBCAST_METRICS_TOKEN>' } });
        return;
      }
    }
    res
      .set('Cache-Control', 'no-store')
      .type('text/plain; version=0.0.4')
      .send(await host.metricsText());
  });
  return router;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
