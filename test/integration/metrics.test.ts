import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { connect } from '../../client/connection.js';
import { jobChannel } from '../../shared/constants.js';
import { ProcessCluster } from '../helpers/cluster.js';
import type { RoleProcess } from '../helpers/processes.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { countJob } from '../helpers/test-jobs.js';
import { waitFor } from '../helpers/wait.js';

/** The value of one sample in Prometheus text, or 0. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('metrics across a scripted run', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  const scrape = async () => (await fetch(`${stack.url}/metrics`)).text();

  it('a job completes and a client acknowledges: counters and histograms move by the right amounts', async () => {
    const before = await scrape();
    const jobId = `m-${Math.random().toString(36).slice(2, 8)}`;
    const token = await stack.jobcast.token([jobChannel(jobId)]);
    const jc = connect({ url: stack.url });
    try {
      const seen: string[] = [];
      const sub = jc.channel(jobChannel(jobId), { token });
      sub.on('*', (e) => seen.push(e.event));
      await sub.subscribe();
      await stack.jobcast.start(countJob, { steps: 5 }, { jobId });
      await waitFor(() => seen.includes('completed'), 'completed');
      let after = '';
      await waitFor(
        async () => sample((after = await scrape()), 'jobcast_outcome_ack_latency_seconds_count') > sample(before, 'jobcast_outcome_ack_latency_seconds_count'),
        'the acknowledgement to be counted',
      );
      const delta = (name: string, labels = '') => sample(after, name, labels) - sample(before, name, labels);
      assert.equal(delta('jobcast_events_published_total', '{type="progress"}'), 5);
      assert.equal(delta('jobcast_events_published_total', '{type="completed"}'), 1);
      assert.equal(delta('jobcast_events_published_total', '{type="queued"}'), 1);
      assert.equal(delta('jobcast_events_delivered_total', '{type="completed"}'), 1, 'one subscriber got the outcome');
      assert.equal(delta('jobcast_outcome_ack_latency_seconds_count'), 1, 'the browser acknowledged it once');
      assert.ok(delta('jobcast_delivery_latency_seconds_count') >= 7);
      assert.equal(delta('jobcast_job_duration_seconds_count', '{job="count",outcome="completed"}'), 1);
      assert.equal(sample(after, 'jobcast_outcomes_unacknowledged'), 0);
      assert.equal(sample(after, 'jobcast_connections', '{transport="socket.io"}'), 1);
      assert.equal(sample(after, 'jobcast_connections', '{transport="pusher"}'), 0);
      assert.equal(sample(after, 'jobcast_subscriptions'), 1);
      assert.ok(sample(after, 'jobcast_queue_jobs', '{job="count",state="completed"}') >= 1);
      for (const line of after.split('\n').filter((l) => l && !l.startsWith('#'))) assert.match(line, /^jobcast_/, 'every name is prefixed jobcast_');
    } finally {
      jc.close();
    }
  });
});

describe('health: /healthz is the process, /readyz is Redis', () => {
  const redis = new OwnRedis();
  const cluster = new ProcessCluster();
  let gateway: RoleProcess;
  before(async () => {
    await redis.start();
    gateway = (await cluster.start({ gateways: 1, workers: 0, redisUrl: redis.url })).gateways[0]!;
  });
  after(async () => {
    await cluster.stop();
    await redis.destroy();
  });

  it('answers 503 with the reason while Redis is down, and 200 after it returns', async () => {
    const ready = async () => {
      const res = await fetch(`${gateway.url}/readyz`);
      return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
    };
    assert.equal((await ready()).status, 200);
    await redis.stop();
    const down = await waitFor(async () => ((await ready()).status === 503 ? ready() : null), 'readyz to say 503');
    assert.match(down!.body.checks.redis!, /unreachable/);
    assert.equal((await fetch(`${gateway.url}/healthz`)).status, 200, 'the process itself is alive');
    await redis.start();
    await waitFor(async () => (await ready()).status === 200, 'readyz to recover', 20_000);
  });
});
