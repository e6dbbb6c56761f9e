import express, { type Router } from 'express';

/** What the health router needs of jobcast. */
export interface HealthHost {
  readiness(timeoutMs?: number): Promise<{ ok: boolean; checks: Record<string, string> }>;
}

/** Options of {@link createHealthRouter}. */
export interface HealthRouterOptions {
  /** More fields for `/healthz` (the CLI roles add their role and the gateway's counts). */
  details?: () => Record<string, unknown>;
}

/**
 * Liveness and readiness, for a load balancer or an orchestrator, at the paths it is mounted
 * under (`app.use(jobcast.healthRouter())` → `/healthz`, `/readyz`):
 * - `GET /healthz`: 200 while the process runs
 * - `GET /readyz`: 200 when Redis answers within a second, else 503 with the reason in `checks.redis`
 */
export function createHealthRouter(host: HealthHost, options: HealthRouterOptions = {}): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => void res.set('Cache-Control', 'no-store').json({ ok: true, checks: { process: 'alive' }, ...options.details?.() }));
  router.get('/readyz', async (_req, res) => {
    const ready = await host.readiness();
    res
      .set('Cache-Control', 'no-store')
      .status(ready.ok ? 200 : 503)
      .json(ready);
  });
  return router;
}
