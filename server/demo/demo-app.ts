import { randomUUID } from 'node:crypto';

import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';

import type { StartedJob } from '../../shared/protocol.js';
import { JobcastError } from '../errors.js';
import { renderJobElement } from '../http/job-element.js';
import { pageHeaders } from '../http/security.js';
import type { StartOptions } from '../jobs/start-job.js';
import type { Logger } from '../logger.js';
import type { createAnalyseHistoryJob } from './analyse-history-job.js';
import { DEMO_CSS } from './demo-css.js';
import { formPage, jobPage } from './pages.js';

/** A URL with the values of token-like query parameters replaced. */
export function redactTokens(url: string): string {
  return url.replace(/([?&](?:token|auth_signature)=)[^&]*/g, '$1[redacted]');
}

/** What the demo app needs of jobcast (a `Jobcast` is one): what a user's own app uses. */
export interface DemoHost {
  readonly logger: Logger;
  start(job: string, input: unknown, options?: StartOptions): Promise<StartedJob>;
  router(): express.Router;
}

/** Options of {@link createDemoApp}. */
export interface DemoAppOptions {
  /** Where browsers reach the gateway when it is not this server. */
  gatewayUrl?: string;
  /** Pre-filled repository path. @defaultValue the first allowed repository */
  defaultPath?: string;
  /** The demo job, made by `createAnalyseHistoryJob` with the allowed repositories. */
  job: ReturnType<typeof createAnalyseHistoryJob>;
  /** The repositories the job may read, shown on the form. */
  repositories: readonly string[];
}

/**
 * The demo web app: a form that starts the history analysis (see `createAnalyseHistoryJob`)
 * and the page that follows it, plus the jobcast router. The same shape a user's own express
 * app takes: the form posts to the app's own route, which calls `jobcast.start()`.
 */
export function createDemoApp(jobcast: DemoHost, options: DemoAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // One request id per request, taken from X-Request-Id when a proxy set one; it is logged with
  // the job id the request started, so one id leads from the request to the job.
  app.use(
    pinoHttp({
      logger: jobcast.logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url?.startsWith('/jobcast/client.js') === true },
      // Tokens travel in query strings (?token=); they must never reach a log line.
      serializers: { req: (req: { method?: string; url?: string; id?: unknown }) => ({ id: req.id, method: req.method, url: redactTokens(req.url ?? '') }) },
    }),
  );
  const defaultPath = options.defaultPath ?? options.repositories[0] ?? process.cwd();
  const form = express.urlencoded({ extended: false, limit: '8kb' });

  const pages = pageHeaders(options.gatewayUrl ? { gatewayUrl: options.gatewayUrl } : {});
  app.get('/demo.css', (_req, res) => void res.type('css').set('Cache-Control', 'public, max-age=300').send(DEMO_CSS));

  app.get('/', ...pages, (_req, res) => {
    res.type('html').send(formPage({ path: defaultPath, pace: 'watchable' }));
  });

  app.post('/analyses', ...pages, form, async (req, res) => {
    const values = { path: String(req.body?.path ?? ''), pace: String(req.body?.pace ?? 'watchable') };
    try {
      const started = await jobcast.start(options.job.name, values, { owner: req.ip, requestId: String(req.id) });
      res.type('html').send(jobPage(values.path, renderJobElement(started), options.gatewayUrl, String(res.locals.cspNonce)));
    } catch (error) {
      if (!(error instanceof JobcastError)) throw error;
      const field = 'field' in error && typeof error.field === 'string' ? error.field : undefined;
      res
        .status(error.status)
        .type('html')
        .send(formPage(values, { ...(field ? { field } : {}), message: error.message.replace(/^input\.\w+: /, '') }));
    }
  });

  app.use(jobcast.router());
  return app;
}
