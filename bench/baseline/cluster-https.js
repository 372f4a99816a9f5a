// The TLS baseline: node:https behind node:cluster, as a Node user terminates TLS in Node without
// tsgi. The certificate and key come from CERT and KEY (PEM files); ALPN offers http/1.1, as tsgi
// does. Nothing else is tuned.
//
//   WORKERS=2 PORT=0 HOST=127.0.0.1 CERT=cert.pem KEY=key.pem node bench/baseline/cluster-https.js
//   SCHED=none ... selects cluster.SCHED_NONE (workers accept from the shared socket themselves)
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { runCluster } from './cluster.js';

const BODY = 'Hello, World!';

runCluster(
  (port, host) =>
    new Promise((resolve, reject) => {
      const options = { cert: readFileSync(process.env.CERT), key: readFileSync(process.env.KEY), ALPNProtocols: ['http/1.1'] };
      const server = https.createServer(options, (req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(BODY) });
        res.end(BODY);
      });
      server.on('error', reject);
      server.listen(port, host, resolve);
    }),
  { scheme: 'https' },
);
