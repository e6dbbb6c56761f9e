import { createHash, createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import express from 'express';

import { type App, AppRegistry } from '../../server/apps/apps.js';
import { createJobcast, type Jobcast } from '../../server/index.js';
import { createLogger } from '../../server/logger.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';

export const EXTERNAL_APP: App = { id: 'shop', key: 'shop-key', secret: 'shop-secret-0123456789', enabled: true };
export const ADMIN_TOKEN = 'external-admin-token-0123456789';
export const OTHER_APP: App = { id: 'other', key: 'other-key', secret: 'other-secret-0123456789', enabled: true };

/** A signed API request as a worker's helper sends it; `replay` resends a recorded one as is. */
export interface Signed {
  method: string;
  url: string;
  body: string | undefined;
}

/** Signs `method path` with `body` the way Pusher's SDKs (and the jobcast.rb/py helpers) do. */
export function sign(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  app: App = EXTERNAL_APP,
  timestamp = Math.floor(Date.now() / 1000),
): Signed {
  const json = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const query = `auth_key=${app.key}&auth_timestamp=${timestamp}&auth_version=1.0${json === undefined ? '' : `&body_md5=${createHash('md5').update(json).digest('hex')}`}`;
  const signature = createHmac('sha256', app.secret).update(`${method}\n${path}\n${query}`).digest('hex');
  return { method, url: `${baseUrl}${path}?${query}&auth_signature=${signature}`, body: json };
}

/** Sends a signed request; resolves to the status and the parsed JSON body. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whichever answer came
export async function send(signed: Signed): Promise<{ status: number; body: any }> {
  const response = await fetch(signed.url, {
    method: signed.method,
    ...(signed.body === undefined ? {} : { body: signed.body, headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** jobcast (router + gateway, no BullMQ worker) with the external-jobs app, plus pages a test serves. */
export async function startExternalStack(options: { maxPartialBytes?: number } = {}) {
  const redisUrl = await testRedisUrl();
  const prefix = uniquePrefix('ext');
  const jobcast: Jobcast = createJobcast({
    redisUrl,
    secret: 'external-test-secret-0123456789',
    keyPrefix: prefix,
    apps: new AppRegistry(EXTERNAL_APP, [OTHER_APP]),
    adminToken: ADMIN_TOKEN,
    ...(options.maxPartialBytes ? { maxPartialBytes: options.maxPartialBytes } : {}),
    logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  const pages = new Map<string, string>();
  const app = express();
  app.use(jobcast.router(), jobcast.appsRouter(), jobcast.adminRouter());
  app.get('/page/:id', (req, res) => void res.type('html').send(pages.get(req.params.id) ?? 'no page'));
  const server: Server = createServer(app);
  jobcast.attachGateway(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    jobcast,
    url,
    prefix,
    redisUrl,
    pages,
    /** Env of a worker process reporting to this jobcast through the helpers. */
    workerEnv: { JOBCAST_URL: url, JOBCAST_APP_ID: EXTERNAL_APP.id, JOBCAST_APP_KEY: EXTERNAL_APP.key, JOBCAST_APP_SECRET: EXTERNAL_APP.secret },
    async close() {
      await jobcast.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deleteKeys(redisUrl, prefix);
    },
  };
}
