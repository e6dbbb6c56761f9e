/**
 * A process of benchmark clients: N connections, each subscribed to one channel, recording the
 * latency (publish call → handler) and the offsets/sequence numbers received. Controlled over IPC.
 */
import { io as ioClient, type Socket } from 'socket.io-client';
import { connect, type JobcastConnection } from '../../client/connection.js';

const [kind, url, countArg, channelsArg, tokensJson] = process.argv.slice(2);
const count = Number(countArg);
const channels = Number(channelsArg);
const tokens = JSON.parse(tokensJson ?? '[]') as string[];
let latencies: number[] = [];
const received = new Map<number, number[]>(); // client index → sequence numbers seen
const closers: (() => void)[] = [];

async function start(): Promise<void> {
  const batch = 100;
  for (let i = 0; i < count; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, async (_, k) => {
        const index = i + k;
        const channel = index % channels;
        received.set(index, []);
        const record = (seq: number, ts: number) => {
          latencies.push(Date.now() - ts);
          received.get(index)!.push(seq);
        };
        if (kind === 'baseline') {
          const socket: Socket = ioClient(url!, { path: '/relay/socket.io', transports: ['websocket'] });
          await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
          socket.on('progress', (data: { seq: number; ts: number }) => record(data.seq, data.ts));
          await socket.emitWithAck('join', `job:bench-${channel}`);
          closers.push(() => socket.disconnect());
        } else {
          const jc: JobcastConnection = connect({ url: url! });
          const sub = jc.channel(`job:bench-${channel}`, { token: tokens[channel]! });
          sub.on('progress', (e) => record((e.data as { seq: number }).seq, e.ts));
          await sub.subscribe();
          closers.push(() => jc.close());
        }
      }),
    );
  }
}

process.on('message', (message: { cmd: string }) => {
  if (message.cmd === 'reset') {
    latencies = [];
    for (const list of received.values()) list.length = 0;
    process.send!({ ok: true });
  } else if (message.cmd === 'stats') {
    const perClient = [...received.values()].map((list) => ({ n: list.length, unique: new Set(list).size }));
    process.send!({ latencies, perClient });
  } else if (message.cmd === 'close') {
    for (const close of closers) close();
    process.exit(0);
  }
});

start().then(() => process.send!({ ready: true }), (error: unknown) => {
  process.send!({ error: String(error) });
  process.exit(1);
});
