// A framework on its own server behind node:cluster, the way its documentation runs it, for the
// framework benchmark (bench/frameworks.js):
//
//   FRAMEWORK=hono    WORKERS=2 PORT=0 node bench/baseline/cluster-framework.js   # @hono/node-server's serve()
//   FRAMEWORK=express ...                                                       # http.createServer(app)
//   FRAMEWORK=fastify ...                                                       # fastify.listen()
//   FRAMEWORK=plain   ...                                                       # a bare node:http listener
//
// Each serves the same app module tsgi serves (bench/apps/FRAMEWORK.js).
import http from 'node:http';
import { runCluster } from './cluster.js';

const framework = process.env.FRAMEWORK;

/** `http.createServer(listener).listen(port, host)`, resolved once listening. */
function listen(listener, port, host) {
  return new Promise((resolve, reject) => {
    const server = http.createServer(listener);
    server.on('error', reject);
    server.listen(port, host, resolve);
  });
}

const servers = {
  async hono(port, host) {
    const { serve } = await import('@hono/node-server');
    const { app } = await import('../apps/hono.js');
    await new Promise((resolve) => serve({ fetch: app.fetch, port, hostname: host }, resolve));
  },
  async express(port, host) {
    const { app } = await import('../apps/express.js');
    await listen(app, port, host);
  },
  async plain(port, host) {
    const { listener } = await import('../apps/plain.js');
    await listen(listener, port, host);
  },
  async fastify(port, host) {
    const { app } = await import('../apps/fastify.js');
    await app.listen({ port, host });
  },
};

if (!(framework in servers)) throw new Error(`FRAMEWORK must be one of ${Object.keys(servers).join(', ')}`);
runCluster(servers[framework]);
