/**
 * The baseline: the relay a developer writes by hand from a Sidekiq+Pusher-style tutorial.
 * Workers PUBLISH JSON to a per-job Redis channel; this socket.io 4 server PSUBSCRIBEs and
 * emits to a room per job; clients join rooms. No offsets, no recovery, no auth.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Redis } from 'ioredis';
import { Server } from 'socket.io';

import { stageProbeFromEnv, wallNow } from '../../server/gateway/stage-probe.js';

const prefix = process.env.BENCH_PREFIX ?? 'bench:';
const http = createServer();
const io = new Server(http, { path: '/relay/socket.io', serveClient: false });
io.on('connection', (socket) => {
  socket.on('join', (room: string, ack?: () => void) => {
    void socket.join(room);
    ack?.();
  });
});
const sub = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
await sub.psubscribe(`${prefix}job:*`);
// The same probe as jobcast's gateway, keyed by the bench's `seq` (the relay has no offsets).
const probe = stageProbeFromEnv();
sub.on('pmessage', (_pattern, channel, message) => {
  const receivedAt = probe ? wallNow() : 0;
  const data = JSON.parse(message) as { seq: number };
  const room = channel.slice(prefix.length);
  io.to(room).emit('progress', data);
  if (probe?.sampled(data.seq)) probe.note(room, data.seq, receivedAt, wallNow());
});
http.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
