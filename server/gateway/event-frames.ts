import * as wsModule from 'ws';

import type { ChannelEvent } from '../../shared/protocol.js';
import type { GatewaySocket } from './types.js';

// ws exports its frame encoder (socket.io's adapter uses it the same way); @types/ws omits it.
// Taken from the module's named exports: `WebSocket.Sender` exists only once ws's CommonJS
// entry point was loaded by someone (engine.io does), which a process without socket.io lacks.
const { Sender } = wsModule as unknown as {
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] };
};

/**
 * The one adapter over socket.io's, engine.io's and ws's private fields: the broadcast fast
 * path and the slow-consumer check read them here and nowhere else.
 *
 * The broadcast fast path. socket.io already encodes a broadcast once, but then runs every
 * copy through engine.io's per-socket packet machinery (a packet object, events, a write
 * buffer, a send callback) and ws's two-part write. For an event going to a whole room we
 * build the complete WebSocket frame once and hand it to each connection's ws sender as one
 * buffer: one write per connection, nothing else.
 *
 * The frame is exactly what socket.io would send: engine.io message `4`, socket.io event `2`
 * on the main namespace, then the JSON array `["event", event]`.
 */
export function eventFrame(event: ChannelEvent): Buffer {
  return textFrame(Buffer.from(`42${JSON.stringify(['event', event])}`));
}

/** The complete, unmasked, uncompressed WebSocket text frame of `payload`. */
export function textFrame(payload: Buffer): Buffer {
  const parts = Sender.frame(payload, { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false });
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * The versions whose private fields this file reads were checked against. package.json pins
 * exactly these; test/unit/fast-path-internals.test.ts fails when the installed ones differ or
 * when the fields below are no longer what they were, so an upgrade cannot silently move every
 * broadcast onto the slow path (or worse, write around a queue that now exists).
 */
export const VERIFIED_WITH = { 'socket.io': '4.8.4', 'engine.io': '6.6.12', ws: '8.21.3' } as const;

/** What the fast path reads of engine.io's and ws's connection objects (not public API). */
interface EngineConnection {
  readyState?: unknown;
  writeBuffer?: unknown;
  transport?: {
    name?: unknown;
    perMessageDeflate?: unknown;
    socket?: { readyState?: unknown; bufferedAmount?: unknown; _sender?: { sendFrame?: unknown } };
  };
}

const OPEN = 1;
const engineOf = (socket: GatewaySocket) => socket.conn as unknown as EngineConnection;

/**
 * What is not as verified on an open WebSocket connection's internals, or null when the fast
 * path can rely on them. Polling connections have nothing to check and give null.
 */
export function fastPathInternalsProblem(socket: GatewaySocket): string | null {
  const conn = engineOf(socket);
  if (typeof conn.readyState !== 'string') return 'engine.io Socket#readyState is not a string';
  if (!Array.isArray(conn.writeBuffer)) return 'engine.io Socket#writeBuffer is not an array';
  if (conn.transport?.name !== 'websocket') return null;
  const ws = conn.transport.socket;
  if (typeof ws?.readyState !== 'number') return 'engine.io WebSocket transport#socket is not a ws WebSocket';
  if (typeof ws.bufferedAmount !== 'number') return 'ws WebSocket#bufferedAmount is not a number';
  if (typeof ws._sender?.sendFrame !== 'function') return 'ws WebSocket#_sender.sendFrame is not a function';
  return null;
}

let warned = false;

/** Once per process: the internals changed, every broadcast now takes socket.io's slower path. */
function warnInternalsChanged(problem: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(`the broadcast fast path is off: ${problem} (verified with ${JSON.stringify(VERIFIED_WITH)}); see server/gateway/event-frames.ts`, {
    code: 'JOBCAST_FAST_PATH',
  });
}

/**
 * Writes `frame` straight to `socket`'s WebSocket and returns true, or returns false when this
 * connection must go through socket.io instead: not a plain open WebSocket (long-polling, an
 * upgrade under way, compression on), or engine.io still holds packets of its own, which must
 * go out first to keep the order. Internals that changed shape are warned about, not guessed at.
 */
export function writeFrame(socket: GatewaySocket, frame: Buffer): boolean {
  const conn = engineOf(socket);
  const transport = conn.transport;
  if (conn.readyState !== 'open' || transport?.name !== 'websocket' || transport.perMessageDeflate) return false;
  const ws = transport.socket;
  if (!Array.isArray(conn.writeBuffer) || typeof ws?._sender?.sendFrame !== 'function') {
    warnInternalsChanged(fastPathInternalsProblem(socket) ?? 'unexpected engine.io/ws internals');
    return false;
  }
  if (conn.writeBuffer.length !== 0 || ws.readyState !== OPEN) return false;
  (ws._sender.sendFrame as (list: Buffer[]) => void)([frame]);
  return true;
}

/** Bytes a socket has queued but not yet handed to the kernel (engine.io packets count 64 each). */
export function bufferedBytes(socket: GatewaySocket): number {
  // engine.io keeps packets in writeBuffer while a write is under way; ws keeps the bytes the
  // kernel did not take.
  const conn = engineOf(socket);
  const buffered = conn.transport?.socket?.bufferedAmount;
  return (typeof buffered === 'number' ? buffered : 0) + (Array.isArray(conn.writeBuffer) ? conn.writeBuffer.length : 0) * 64;
}
