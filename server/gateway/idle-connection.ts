import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket as NetSocket } from 'node:net';

import type { GatewayServer, GatewaySocket } from './types.js';

/**
 * What an idle connection keeps once it is accepted: the one adapter over engine.io's and ws's
 * private fields for memory (event-frames.ts is the one for the broadcast fast path).
 *
 * Memory per idle connection decides how many connections one gateway holds. Once a connection
 * is accepted the gateway needs nothing of its upgrade request, yet three references keep it
 * (its parser state, headers, raw headers, query) alive for the life of the connection:
 * - engine.io's Socket#request;
 * - engine.io's WebSocketResponse (the stand-in response it hands its middlewares for an
 *   upgrade), whose `close` listener on the TCP socket holds it as `res.req`; that listener
 *   (relaying `close` to middlewares, of which the gateway has none listening) goes too;
 * - socket.io's handshake object (the headers, the query, the time as a string).
 * And ws's Receiver keeps the last frame's 4-byte mask as a view of the whole chunk it was read
 * in (`Receiver#_mask`), so each idle connection pins its last read buffer.
 *
 * The versions verified are the fast path's (event-frames.ts `VERIFIED_WITH`);
 * test/unit/fast-path-internals.test.ts checks every field used here and that the request and
 * the response are really collected.
 */

/** What is read and written here of engine.io's and ws's objects (not public API). */
interface EngineConnection {
  request?: unknown;
  transport?: { name?: unknown; socket?: WsSocket };
  once?(event: 'upgrade', listener: () => void): unknown;
  /** What engine.io runs when the transport is let go (one entry per transport, pushed). */
  cleanupFn?: unknown;
}
/** socket.io's Client: its packet decoder, a component-emitter with one `decoded` listener. */
interface SocketIoClient {
  decoder?: { _callbacks?: Record<string, unknown> };
}
interface WsSocket {
  _socket?: unknown;
  _receiver?: { _mask?: unknown };
  on?(event: 'message', listener: (this: WsSocket) => void): unknown;
  listeners?(event: 'error'): ((...args: never[]) => unknown)[];
  removeListener?(event: 'error', listener: (...args: never[]) => unknown): unknown;
}
/** engine.io's WebSocketResponse: `req` is read only by middlewares' setHeader/getHeader. */
interface UpgradeResponse {
  req?: unknown;
  listenerCount?(event: 'close'): number;
}
/**
 * An upgrade's stand-in response, and the `close` listener its constructor put on the TCP
 * socket (the last one there when the middlewares run): it relays the socket's `close` as the
 * response's, for middlewares that listen to it, and holds the response for the connection's
 * life.
 */
interface TrackedUpgrade {
  response: UpgradeResponse;
  closeRelay: unknown;
}

const engineOf = (socket: GatewaySocket) => socket.conn as unknown as EngineConnection;

/** The stand-in response of each upgrade under way, by its TCP socket, until it is cut loose. */
const upgradeResponses = new WeakMap<NetSocket, TrackedUpgrade>();

/** Empty and shared by every connection: nothing reads them after the connection is accepted. */
const NO_HEADERS = Object.freeze({});
const NO_QUERY = Object.freeze({});
const NO_AUTH = Object.freeze({});

/**
 * Lets {@link releaseHandshake} find each WebSocket upgrade's stand-in response: an engine.io
 * middleware (middlewares are the public API that sees it) noting it by its TCP socket.
 */
export function trackUpgradeResponses(io: GatewayServer): void {
  io.engine.use((req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => {
    // A plain HTTP request (long-polling) gets a real ServerResponse, which Node releases itself.
    if (!(res instanceof ServerResponse)) {
      const closeListeners = req.socket.rawListeners('close');
      upgradeResponses.set(req.socket, { response: res as object as UpgradeResponse, closeRelay: closeListeners[closeListeners.length - 1] });
    }
    next();
  });
}

/**
 * Drops what `socket` keeps of its handshake. Call it in the `connection` handler once the
 * request's last use (the client IP) is done: `socket.request` is null afterwards, and
 * `socket.handshake` keeps only its address, its flags and when it was issued.
 */
export function releaseHandshake(socket: GatewaySocket): void {
  const conn = engineOf(socket);
  conn.request = null;
  const handshake = socket.handshake;
  // socket.io declares it readonly for users; replacing it whole keeps its shape for them.
  (socket as { handshake: GatewaySocket['handshake'] }).handshake = {
    headers: NO_HEADERS,
    time: '',
    address: handshake.address,
    xdomain: handshake.xdomain,
    secure: handshake.secure,
    issued: handshake.issued,
    url: '',
    query: NO_QUERY,
    auth: NO_AUTH,
  };
  releaseTransport(conn);
  // A long-polling connection that upgrades later gets a WebSocket of its own then.
  if (conn.transport?.name !== 'websocket') conn.once?.('upgrade', () => releaseTransport(conn));
}

/** socket.io's per-socket fields {@link settleIdle} replaces (not public API). */
interface SettledSocket {
  acks?: unknown;
  _anyListeners?: unknown;
}

/**
 * What every connection shares instead of an empty Map of its own: the gateway never emits
 * with an acknowledgement callback (socket.io keeps those here). Anyone who starts to gets an
 * error that says so, not a callback crossed with another connection's.
 */
class NoAcknowledgements extends Map<number, unknown> {
  override set(): this {
    throw new Error('the jobcast gateway does not emit with acknowledgements (server/gateway/idle-connection.ts shares one empty `acks` map)');
  }
}
const NO_ACKS = new NoAcknowledgements();

/**
 * Compacts what an accepted connection keeps for the rest of its life. Call it at the end of
 * the `connection` handler, once every listener of the connection was added:
 * - `anyListeners`, one frozen array shared by every connection, takes the place of the
 *   catch-all listener array socket.io's `onAny` would grow for each socket;
 * - the empty map of server-side acknowledgements is shared ({@link NoAcknowledgements});
 * - the socket leaves the room of its own id, which nothing here sends to (the hub keeps its
 *   own subscriber sets): two Sets fewer per connection in the adapter. `io.emit` and
 *   `io.disconnectSockets` reach only sockets in a room, so the gateway iterates its sockets;
 * - the listener tables of the connection's plain event emitters (socket.io's and engine.io's
 *   sockets, the WebSocket transport, ws's WebSocket) are copied into objects V8 keeps in its
 *   compact form. Node creates each as a null-prototype object, which V8 stores as a hash
 *   table of its own (a few hundred bytes each); the copy has the same keys, values and null
 *   prototype, and goes back to a table only if listeners are later removed. Node's streams
 *   (the TCP socket, ws's frame receiver) start from a compact table already and are left as
 *   they are. In the copy, `close` listeners lose their `once` wrappers, and the WebSocket
 *   loses engine.io's upgrade-time `error` listener ({@link compactListeners}).
 */
export function settleIdle(socket: GatewaySocket, anyListeners: readonly ((...args: never[]) => void)[]): void {
  const own = socket as unknown as SettledSocket;
  own._anyListeners = anyListeners;
  if (own.acks instanceof Map && own.acks.size === 0) own.acks = NO_ACKS;
  socket.nsp.adapter.delAll(socket.id);
  compactListeners(socket);
  compactListeners(socket.conn);
  const engine = engineOf(socket);
  engine.cleanupFn = exactCopy(engine.cleanupFn);
  const decoderListeners = (socket.client as unknown as SocketIoClient).decoder?._callbacks;
  if (decoderListeners) for (const key of Object.keys(decoderListeners)) decoderListeners[key] = exactCopy(decoderListeners[key]);
  compactTransport(engineOf(socket));
  if (engineOf(socket).transport?.name !== 'websocket') engineOf(socket).once?.('upgrade', () => compactTransport(engineOf(socket)));
}

/**
 * An array grown by `push` keeps room for 16 more elements (152 bytes for one function);
 * its copy has room for what it holds. Anything that is not an array is returned as it is.
 */
function exactCopy(value: unknown): unknown {
  return Array.isArray(value) ? value.slice() : value;
}

function compactTransport(conn: EngineConnection): void {
  const transport = conn.transport;
  if (transport?.name !== 'websocket') return;
  compactListeners(transport);
  const ws = transport.socket;
  const upgradeError = ws?.listeners?.('error').find((listener) => listener.name === UPGRADE_ERROR_LISTENER);
  if (upgradeError) ws!.removeListener!('error', upgradeError);
  compactListeners(ws);
}

/**
 * engine.io's `error` listener on a new WebSocket, which keeps an error before the transport
 * takes over from crashing the process; the transport's own `error` listener follows it and
 * stays for the connection's life, so this one only holds memory (a closure and its scope).
 */
const UPGRADE_ERROR_LISTENER = 'onUpgradeError';

/**
 * Replaces `emitter`'s listener table with a compact copy (see {@link settleIdle}). Its
 * `close` and `error` listeners added with `once` are kept without Node's wrapper (a bound
 * function, its state object and a property store: about 150 bytes each, four per connection),
 * whose only work is removing the listener before a second event:
 * - the emitters settled here emit `close` once in their life (engine.io's socket and
 *   transport guard it by their `readyState`, ws by its own);
 * - the one `once('error')` is engine.io's socket's on its transport, and its handler closes
 *   the socket, which removes that listener from the transport (`cleanupFn`) before another
 *   error can come.
 * `removeListener` finds a listener either way.
 */
function compactListeners(emitter: unknown): void {
  const owner = emitter as { _events?: Record<string | symbol, unknown> } | null | undefined;
  const table = owner?._events;
  if (!owner || !table || typeof table !== 'object' || Object.getPrototypeOf(table) !== null) return;
  const compact: Record<string | symbol, unknown> = {};
  for (const key of Reflect.ownKeys(table)) compact[key] = key === 'close' || key === 'error' ? withoutOnceWrappers(table[key]) : table[key];
  Object.setPrototypeOf(compact, null);
  owner._events = compact;
}

/** Node's `once` wrapper: `onceWrapper` bound to its state, carrying the listener it wraps. */
function isOnceWrapper(listener: unknown): listener is ((...args: never[]) => void) & { listener: (...args: never[]) => void } {
  return typeof listener === 'function' && listener.name === 'bound onceWrapper' && typeof (listener as { listener?: unknown }).listener === 'function';
}

function unwrapOnce(listener: unknown): unknown {
  return isOnceWrapper(listener) ? listener.listener : listener;
}

function withoutOnceWrappers(listeners: unknown): unknown {
  return Array.isArray(listeners) ? listeners.map(unwrapOnce) : unwrapOnce(listeners);
}

function releaseTransport(conn: EngineConnection): void {
  const ws = conn.transport?.name === 'websocket' ? conn.transport.socket : undefined;
  if (!ws) return;
  const tcp = ws._socket as NetSocket | undefined;
  const upgrade = tcp && upgradeResponses.get(tcp);
  if (tcp && upgrade) {
    upgrade.response.req = null;
    // With no middleware listening to the response's `close`, the relay only keeps the response.
    if (upgrade.response.listenerCount?.('close') === 0 && isOnceWrapper(upgrade.closeRelay)) tcp.removeListener('close', upgrade.closeRelay);
    upgradeResponses.delete(tcp);
  }
  dropMask.call(ws);
  ws.on?.('message', dropMask);
}

/**
 * After each message (the pong of every heartbeat included) the mask it was unmasked with is
 * of no use, and it is a view that holds the whole chunk it was read in. One shared function,
 * not a closure per connection.
 */
function dropMask(this: WsSocket): void {
  if (this._receiver) this._receiver._mask = undefined;
}

/**
 * What is not as verified of the fields used here, on an accepted connection before
 * {@link releaseHandshake}, or null. For test/unit/fast-path-internals.test.ts.
 */
export function idleConnectionInternalsProblem(socket: GatewaySocket): string | null {
  const conn = engineOf(socket);
  if (!conn.request || typeof conn.request !== 'object') return 'engine.io Socket#request is not the request';
  if (typeof conn.once !== 'function') return 'engine.io Socket#once is not a function';
  if (conn.transport?.name !== 'websocket') return null;
  const ws = conn.transport.socket;
  if (!ws || typeof ws.on !== 'function') return 'engine.io WebSocket transport#socket is not a ws WebSocket';
  const tcp = ws._socket as NetSocket | undefined;
  if (!tcp || typeof tcp.remoteAddress !== 'string') return 'ws WebSocket#_socket is not the TCP socket';
  if (!ws._receiver || !('_mask' in ws._receiver)) return 'ws WebSocket#_receiver._mask is not there';
  const upgrade = upgradeResponses.get(tcp);
  if (!upgrade) return 'no engine.io upgrade response was seen for this TCP socket (trackUpgradeResponses not installed?)';
  if (upgrade.response.req !== conn.request) return 'engine.io WebSocketResponse#req is not the upgrade request';
  if (typeof upgrade.response.listenerCount !== 'function') return 'engine.io WebSocketResponse is not an event emitter';
  const relay = upgrade.closeRelay;
  if (!isOnceWrapper(relay) || !/\bemit\(["']close["']\)/.test(String(relay.listener)))
    return "the TCP socket's last close listener at middleware time is not engine.io WebSocketResponse's close relay";
  return null;
}
