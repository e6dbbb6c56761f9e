import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';

import { PusherChannelName } from '../../shared/pusher-protocol.js';
import type { AppRegistry } from '../apps/apps.js';
import { ForbiddenError, invalidInputFrom } from '../errors.js';
import { channelSignature, internalChannel, kindOf } from '../gateway/pusher/pusher-channels.js';
import type { Logger } from '../logger.js';
import type { TokenSigner } from '../tokens.js';
import { errorHandler, tokenOf } from './error-handler.js';

/** What the endpoint uses of jobcast. */
export interface PusherAuthOptions {
  apps: AppRegistry;
  signer: Pick<TokenSigner, 'authorize'>;
  basePath: string;
  logger: Logger;
}

const AuthRequest = z.object({
  socket_id: z
    .string()
    .regex(/^\d+\.\d+$/, 'socket_id looks like 1234.5678')
    .max(40),
  channel_name: PusherChannelName,
  /** The app whose clients connect (its key); the default app when absent. */
  app_key: z.string().min(1).max(200).optional(),
  /** The jobcast channel token, when it is not in the Authorization header. */
  token: z.string().min(1).max(4096).optional(),
});

/**
 * `POST <base>/pusher/auth`: Pusher's channel authorisation endpoint for jobcast channels, so
 * pusher-js's `channelAuthorization.endpoint` can point at it. It takes `socket_id` and
 * `channel_name` as pusher-js sends them (form or JSON) and a jobcast channel token (the
 * `Authorization: Bearer` header or a `token` param); when the token grants `subscribe` on the
 * channel (`private-jobcast-job-<id>` is the job channel `job:<id>`) it answers Pusher's
 * `{ auth }`, signed with the app's secret.
 */
export function createPusherAuthRouter(options: PusherAuthOptions): Router {
  const router = express.Router();
  const body = [express.urlencoded({ extended: false, limit: 16 * 1024 }), express.json({ limit: 16 * 1024 })];
  router.post(`${options.basePath}/pusher/auth`, ...body, async (req: Request, res: Response) => {
    const parsed = AuthRequest.safeParse({ ...(req.body as object | undefined) });
    if (!parsed.success) throw invalidInputFrom(parsed.error.issues, 'body');
    const { socket_id: socketId, channel_name: name, app_key: appKey } = parsed.data;
    const app = appKey === undefined ? options.apps.get(options.apps.defaultAppId) : options.apps.byKey(appKey);
    if (!app || !app.enabled) throw new ForbiddenError('unknown or disabled app key');
    if (kindOf(name) !== 'private') throw new ForbiddenError('only private- channels are authorised here');
    await options.signer.authorize(tokenOf(req) ?? parsed.data.token, internalChannel(options.apps, app.id, name), 'subscribe');
    res.set('Cache-Control', 'no-store').json({ auth: channelSignature(app, socketId, name) });
  });
  router.use(errorHandler(options.logger));
  return router;
}
