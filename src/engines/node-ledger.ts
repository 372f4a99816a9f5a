/**
 * How the node engine knows, after each buffer llhttp parsed, whether llhttp read those bytes
 * exactly as tsgi's sans-IO parser would, and where the first request it might have read otherwise
 * begins, so that the connection can be handed to the tsgi engine's connection handling from that
 * request on (docs/engines.md, "How the node engine reads requests").
 *
 * llhttp reports requests, not where they are in the byte stream, so the ledger does the
 * arithmetic: every request node:http reported in this buffer was checked against tsgi's rules and
 * given the length its head has in the usual layout (node-checks.ts); every body byte llhttp
 * parsed is counted. When the buffer holds exactly those heads and those body bytes, and llhttp is
 * not inside a head at its end, llhttp read nothing the sans-IO parser would have read otherwise:
 * no extra whitespace, no empty lines, no request it refused, no request split across reads. Any
 * other buffer is handed over from the first byte after the body of the request before it, which
 * is exact: body bytes are counted, not inferred.
 *
 * The common case costs one function call and one C++ call per buffer; nothing is copied.
 */
import net from 'node:net';
import type http from 'node:http';
import type { Logger } from '../log.js';
import { llhttpHooks, detachFromNodeHttp, parserOf, type NodeParser } from './node-llhttp.js';

/** What the ledger needs from its connection. */
export interface LedgerOwner {
  readonly log: Logger;
  /**
   * Called after each buffer llhttp parsed: with null when llhttp read it as the sans-IO parser
   * would (the requests it reported stand), else with the bytes to hand over (node:http has let
   * go of the socket; the requests it reported in this buffer are void).
   */
  parsed(handOver: Buffer | null): void;
  /** The head length (usual layout) of an Upgrade request node:http is about to hand over, or -1. */
  upgradeHeadLength(req: http.IncomingMessage): number;
}

export class ReadLedger {
  /** Head lengths (usual layout) of the requests reported in the buffer being parsed. */
  private heads = 0;
  /** Body bytes llhttp parsed in the buffer being parsed. */
  private pushed = 0;
  /** A request in this buffer must be read by the sans-IO parser (refused, chunked, ...). */
  private doubt = false;
  /** Body bytes the last request still had to receive when this buffer began. */
  private carry = 0;
  /** The body length of the last request reported, and how much of it llhttp has parsed. */
  private bodyLength = 0;
  private bodyParsed = 0;
  private readonly nodeOnBody: (this: NodeParser, chunk: Buffer) => void;
  private readonly onBody: (chunk: Buffer) => void;
  private released = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly parser: NodeParser,
    private readonly owner: LedgerOwner,
  ) {
    const hooks = llhttpHooks!;
    this.nodeOnBody = parser[hooks.kOnBody] as (this: NodeParser, chunk: Buffer) => void;
    this.onBody = (chunk: Buffer): void => {
      this.pushed += chunk.length;
      this.bodyParsed += chunk.length;
      this.nodeOnBody.call(parser, chunk);
    };
    parser[hooks.kOnBody] = this.onBody;
    // The socket read in C++: node:http's parser calls kOnExecute after each buffer.
    const nodeOnExecute = parser[hooks.kOnExecute] as (ret: number | Error) => void;
    parser[hooks.kOnExecute] = (ret: number | Error): void => {
      if (this.guarded(ret, null)) nodeOnExecute(ret);
    };
    // The socket read in JavaScript (when something unconsumed it): node:http's 'data' listener
    // parses each buffer; this one, added after it, comes next. Added past node:http's wrapper of
    // socket.on, which would stop the reading in C++.
    const onData = (data: Buffer): void => {
      if (this.released) return;
      if (parserOf(socket) !== parser) {
        // node:http let go of the socket itself (an Upgrade or CONNECT read in JavaScript).
        this.release();
        return;
      }
      this.guarded(data.length, data);
    };
    (net.Socket.prototype.on as (this: net.Socket, event: 'data', listener: (data: Buffer) => void) => net.Socket).call(socket, 'data', onData);
    this.removeData = () => socket.removeListener('data', onData);
    // The parser goes back to node:http's pool when the socket closes: without this hook.
    socket.prependListener('close', () => this.restore());
  }

  private readonly removeData: () => void;

  /** node:http reported a request; `headLength` < 0: the sans-IO parser must read it. */
  request(headLength: number, bodyLength: number): void {
    if (headLength < 0) this.doubt = true;
    else this.heads += headLength;
    this.bodyLength = bodyLength;
    this.bodyParsed = 0;
  }

  /** A parse error node:http reported in JavaScript (socket read in JavaScript). */
  parseError(err: Error & { rawPacket?: Buffer }): boolean {
    return this.released || err.rawPacket === undefined ? false : !this.settle(err, err.rawPacket);
  }

  /**
   * settle() runs inside node:http's parser callback, where a throw would take the worker down
   * with every connection on it: a failure costs this connection only.
   */
  private guarded(ret: number | Error, data: Buffer | null): boolean {
    try {
      return this.settle(ret, data);
    } catch (err) {
      this.owner.log.error({ err }, 'node engine: following what llhttp read failed; the connection is closed (a bug in tsgi: please report it)');
      this.release();
      this.socket.destroy();
      return false;
    }
  }

  /** Ends one buffer: true when node:http may carry on with it. */
  private settle(ret: number | Error, data: Buffer | null): boolean {
    if (this.released) return true;
    const parser = this.parser;
    const carry = this.carry;
    const heads = this.heads;
    const pushed = this.pushed;
    const doubt = this.doubt;
    this.heads = 0;
    this.pushed = 0;
    this.doubt = false;
    // headersCompleted(): llhttp is not inside a head. It is what makes every buffer llhttp parses
    // begin at a request boundary or inside a Content-Length body, so that the arithmetic of one
    // buffer cannot be offset by the rest of a head that began in the one before.
    if (!doubt && ret === heads + pushed && parser.headersCompleted()) {
      this.carry = this.bodyLength - this.bodyParsed;
      this.owner.parsed(null);
      return true;
    }
    const incoming = parser.incoming;
    if (incoming !== null && (incoming as { upgrade?: boolean }).upgrade === true && incoming.method !== 'CONNECT' && !doubt) {
      // llhttp stopped after the head of an Upgrade request, which node:http hands to its
      // 'upgrade' listener (no 'request' event): it counts here. The connection leaves HTTP/1.1.
      const head = this.owner.upgradeHeadLength(incoming);
      if (head >= 0 && ret === heads + pushed + head) {
        this.release();
        this.owner.parsed(null);
        return true;
      }
    }
    // Parsed otherwise than the arithmetic says, refused, CONNECT, or a head left incomplete: from
    // the first request of this buffer on, the connection is the sans-IO parser's.
    const bytes = data ?? parser.getCurrentBuffer();
    this.release();
    if (carry > bytes.length) {
      // A body llhttp framed longer than the buffer cannot end in it; nothing to hand over.
      this.socket.destroy();
      return false;
    }
    detachFromNodeHttp(this.socket, parser);
    this.owner.parsed(bytes.subarray(carry));
    return false;
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.removeData();
    this.restore();
  }

  /**
   * Puts node:http's body callback back. node:http pools its parsers: once this connection has
   * let go of its parser, another connection may be using it with a ledger of its own, which
   * must not be undone, hence the check.
   */
  private restore(): void {
    const parser = this.parser;
    const kOnBody = llhttpHooks!.kOnBody;
    if (parser[kOnBody] === this.onBody) parser[kOnBody] = this.nodeOnBody;
  }
}
