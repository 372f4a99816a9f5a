/**
 * The server object tsgi hands an app for protocol upgrades (docs/interfaces.md, spec §3.10): a
 * node:http Server that never listens (tsgi does). When a request asks to switch protocols and
 * something listens for 'upgrade' here, tsgi emits `'upgrade'` with node:http's arguments
 * `(req, socket, head)`, as a node:http server would; so ws, Socket.IO and @hono/node-ws attach to
 * it the way their documentation shows for a node:http server:
 *
 *   import { server } from 'tsgi/node';
 *   const wss = new WebSocketServer({ server });       // ws
 *   injectWebSocket(server);                             // @hono/node-ws
 *
 * At a graceful stop tsgi emits `'close'` on it, as `server.close()` would (Socket.IO closes its
 * clients then).
 */
import http from 'node:http';

export const server: http.Server = http.createServer();
