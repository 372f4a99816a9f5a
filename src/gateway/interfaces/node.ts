/**
 * tsgi/node: the node:http interface (`(req, res)` handlers: Express, Koa's `callback()`, Fastify,
 * connect) to and from TSGI.
 *
 *   import { fromNode } from 'tsgi/node';
 *   export const app = fromNode(expressApp);            // a TSGI app
 *
 *   import { toNode } from 'tsgi/node';
 *   http.createServer(toNode(tsgiApp)).listen(8000);  // a TSGI app on node:http, or inside Express
 */
export { fromNode, nodeRequest, type FromNodeOptions, type NodeHandler } from './from-node.js';
export { toNode, environFromNode, type ToNodeOptions } from './to-node.js';
export { server } from './upgrade-server.js';
