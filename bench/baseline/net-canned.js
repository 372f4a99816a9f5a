// The Node bound: a bare node:net server that answers every request head it sees with one canned
// response, behind node:cluster with workers accepting from the shared socket (as tsgi's do).
// Nothing an HTTP server must do (parse, validate, build a request, frame a body) is done, so no
// server on Node can use less CPU per request than this; tsgi's aim is to come within 10% of it.
//
//   WORKERS=2 PORT=0 HOST=127.0.0.1 node bench/baseline/net-canned.js
import cluster from 'node:cluster';
import net from 'node:net';
import { runCluster } from './cluster.js';

if (cluster.isPrimary) cluster.schedulingPolicy = cluster.SCHED_NONE;

const BODY = 'Hello, World!';
let response = Buffer.alloc(0);
let second = -1;

/** The canned response, with a Date that changes once a second like any server's. */
function canned() {
  const now = Math.floor(Date.now() / 1000);
  if (now !== second) {
    second = now;
    response = Buffer.from(
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: ${new Date(now * 1000).toUTCString()}\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
      'latin1',
    );
  }
  return response;
}

const END = Buffer.from('\r\n\r\n');

runCluster(
  (port, host) =>
    new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true }, (socket) => {
        socket.on('data', (data) => {
          // One response per complete head; a head split across reads is answered when it ends.
          for (let at = data.indexOf(END); at !== -1; at = data.indexOf(END, at + 4)) socket.write(canned());
          if (data.includes('Connection: close') || data.includes('connection: close')) socket.end();
        });
        socket.on('error', () => {});
      });
      server.on('error', reject);
      server.listen(port, host, resolve);
    }),
);
