// What it costs to let tsgi's sans-IO parser vet every request before node:http's llhttp sees it
// (one way for the node engine to accept what the tsgi engine accepts; see docs/engines.md).
//
//   npx tsc -p tsconfig.json && node bench/node-vetting.js
//
// Two single-process servers answer `Hello, World!` with node:http:
// - plain:  node:http reading its sockets itself (llhttp consumes the socket in C++);
// - duplex: each accepted socket goes through a pass-through Duplex before node:http (what any
//           interposition costs: node:http can no longer read the socket in C++);
// - vetted: the same Duplex also feeds every received buffer to RequestParser first (heads
//           validated, bodies framed) before node:http parses the same bytes again with llhttp.
// autocannon (keep-alive, 16 connections) sends REQUESTS requests per run; each server reports
// its own CPU time (process.cpuUsage) for the run. Rounds alternate the order; the figure is the
// median over ROUNDS of server CPU microseconds per request. Knobs: ROUNDS (7), REQUESTS (40000).
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median } from './lib/stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const REQUESTS = Number(process.env.REQUESTS ?? 40000);
const MODES = ['plain', 'duplex', 'vetted'];

if (process.argv[2] === '--server') {
  const mode = process.argv[3];
  const http = await import('node:http');
  const net = await import('node:net');
  const { Duplex } = await import('node:stream');
  const { RequestParser } = await import(pathToFileURL(resolve(ROOT, 'dist/http/parser.js')).href);
  const { NEED_DATA, HEAD, ERROR, PAUSED, CLOSED } = await import(pathToFileURL(resolve(ROOT, 'dist/http/events.js')).href);

  const server = http.createServer({ requestTimeout: 0, keepAliveTimeout: 5000 }, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '13' });
    res.end('Hello, World!');
  });

  /** A socket as node:http sees it, with the sans-IO parser reading every byte first. */
  class Vetted extends Duplex {
    constructor(socket, vet) {
      super({ allowHalfOpen: false });
      this.socket = socket;
      // Not "parser": node:http stores its own HTTPParser there.
      this.vetter = new RequestParser();
      this.remoteAddress = socket.remoteAddress;
      this.remotePort = socket.remotePort;
      socket.on('data', (data) => {
        const parser = this.vetter;
        if (!vet) {
          if (!this.push(data)) socket.pause();
          return;
        }
        parser.feed(data);
        for (;;) {
          const event = parser.next();
          if (event === NEED_DATA) break;
          if (event === PAUSED) {
            // In a real engine the next request waits for this one's response; here the
            // responses are immediate, so the parser moves on at once.
            parser.startNextRequest();
            continue;
          }
          if (event === ERROR || event === CLOSED) {
            socket.destroy();
            return;
          }
          if (event === HEAD && parser.head.method.length === 0) throw new Error('unreachable');
        }
        if (!this.push(data)) socket.pause();
      });
      socket.on('end', () => this.push(null));
      socket.on('close', () => this.destroy());
    }
    _read() {
      this.socket.resume();
    }
    _write(chunk, encoding, callback) {
      this.socket.write(chunk, encoding, callback);
    }
    _final(callback) {
      this.socket.end(callback);
    }
    _destroy(error, callback) {
      this.socket.destroy();
      callback(error);
    }
    setTimeout() {
      return this;
    }
    setNoDelay() {
      return this;
    }
    setKeepAlive() {
      return this;
    }
  }

  const listener = mode === 'plain' ? server : net.createServer((socket) => server.emit('connection', new Vetted(socket, mode === 'vetted')));
  listener.listen(0, '127.0.0.1', () => process.send({ port: listener.address().port }));
  let mark = process.cpuUsage();
  process.on('message', (message) => {
    if (message === 'mark') {
      mark = process.cpuUsage();
      process.send('marked');
    } else if (message === 'read') {
      const used = process.cpuUsage(mark);
      process.send({ cpuUs: used.user + used.system });
    }
  });
} else {
  const { default: autocannon } = await import('autocannon');
  const servers = {};
  for (const mode of MODES) {
    const child = fork(import.meta.filename, ['--server', mode], { stdio: 'inherit' });
    const { port } = await new Promise((done) => child.once('message', done));
    servers[mode] = { child, port };
  }
  const ask = (child, message) =>
    new Promise((done) => {
      child.once('message', done);
      child.send(message);
    });
  const load = (port, amount) =>
    new Promise((done, fail) =>
      autocannon({ url: `http://127.0.0.1:${port}/`, connections: 16, amount }, (error, result) => (error ? fail(error) : done(result))),
    );
  try {
    for (const mode of MODES) await load(servers[mode].port, REQUESTS / 2); // warm-up
    const samples = Object.fromEntries(MODES.map((mode) => [mode, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
        const { child, port } = servers[mode];
        await ask(child, 'mark');
        const result = await load(port, REQUESTS);
        const { cpuUs } = await ask(child, 'read');
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`${mode}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        samples[mode].push(cpuUs / result.requests.total);
      }
    }
    const plain = median(samples.plain);
    console.log(`node:http server CPU per keep-alive request, median of ${ROUNDS} rounds x ${REQUESTS} requests:`);
    for (const mode of MODES) {
      const m = median(samples[mode]);
      console.log(`  ${mode.padEnd(6)} ${m.toFixed(2)} us  (${(m / plain).toFixed(2)}x, +${(m - plain).toFixed(2)} us)`);
    }
  } finally {
    for (const mode of MODES) servers[mode].child.kill();
  }
}
