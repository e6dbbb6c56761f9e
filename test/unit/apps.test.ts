import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { AppRegistry } from '../../server/apps/apps.js';
import { openApiDocument } from '../../server/http/openapi.js';

const DEFAULT = { id: 'main', key: 'main-key', secret: 'main-secret-0123456789', enabled: true };

describe('apps of the signed HTTP API', () => {
  it('reads more apps from JOBCAST_APPS_FILE and names a clear problem in it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jobcast-apps-'));
    try {
      const good = join(dir, 'apps.json');
      await writeFile(
        good,
        JSON.stringify([
          { id: 'shop', key: 'shop-key', secret: 'shop-secret-0123456789' },
          { id: 'old', key: 'k', secret: 'old-secret-0123456789', enabled: false },
        ]),
      );
      const apps = AppRegistry.fromFile(DEFAULT, good);
      assert.equal(apps.get('shop')?.enabled, true);
      assert.equal(apps.get('old')?.enabled, false);
      const bad = join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify([{ id: 'x', key: 'k', secret: 'short' }]));
      assert.throws(() => AppRegistry.fromFile(DEFAULT, bad), /0\.secret: app secrets must be at least 16 characters/);
      assert.throws(() => new AppRegistry(DEFAULT, [DEFAULT]), /configured twice/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps each app in its own channel namespace', () => {
    const apps = new AppRegistry(DEFAULT, [{ id: 'shop', key: 'k', secret: 'shop-secret-0123456789', enabled: true }]);
    assert.equal(apps.channelOf('main', 'orders'), 'orders');
    assert.equal(apps.channelOf('shop', 'orders'), 'app:shop:orders');
    assert.equal(apps.nameIn('shop', 'app:shop:orders'), 'orders');
    assert.equal(apps.nameIn('shop', 'orders'), null, "the default app's channel is not shop's");
    assert.equal(apps.nameIn('main', 'app:shop:orders'), null, "shop's channel is not the default app's");
  });

  it('describes the API in an OpenAPI document', () => {
    const doc = openApiDocument('/jobcast') as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.1.0');
    for (const path of [
      '/apps/{appId}/events',
      '/apps/{appId}/batch_events',
      '/apps/{appId}/channels',
      '/apps/{appId}/jobs/{name}',
      '/apps/{appId}/tokens',
      '/jobcast/jobs/{id}/partial',
    ]) {
      assert.ok(path in doc.paths, path);
    }
  });
});
