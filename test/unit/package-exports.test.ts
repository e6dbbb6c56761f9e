import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';

// Imports the package by its own name, through the exports map and the built dist/ (npm test
// builds first), the way an application that installed jobcast does.
describe('package entry points', () => {
  it('jobcast/server, jobcast/client and jobcast/shared resolve with their named exports', async () => {
    const server = await import('jobcast/server');
    const client = await import('jobcast/client');
    const shared = await import('jobcast/shared');
    for (const name of ['createJobcast', 'defineJob', 'renderJobElement', 'TokenSigner'])
      assert.equal(typeof (server as Record<string, unknown>)[name], 'function', name);
    for (const name of ['connect', 'trackJob', 'mountJobElements']) assert.equal(typeof (client as Record<string, unknown>)[name], 'function', name);
    assert.equal(typeof shared.SubscribeRequest.safeParse, 'function');
    assert.equal(shared.PROTOCOL_VERSION, 1);
  });

  it('the published types leave out what is marked @internal', async () => {
    const types = await readFile(new URL('../../dist/client/subscription.d.ts', import.meta.url), 'utf8');
    assert.match(types, /subscribe\(\): Promise<this>/, 'the public API is there');
    for (const internal of ['sync', 'receive', 'suspend']) assert.doesNotMatch(types, new RegExp(`^\\s+${internal}\\(`, 'm'), `${internal}() is internal`);
  });
});
