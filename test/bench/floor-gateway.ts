/**
 * The floor: the least a Node process can do to fan Redis messages out to WebSockets. A bare
 * `ws` server; a client sends the name of its channel once; for each Redis message the
 * complete WebSocket frame is built once and written to every socket of the channel, straight
 * to the TCP socket. No protocol, no acknowledgement, no recovery: what is left is the cost of
 * Redis pub/sub, the kernel and the event loop, against which the other rows are read.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Redis } from 'ioredis';
import { type WebSocket, WebSocketServer } from 'ws';

import { textFrame } from '../../server/gateway/event-frames.js';
import { stageProbeFromEnv, wallNow } from '../../server/gateway/stage-probe.js';

const prefix = process.env.BENCH_PREFIX ?? 'bench:';
const rooms = new Map<string, Set<WebSocket>>();
const http = createServer();
const wss = new WebSocketServer({ server: http, path: '/floor', perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.once('message', (name) => {
    const room = name.toString();
    let members = rooms.get(room);
    if (!members) rooms.set(room, (members = new Set()));
    members.add(ws);
    ws.once('close', () => members.delete(ws));
    ws.send('ok');
  });
});
/** The TCP socket under a ws connection (not public API; the floor is allowed that). */
const tcp = (ws: WebSocket) => (ws as unknown as { _socket: { write(b: Buffer): boolean } })._socket;
const probe = stageProbeFromEnv();
const sub = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
await sub.psubscribe(`${prefix}job:*`);
sub.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer, message: Buffer) => {
  const receivedAt = probe ? wallNow() : 0;
  const room = channel.toString().slice(prefix.length);
  const frame = textFrame(message);
  for (const ws of rooms.get(room) ?? []) tcp(ws).write(frame);
  if (probe) {
    // The sequence number without a JSON.parse the floor would not otherwise do.
    const at = message.indexOf('"seq":') + 6;
    const seq = Number.parseInt(message.subarray(at, at + 12).toString(), 10);
    if (probe.sampled(seq)) probe.note(room, seq, receivedAt, wallNow());
  }
});
http.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
