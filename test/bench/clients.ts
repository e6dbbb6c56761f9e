/**
 * A process of benchmark clients: N connections, each subscribed to one channel, recording the
 * latency (publish call → handler) and the sequence numbers received. Controlled over IPC by
 * {@link ClientGroup}: `reset` (start a measured window), `arm` (note when each client first
 * sees an event published after a moment: the reconnect storm's catch-up), `stats`, `close`.
 */
import PusherServer from 'pusher';
import { io as ioClient } from 'socket.io-client';
import WebSocket from 'ws';

import { connect } from '../../client/connection.js';
import { STAGE_SAMPLE_EVERY, wallNow } from '../../server/gateway/stage-probe.js';
import { pusherJs } from '../helpers/pusher-clients.js';
import { SECRET, type StageSample } from './processes.js';

const [kind, url, countArg, firstArg, channelsArg, tokensJson] = process.argv.slice(2);
const count = Number(countArg);
const first = Number(firstArg);
const channels = Number(channelsArg);
const tokens = JSON.parse(tokensJson ?? '[]') as string[];

interface Client {
  channel: number;
  seqs: number[];
  /** Events progress conflation skipped (jobcast marks the newer event `conflated`). */
  conflated: number;
  caughtUpAt?: number;
}

let latencies: number[] = [];
let samples: StageSample[] = [];
/** Sequence numbers at or below this belong to an earlier window. */
let base = 0;
let armedAt = Infinity;
const clients: Client[] = [];
const closers: (() => void)[] = [];

/**
 * One event reached a client's handler. `key` is what the gateway's stage probe samples by:
 * the event's offset on jobcast, the bench's `seq` on the relay and the floor.
 */
function record(client: Client, seq: number, ts: number, conflated: boolean, key = seq): void {
  if (seq <= base) return;
  if (key % STAGE_SAMPLE_EVERY === 0) samples.push([`job:bench-${client.channel}`, key, wallNow()]);
  const now = Date.now();
  latencies.push(now - ts);
  const previous = client.seqs.at(-1);
  if (conflated && previous !== undefined && seq > previous + 1) client.conflated += seq - previous - 1;
  client.seqs.push(seq);
  if (ts > armedAt && client.caughtUpAt === undefined) client.caughtUpAt = now;
}

async function open(client: Client): Promise<void> {
  const name = `job:bench-${client.channel}`;
  if (kind === 'baseline') {
    const socket = ioClient(url!, { path: '/relay/socket.io', transports: ['websocket'] });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('progress', (data: { seq: number; ts: number }) => record(client, data.seq, data.ts, false));
    await socket.emitWithAck('join', name);
    // The hand-written client rejoins its room after a reconnect; what was sent meanwhile is gone.
    socket.io.on('reconnect', () => void socket.emit('join', name));
    closers.push(() => socket.disconnect());
  } else if (kind === 'floor') {
    const ws = new WebSocket(`${url!.replace(/^http/, 'ws')}/floor`, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => ws.send(name));
      ws.once('message', () => resolve()); // "ok": the floor has it in the channel's set
      ws.once('error', reject);
    });
    ws.on('message', (raw) => {
      const data = JSON.parse(raw.toString()) as { seq: number; ts: number };
      record(client, data.seq, data.ts, false);
    });
    closers.push(() => ws.terminate());
  } else if (kind === 'pusher') {
    // pusher-js, unchanged, on the gateway's default app; the official SDK signs the channel.
    const sdk = new PusherServer({ appId: 'jobcast', key: 'jobcast-key', secret: SECRET, host: '127.0.0.1' });
    const pusher = pusherJs(url!, 'jobcast-key', {
      channelAuthorization: { endpoint: '', transport: 'ajax', customHandler: (p, cb) => cb(null, sdk.authorizeChannel(p.socketId, p.channelName)) },
    });
    const channel = pusher.subscribe(`private-jobcast-job-bench-${client.channel}`);
    channel.bind('progress', (data: { seq: number; ts: number }) => record(client, data.seq, data.ts, false));
    await new Promise<void>((resolve, reject) => {
      channel.bind('pusher:subscription_succeeded', () => resolve());
      channel.bind('pusher:subscription_error', (e: unknown) => reject(new Error(`pusher subscribe: ${JSON.stringify(e)}`)));
    });
    closers.push(() => pusher.disconnect());
  } else {
    const jc = connect({ url: url! });
    const sub = jc.channel(name, { token: tokens[client.channel]! });
    sub.on<{ seq: number }>('progress', (e) => record(client, e.data.seq, e.ts, e.conflated === true, e.offset));
    await sub.subscribe();
    closers.push(() => jc.close());
  }
}

async function start(): Promise<void> {
  const batch = 100;
  for (let i = 0; i < count; i += batch) {
    const opened: Promise<void>[] = [];
    for (let k = i; k < Math.min(count, i + batch); k++) {
      const client: Client = { channel: (first + k) % channels, seqs: [], conflated: 0 };
      clients.push(client);
      opened.push(open(client));
    }
    await Promise.all(opened);
  }
}

type Command = { cmd: 'reset'; base: number } | { cmd: 'arm'; at: number } | { cmd: 'stats' } | { cmd: 'close' };

process.on('message', (message: Command) => {
  if (message.cmd === 'reset') {
    latencies = [];
    samples = [];
    base = message.base;
    armedAt = Infinity;
    for (const client of clients) {
      client.seqs = [];
      client.conflated = 0;
      delete client.caughtUpAt;
    }
    process.send!({ ok: true });
  } else if (message.cmd === 'arm') {
    armedAt = message.at;
    process.send!({ ok: true });
  } else if (message.cmd === 'stats') {
    const perClient = clients.map((c) => ({
      channel: c.channel,
      n: c.seqs.length,
      unique: new Set(c.seqs).size,
      conflated: c.conflated,
      caughtUpAt: c.caughtUpAt ?? null,
    }));
    process.send!({ latencies, samples, perClient });
  } else if (message.cmd === 'close') {
    for (const close of closers) close();
    process.exit(0);
  }
});

start().then(
  () => process.send!({ ready: true }),
  (error: unknown) => {
    process.send!({ error: String(error) });
    process.exit(1);
  },
);
