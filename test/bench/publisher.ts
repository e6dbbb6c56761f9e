/**
 * Publishes `rate` progress events per second for `durationMs`, round-robin over channels, as
 * workers would: a Redis PUBLISH of JSON (baseline) or jobcast's channel append. Sequence
 * numbers start after `seqBase`, so a window's events are told apart from a previous one's.
 * A long-lived process driven over IPC: `{ rate, durationMs, seqBase }` → `{ sent, perChannel }`
 * once every publish was acknowledged.
 */
import { Redis } from 'ioredis';

import { RedisChannelStore } from '../../server/channels/redis-channel-store.js';
import { STAGE_SAMPLE_EVERY, wallNow } from '../../server/gateway/stage-probe.js';
import type { PublishRun } from './processes.js';

const [kind, redisUrl, prefix, channelsArg] = process.argv.slice(2);
const channels = Number(channelsArg);
const redis = new Redis(redisUrl!, { enableAutoPipelining: true });
const store = new RedisChannelStore(redis, { prefix: prefix! });

/** The window being published: a call with the same `seqBase` continues it. */
let current = { seqBase: -1, perChannel: [] as number[], cursor: 0 };

/** Publishes for a while; resolves with the window's events per channel once Redis acknowledged every one. */
function run(rate: number, durationMs: number, seqBase: number): Promise<PublishRun> {
  if (current.seqBase !== seqBase) current = { seqBase, perChannel: new Array<number>(channels).fill(0), cursor: 0 };
  const { perChannel } = current;
  let sent = 0;
  let outstanding = 0;
  const samples: PublishRun['samples'] = [];
  let finished = false;
  const started = Date.now();
  return new Promise((resolve) => {
    const done = () => {
      outstanding -= 1;
      if (finished && outstanding === 0) resolve({ sent, perChannel, samples });
    };
    const publishOne = () => {
      const c = current.cursor++ % channels;
      const seq = seqBase + ++perChannel[c]!;
      outstanding += 1;
      sent += 1;
      const channel = `job:bench-${c}`;
      const calledAt = wallNow();
      // The key the stage probes sample by: the bench's seq on plain pub/sub, the offset on jobcast.
      const published: Promise<number> =
        kind === 'baseline' || kind === 'floor'
          ? redis.publish(`${prefix}${channel}`, JSON.stringify({ seq, pct: seq % 100, ts: Date.now() })).then(() => seq)
          : // Pusher frames carry no publish time: for pusher-js clients it travels in the data.
            store.append(channel, 'progress', kind === 'pusher' ? { pct: seq % 100, seq, ts: Date.now() } : { pct: seq % 100, seq }).then((e) => e!.offset);
      published.then(
        (key) => {
          if (key % STAGE_SAMPLE_EVERY === 0) samples.push([channel, key, calledAt, wallNow()]);
          done();
        },
        (error: unknown) => {
          process.stderr.write(`publish failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
    };
    const timer = setInterval(() => {
      const elapsed = Date.now() - started;
      const due = Math.floor((Math.min(elapsed, durationMs) / 1000) * rate);
      while (sent < due) publishOne();
      if (elapsed < durationMs) return;
      clearInterval(timer);
      finished = true;
      if (outstanding === 0) resolve({ sent, perChannel, samples });
    }, 5);
  });
}

process.on('message', (m: { rate: number; durationMs: number; seqBase: number } | { cmd: 'close' }) => {
  if ('cmd' in m) {
    redis.disconnect();
    process.exit(0);
  }
  void run(m.rate, m.durationMs, m.seqBase).then((result) => process.send!(result));
});
process.send!({ ready: true });
