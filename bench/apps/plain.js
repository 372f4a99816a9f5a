// The framework benchmark's reference row: the same JSON document from a TSGI app, and (in
// bench/baseline/cluster-framework.js) from a bare node:http listener: what tsgi's engine and
// supervision cost against node:http with no framework on either side.
const BODY = JSON.stringify({ message: 'Hello, World!' });

export const app = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'application/json']]);
  return [BODY];
};

/** The same answer as a node:http request listener. */
export function listener(req, res) {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(BODY) });
  res.end(BODY);
}
