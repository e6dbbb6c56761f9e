import { nextTick } from 'engine.io-client';
import type { Socket } from 'socket.io-client';

/**
 * The receive fast path: the one place the client reads socket.io-client's private fields.
 *
 * Every live event reaches a page as the same socket.io packet, `2["event",{…}]` (an event on
 * the main namespace, no acknowledgement, no binary). socket.io-client runs each one through its
 * packet decoder (a character-by-character parse, a payload check, an emitter), a deferred
 * `packet` emit on the manager, the socket's packet switch and its event emitter (which copies
 * its listener list per emit) before jobcast's one listener sees it. Here such a packet is
 * recognised by its first bytes, parsed with one `JSON.parse` and handed to jobcast's listener
 * through the same deferral socket.io-client puts its packets through (engine.io-client's
 * `nextTick`: a promise job in browsers, `process.nextTick` in Node, which runs before promise
 * jobs), so the order of everything the connection receives stays the order on the wire. Any other packet, or one received while the
 * socket is not connected (socket.io buffers those), takes socket.io's own path.
 *
 * The hook is the manager's `ondata`, which socket.io-client binds to the engine's `data` event
 * each time the engine opens: an own property set before that replaces it for the manager's
 * whole life. `test/unit/client-fast-path-internals.test.ts` fails when the installed versions
 * differ from {@link CLIENT_VERIFIED_WITH} or when events stop taking this path.
 */
export const CLIENT_VERIFIED_WITH = { 'socket.io-client': '4.8.4', 'engine.io-client': '6.6.8', 'socket.io-parser': '4.2.7' } as const;

/** What is read and replaced of socket.io-client's Manager (not public API). */
interface ManagerInternals {
  ondata?: unknown;
}

/** An event packet on the main namespace with neither acknowledgement id nor attachments. */
const EVENT_PACKET = '2["event",';

/** Counts of the events each path delivered, for the internals test and for diagnosis. */
export interface FastPathStats {
  fast: number;
}

let warned = false;

/**
 * Delivers `socket`'s `event` packets to `onEvent` without socket.io-client's decoding, and
 * returns the counts, or null (with one console warning per page) when the manager is not as
 * verified: then every event keeps arriving through socket.io's `event` listener.
 */
export function installEventFastPath(socket: Socket, onEvent: (event: unknown) => void): FastPathStats | null {
  const manager = socket.io as unknown as ManagerInternals;
  const ondata = manager.ondata;
  if (typeof ondata !== 'function') {
    if (!warned) {
      warned = true;
      console.warn(
        `jobcast: the client's receive fast path is off (socket.io-client's Manager#ondata is not a function; verified with ${JSON.stringify(CLIENT_VERIFIED_WITH)})`,
      );
    }
    return null;
  }
  const stats: FastPathStats = { fast: 0 };
  const original = ondata as (this: unknown, data: unknown) => void;
  manager.ondata = function (this: unknown, data: unknown): void {
    if (typeof data === 'string' && data.startsWith(EVENT_PACKET) && socket.connected) {
      let packet: unknown;
      try {
        packet = JSON.parse(data.slice(1));
      } catch {
        packet = undefined; // socket.io's decoder reports it as the parse error it is
      }
      if (Array.isArray(packet) && packet.length === 2) {
        const event: unknown = packet[1];
        nextTick(() => {
          // Dropped if the connection went meanwhile: its subscriptions resubscribe from their
          // positions, which are before this event, so the log replays it to them.
          if (!socket.connected) return;
          stats.fast += 1;
          onEvent(event);
        }, setTimeout);
        return;
      }
    }
    original.call(this, data);
  };
  return stats;
}
