import WebSocket from 'ws';
import type { ChannelEvent } from '../../shared/protocol.js';
import type { GatewaySocket } from './types.js';

// ws exports its frame encoder (socket.io's adapter uses it the same way); @types/ws omits it.
const { Sender } = WebSocket as unknown as { Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] } };

/**
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

/** What the fast path reads of engine.io's and ws's connection objects (not public API). */
interface EngineConnection {
  readyState?: string;
  writeBuffer?: unknown[];
  transport?: {
    name?: string;
    perMessageDeflate?: unknown;
    socket?: { readyState?: number; _sender?: { sendFrame?: (list: Buffer[], cb?: () => void) => void } };
  };
}

const OPEN = 1;

/**
 * Writes `frame` straight to `socket`'s WebSocket and returns true, or returns false when this
 * connection must go through socket.io instead: not a plain open WebSocket (long-polling, an
 * upgrade under way, compression on), or engine.io still holds packets of its own, which must
 * go out first to keep the order.
 */
export function writeFrame(socket: GatewaySocket, frame: Buffer): boolean {
  const conn = socket.conn as unknown as EngineConnection;
  const transport = conn.transport;
  const ws = transport?.socket;
  if (conn.readyState !== 'open' || transport?.name !== 'websocket' || transport.perMessageDeflate) return false;
  if ((conn.writeBuffer?.length ?? 1) !== 0 || ws?.readyState !== OPEN || typeof ws._sender?.sendFrame !== 'function') return false;
  ws._sender.sendFrame([frame]);
  return true;
}
