/**
 * The hooks the node engine needs into node:http's per-connection llhttp parser, kept in one place
 * because they lean on node:http's internals (stable since Node 12, checked on every run by
 * test/e2e/differential.test.ts): the callback llhttp calls after each buffer it parsed, the one
 * it calls with body bytes, and taking a socket back from node:http the way node:http itself
 * does for an Upgrade (listeners off, the socket no longer read in C++, the parser freed).
 *
 * When these hooks are missing (a Node without them), `llhttpHooks` is null and the node engine
 * runs without handing connections over (docs/engines.md).
 */
import { createRequire } from 'node:module';
import type http from 'node:http';
import type net from 'node:net';

/** node:http's HTTPParser, as far as the node engine touches it. */
export interface NodeParser {
  [callback: number]: unknown;
  headersCompleted(): boolean;
  /** A copy of the buffer being parsed; only during the callbacks of one execute. */
  getCurrentBuffer(): Buffer;
  _consumed: boolean;
  /** The last request llhttp reported, or null. */
  incoming: http.IncomingMessage | null;
}

interface HttpCommon {
  HTTPParser: { kOnBody: number; kOnExecute: number };
  freeParser(parser: NodeParser, req: null, socket: net.Socket): void;
}

function load(): HttpCommon | null {
  try {
    const common = createRequire(import.meta.url)('_http_common') as HttpCommon;
    const { HTTPParser, freeParser } = common;
    if (typeof HTTPParser?.kOnBody !== 'number' || typeof HTTPParser.kOnExecute !== 'number' || typeof freeParser !== 'function') return null;
    return common;
  } catch {
    return null;
  }
}

const common = load();

export interface LlhttpHooks {
  /** Called once per buffer llhttp parsed (socket read in C++): the bytes it parsed, or its error. */
  readonly kOnExecute: number;
  /** Called with each piece of body llhttp parsed. */
  readonly kOnBody: number;
}

export const llhttpHooks: LlhttpHooks | null = common === null ? null : { kOnExecute: common.HTTPParser.kOnExecute, kOnBody: common.HTTPParser.kOnBody };

export function parserOf(socket: net.Socket): NodeParser | null {
  return ((socket as net.Socket & { parser?: NodeParser | null }).parser ?? null) as NodeParser | null;
}

/**
 * The listeners node:http puts on a socket it serves, by the names node:http gives them. `close`
 * stays (it frees what node:http holds for the connection), and so does `drain` while responses
 * node:http writes are still on the way (it relays the socket's drain to them).
 */
const NODE_LISTENERS: readonly [event: string, name: string][] = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['error', 'socketOnError'],
  ['timeout', 'socketOnTimeout'],
  ['resume', 'onSocketResume'],
  ['pause', 'onSocketPause'],
];

/**
 * Takes the socket from node:http: nothing of it is parsed by llhttp any more, and the bytes that
 * arrive from now on wait in the socket for whoever reads it next. As node:http does for an Upgrade.
 */
export function detachFromNodeHttp(socket: net.Socket, parser: NodeParser): void {
  for (const [event, name] of NODE_LISTENERS) {
    for (const listener of socket.listeners(event)) {
      if ((listener as { name?: string }).name === name) socket.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  common!.freeParser(parser, null, socket);
  const s = socket as net.Socket & { _paused?: boolean };
  // node:http's own flow control (it pauses a socket whose responses back up) no longer applies.
  s._paused = false;
  (socket as { readableFlowing: boolean | null }).readableFlowing = null;
  // node:http's 'pause' listener (gone now) may have stopped the handle reading while llhttp
  // consumed it, and the stream's own read() will not start it again: a body that had filled the
  // request's buffer would never be read on. Read again; the next reader's backpressure applies.
  const handle = (socket as unknown as { _handle: { reading: boolean; readStart(): number } | null })._handle;
  if (handle !== null && !handle.reading && !socket.destroyed) {
    handle.reading = true;
    handle.readStart();
  }
}
