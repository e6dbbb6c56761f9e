import { readFileSync } from 'node:fs';

import { z } from 'zod';

/** An application allowed to publish through the HTTP API, with Pusher-style credentials. */
export interface App {
  id: string;
  key: string;
  secret: string;
  enabled: boolean;
  /** Pusher clients may subscribe to channels without a prefix, unsigned. @defaultValue false */
  publicChannels?: boolean;
  /** Pusher clients may send `client-` events on their private channels. @defaultValue false */
  clientEvents?: boolean;
}

const AppSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'app ids use letters, digits, _ and -'),
  key: z.string().min(1).max(200),
  secret: z.string().min(16, 'app secrets must be at least 16 characters'),
  enabled: z.boolean().default(true),
  publicChannels: z.boolean().default(false),
  clientEvents: z.boolean().default(false),
});
const AppsFile = z.array(AppSchema);

/**
 * The apps of one jobcast. The default app's channels are the plain channel names; every other
 * app's channels live under `app:<id>:`, so no app can reach another's (and the default app may
 * not use names starting with `app:`).
 */
export class AppRegistry {
  readonly #byId = new Map<string, App>();
  readonly defaultAppId: string;

  constructor(defaultApp: App, more: App[] = []) {
    this.defaultAppId = defaultApp.id;
    for (const app of [defaultApp, ...more]) {
      if (this.#byId.has(app.id)) throw new Error(`app ${app.id} is configured twice`);
      this.#byId.set(app.id, app);
    }
  }

  /** Reads `JOBCAST_APPS_FILE` (a JSON array of `{ id, key, secret, enabled?, publicChannels?, clientEvents? }`). */
  static fromFile(defaultApp: App, path: string | undefined): AppRegistry {
    if (!path) return new AppRegistry(defaultApp);
    const parsed = AppsFile.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${path}: ${issue?.path.join('.')}: ${issue?.message}`);
    }
    return new AppRegistry(defaultApp, parsed.data);
  }

  get(id: string): App | undefined {
    return this.#byId.get(id);
  }

  /** The app with this key (what Pusher clients connect with), or `undefined`. */
  byKey(key: string): App | undefined {
    for (const app of this.#byId.values()) if (app.key === key) return app;
    return undefined;
  }

  /** The internal channel name of an app's channel. */
  channelOf(appId: string, name: string): string {
    return appId === this.defaultAppId ? name : `app:${appId}:${name}`;
  }

  /** The app's own name for an internal channel, or `null` when the channel is not the app's. */
  nameIn(appId: string, channel: string): string | null {
    if (appId !== this.defaultAppId) {
      const prefix = `app:${appId}:`;
      return channel.startsWith(prefix) ? channel.slice(prefix.length) : null;
    }
    return channel.startsWith('app:') ? null : channel;
  }
}
