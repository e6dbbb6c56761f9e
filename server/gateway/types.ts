import type { Server, Socket } from 'socket.io';

import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from '../../shared/protocol.js';

/** The gateway's socket.io server, typed end to end by the shared protocol. */
export type GatewayServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
/** One client connection of the gateway. */
export type GatewaySocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
