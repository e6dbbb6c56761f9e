/** Publishes `rate` progress events per second for `durationMs`, round-robin over channels. */
import { Redis } from 'ioredis';
import { RedisChannelStore } from '../../server/channels/redis-channel-store.js';

const [kind, redisUrl, prefix, channelsArg, rateArg, durationArg] = process.argv.slice(2);
const channels = Number(channelsArg);
const rate = Number(rateArg);
const durationMs = Number(durationArg);
const redis = new Redis(redisUrl!);
const store = new RedisChannelStore(redis, { prefix: prefix!, historySize: 100, retentionSeconds: 600 });
const seq = new Array<number>(channels).fill(0);
let sent = 0;
let next = 0;
const started = Date.now();
const pending: Promise<unknown>[] = [];

function publishOne(): void {
  const c = next++ % channels;
  const n = ++seq[c]!;
  if (kind === 'baseline') pending.push(redis.publish(`${prefix}job:bench-${c}`, JSON.stringify({ seq: n, pct: n % 100, ts: Date.now() })));
  else pending.push(store.append(`job:bench-${c}`, 'progress', { pct: n % 100, seq: n }));
  sent += 1;
}

const timer = setInterval(() => {
  const due = Math.floor(((Date.now() - started) / 1000) * rate);
  while (sent < due) publishOne();
  if (Date.now() - started >= durationMs) {
    clearInterval(timer);
    void Promise.all(pending).then(() => {
      process.stdout.write(JSON.stringify({ sent, perChannel: seq }) + '\n');
      redis.disconnect();
    });
  }
}, 5);
