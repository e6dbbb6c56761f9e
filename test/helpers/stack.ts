import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import express from 'express';

import type { AppRegistry } from '../../server/apps/apps.js';
import { type AnyJobDefinition, createJobcast, type Gateway, type Jobcast, type RouterOptions } from '../../server/index.js';
import { countJob, exportJob, flakyJob, pickyJob, reportJob, slowpokeJob } from './test-jobs.js';

export { countJob, flakyJob };
import { createLogger } from '../../server/logger.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

/** The header the stack's `authorizeStart` asks for: a stand-in for the host app's own login. */
export const TEST_USER = { 'x-test-user': 'tester' } as const;

export interface TestStack {
  jobcast: Jobcast;
  gateway: Gateway;
  url: string;
  server: Server;
  prefix: string;
  redisUrl: string;
  close(): Promise<void>;
}

/** jobcast with web router, gateway and worker on one HTTP server on port 0, own key prefix. */
export async function startStack(
  options: {
    jobs?: AnyJobDefinition[];
    worker?: boolean;
    gateway?: Parameters<Jobcast['attachGateway']>[1];
    apps?: AppRegistry;
    retentionSeconds?: number;
    retentionCount?: number;
    concurrency?: number;
    inline?: boolean;
    triggersPerSecond?: number;
    router?: RouterOptions;
    routes?: (app: express.Express) => void;
  } = {},
): Promise<TestStack> {
  const redisUrl = await testRedisUrl();
  const prefix = uniquePrefix();
  const jobcast = createJobcast({
    redisUrl,
    secret: TEST_SECRET,
    keyPrefix: prefix,
    jobs: options.jobs ?? [countJob, flakyJob, reportJob, exportJob, slowpokeJob, pickyJob],
    ...(options.apps ? { apps: options.apps } : {}),
    ...(options.retentionSeconds ? { retentionSeconds: options.retentionSeconds } : {}),
    ...(options.retentionCount ? { retentionCount: options.retentionCount } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.inline ? { inline: true } : {}),
    ...(options.triggersPerSecond ? { triggersPerSecond: options.triggersPerSecond } : {}),
    logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  const app = express();
  options.routes?.(app);
  // Like a host app: job starts over HTTP for signed-in users, and the operations routers mounted by hand.
  app.use(jobcast.router(options.router ?? { authorizeStart: (req) => req.get('x-test-user') !== undefined, ownerOf: (req) => req.get('x-test-user') }));
  app.use(jobcast.healthRouter());
  app.use(jobcast.metricsRouter());
  if (options.apps) app.use(jobcast.appsRouter());
  app.use(jobcast.adminRouter());
  const server = createServer(app);
  const gateway = jobcast.attachGateway(server, options.gateway);
  if (options.worker !== false) jobcast.runWorker();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    jobcast,
    gateway,
    url,
    server,
    prefix,
    redisUrl,
    async close() {
      await jobcast.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deleteKeys(redisUrl, prefix);
    },
  };
}
