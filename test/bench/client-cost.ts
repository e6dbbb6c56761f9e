/**
 * What a client process spends per received event, the client alone: one socket.io server in
 * this process sends the same stream of events to a process of clients, who measure their own
 * CPU. `relay` is socket.io-client listening to the hand-written relay's small `progress`
 * message; `envelope` is socket.io-client listening to jobcast's `event` envelope (the wire
 * format's cost alone); `jobcast` is jobcast's client (connection, subscription, listener).
 * The server writes every kind the same way (socket.io's room broadcast), so the difference
 * between the rows is what the client does.
 *
 *   npx tsx test/bench/client-cost.ts [clients] [events/s] [seconds] [kinds]
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

import { Server } from 'socket.io';
import { io as ioClient } from 'socket.io-client';

import { connect } from '../../client/connection.js';
import { DEFAULT_SOCKET_PATH } from '../../shared/constants.js';
import { message, sleep } from './processes.js';

type Kind = 'relay' | 'envelope' | 'jobcast';
const CHANNELS = 100;
const EPOCH = 'q1w2e3r4t5y6';
const name = (c: number) => `job:bench-${c}`;

async function clients(kind: Kind, url: string, count: number): Promise<void> {
  let received = 0;
  for (let i = 0; i < count; i++) {
    const channel = name(i % CHANNELS);
    if (kind === 'jobcast') {
      const jc = connect({ url });
      const sub = jc.channel(channel, { token: 'not-checked' });
      sub.on<{ seq: number }>('progress', (e) => void (received += e.data.seq > 0 ? 1 : 0));
      await sub.subscribe();
    } else {
      const socket = ioClient(url, { path: DEFAULT_SOCKET_PATH, transports: ['websocket'] });
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      if (kind === 'relay') socket.on('progress', (data: { seq: number }) => void (received += data.seq > 0 ? 1 : 0));
      else socket.on('event', (e: { data: { seq: number } }) => void (received += e.data.seq > 0 ? 1 : 0));
      await socket.emitWithAck('join', channel);
    }
  }
  let from = { cpu: process.cpuUsage(), received: 0 };
  process.on('message', (m: { cmd: 'start' | 'stop' | 'exit' }) => {
    if (m.cmd === 'exit') process.exit(0);
    if (m.cmd === 'start') {
      from = { cpu: process.cpuUsage(), received };
      process.send!({ ok: true });
    } else {
      const cpu = process.cpuUsage(from.cpu);
      process.send!({ cpuUs: cpu.user + cpu.system, received: received - from.received });
    }
  });
  process.send!({ ready: true });
}

async function measure(kind: Kind, count: number, rate: number, seconds: number) {
  const http = createServer();
  const server = new Server(http, { path: DEFAULT_SOCKET_PATH, transports: ['websocket'] });
  server.on('connection', (socket) => {
    socket.on('subscribe', (request: { channel: string }, ack: (a: unknown) => void) => {
      void socket.join(request.channel);
      ack({ ok: true, channel: request.channel, epoch: EPOCH, offset: 0, recovered: true, events: [] });
    });
    socket.on('join', (channel: string, ack: () => void) => {
      void socket.join(channel);
      ack();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const child = fork(fileURLToPath(import.meta.url), ['clients', kind, url, String(count)], {
    // CLIENT_COST_PROFILE=dir writes the client process's V8 CPU profile there.
    execArgv: [...(process.env.CLIENT_COST_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CLIENT_COST_PROFILE}`] : []), '--import', 'tsx'],
  });
  await message<{ ready?: true }>(child, (m) => m.ready === true);
  const offsets = new Array<number>(CHANNELS).fill(0);
  let sent = 0;
  const started = Date.now();
  const send = () => {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    for (; sent < due; sent++) {
      const c = sent % CHANNELS;
      const offset = ++offsets[c]!;
      if (kind === 'relay') server.to(name(c)).emit('progress', { seq: offset, pct: offset % 100, ts: Date.now() });
      else
        server
          .to(name(c))
          .emit('event', { channel: name(c), epoch: EPOCH, offset, event: 'progress', data: { pct: offset % 100, seq: offset }, ts: Date.now() });
    }
  };
  const timer = setInterval(send, 5);
  await sleep(1000); // warm-up: JIT, first events
  child.send({ cmd: 'start' });
  await message(child, () => true);
  await sleep(seconds * 1000);
  child.send({ cmd: 'stop' });
  const result = await message<{ cpuUs: number; received: number }>(child, () => true);
  clearInterval(timer);
  child.send({ cmd: 'exit' });
  await new Promise((resolve) => child.once('exit', resolve));
  await server.close();
  return { kind, received: result.received, usPerEvent: Math.round((result.cpuUs / result.received) * 100) / 100 };
}

if (process.argv[2] === 'clients') {
  await clients(process.argv[3] as Kind, process.argv[4]!, Number(process.argv[5]));
} else {
  const count = Number(process.argv[2] ?? 250);
  const rate = Number(process.argv[3] ?? 2000);
  const seconds = Number(process.argv[4] ?? 5);
  const kinds = (process.argv[5] ?? 'relay,envelope,jobcast').split(',') as Kind[];
  for (const kind of kinds) console.log(JSON.stringify(await measure(kind, count, rate, seconds)));
  process.exit(0);
}
