// The baseline tsgi is compared with: plain node:http behind node:cluster, the way a Node user
// would scale a Hello World across cores without tsgi. Nothing is tuned.
//
//   WORKERS=2 PORT=0 HOST=127.0.0.1 node bench/baseline/cluster-http.js
//   SCHED=none ... selects cluster.SCHED_NONE (workers accept from the shared socket themselves)
import http from 'node:http';
import { runCluster } from './cluster.js';

const BODY = 'Hello, World!';

runCluster(
  (port, host) =>
    new Promise((resolve, reject) => {
      const server = http.createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(BODY) });
        res.end(BODY);
      });
      server.on('error', reject);
      server.listen(port, host, resolve);
    }),
);
