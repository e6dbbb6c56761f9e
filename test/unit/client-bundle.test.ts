import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';

import { clientBundle } from '../../server/http/client-bundle.js';

describe('the one-file browser client', () => {
  it('builds, carries no zod, and stays under the 30 KB gzipped budget (socket.io client included)', async () => {
    const code = await clientBundle();
    const gzipped = gzipSync(code, { level: 9 }).length;
    console.log(`client bundle: ${(code.length / 1024).toFixed(1)} KB minified, ${(gzipped / 1024).toFixed(1)} KB gzipped`);
    assert.ok(gzipped < 30 * 1024, `${gzipped} bytes gzipped`);
    assert.ok(!code.includes('ZodError'), 'schemas stay on the server');
    assert.match(code, /window\.jobcast|\.jobcast=/);
  });
});
