import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { connect } from '../../client/connection.js';
import type { EventContext } from '../../client/subscription.js';
import { ProcessCluster } from '../helpers/cluster.js';
import type { RoleProcess } from '../helpers/processes.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';

describe('late subscriber: the job finished a second before anyone subscribed', () => {
  const cluster = new ProcessCluster();
  let gateway: RoleProcess;

  before(async () => {
    gateway = (await cluster.start({ gateways: 1, workers: 1 })).gateways[0]!;
  });
  after(async () => {
    assert.deepEqual(await cluster.stop(), [0, 0]);
  });

  it('gets the snapshot with the outcome before any live event', async () => {
    const started = await cluster.jobcast.start(countJob, { steps: 10 });
    // Wait for the published outcome, not only BullMQ's record of it: the relay publishes it a moment later.
    await waitFor(async () => (await cluster.jobcast.store.read(started.channel)).events.some((e) => e.event === 'completed'), 'the job to complete');
    await new Promise((r) => setTimeout(r, 1000));

    const jc = connect({ url: gateway.url! });
    try {
      const seen: EventContext[] = [];
      const sub = jc.channel(started.channel, { token: started.token });
      sub.on('*', (e) => seen.push(e));
      const states: unknown[] = [];
      sub.onState((s) => states.push(s));
      await sub.subscribe();
      assert.deepEqual(
        seen.map((e) => e.event),
        ['active', 'progress', 'completed'],
      );
      assert.ok(seen.every((e) => e.replayed));
      assert.deepEqual(seen[1]!.data, { pct: 100, stage: 'Step 10', message: '10 of 10' });
      assert.deepEqual(states.at(-1), { state: 'subscribed', recovered: false });
      console.log(
        `late subscriber: published ${(await cluster.jobcast.store.read(started.channel)).offset}, delivered ${seen.length} (the snapshot), lost 0, duplicated 0`,
      );
    } finally {
      jc.close();
    }
  });
});
