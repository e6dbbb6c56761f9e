import type { Express } from 'express';

import type { Jobcast } from './jobcast.js';

/** What the CLI roles serve besides the router: where they always served it, at the root. */
export interface OperationsOptions {
  /** The role, reported by `/healthz`. */
  role: string;
  /** More `/healthz` fields (the gateway's counts). */
  details?: () => Record<string, unknown>;
  /** Bearer token of `/metrics` (`JOBCAST_METRICS_TOKEN`). */
  metricsToken: string | undefined;
  /** Mount the signed `/apps/…` API and the admin pages too (the web role). */
  api: boolean;
}

/**
 * Mounts health, metrics and, for the web role, the signed `/apps/…` API and `/admin/`, at the
 * paths the roles have always had, so deployments do not change when the library's
 * `router()` stopped claiming them.
 */
export function mountOperations(app: Express, jobcast: Jobcast, options: OperationsOptions): void {
  app.use(jobcast.healthRouter({ details: () => ({ role: options.role, ...options.details?.() }) }));
  app.use(jobcast.metricsRouter({ token: options.metricsToken }));
  if (options.api) {
    if (jobcast.apps) app.use(jobcast.appsRouter());
    app.use(jobcast.adminRouter());
  }
}

/** The JSON 404 of the roles' own apps, for every path nothing claimed. */
export function notFound(app: Express): void {
  app.use((_req, res) => void res.status(404).json({ error: { code: 'jobcast:not-found', message: 'not found' } }));
}
