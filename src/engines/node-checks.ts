/**
 * What llhttp accepts but tsgi refuses, checked on the node engine before the app is called, so
 * that both engines answer the same requests the same way.
 */
import type http from 'node:http';
import type { ParserLimits } from '../http/events.js';
import { checkRequestTarget } from '../http/target.js';

export interface Refusal {
  status: number;
  message: string;
}

export function checkNodeRequest(req: http.IncomingMessage, limits: ParserLimits): Refusal | null {
  // llhttp answers "GET /" (HTTP/0.9 style) as 0.9; RFC 9112 §2.3 leaves only 1.0 and 1.1 here.
  if (req.httpVersionMajor !== 1 || (req.httpVersionMinor !== 0 && req.httpVersionMinor !== 1)) {
    return { status: 400, message: `unsupported HTTP version ${req.httpVersion}` };
  }
  const method = req.method!;
  const url = req.url!;
  if (limits.maxRequestLine > 0 && method.length + url.length + 10 > limits.maxRequestLine) {
    return { status: 414, message: `request line longer than ${limits.maxRequestLine} bytes` };
  }
  const targetProblem = checkRequestTarget(method, url);
  if (targetProblem !== null) return { status: 400, message: targetProblem };
  const raw = req.rawHeaders;
  if (raw.length / 2 > limits.maxHeaderCount) {
    return { status: 431, message: `more than ${limits.maxHeaderCount} header fields` };
  }
  let hosts = 0;
  let transferEncoding = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length + 2 + raw[i + 1]!.length > limits.maxHeaderFieldSize) {
      return { status: 431, message: `header field ${name} longer than ${limits.maxHeaderFieldSize} bytes` };
    }
    const lower = name.length === 4 || name.length === 17 ? name.toLowerCase() : '';
    if (lower === 'host') hosts++;
    else if (lower === 'transfer-encoding') transferEncoding = true;
  }
  // RFC 9112 §3.2: "A server MUST respond with a 400 ... to any HTTP/1.1 request message that
  // lacks a Host header field and to any request message that contains more than one Host
  // header field line".
  if (hosts > 1) return { status: 400, message: 'more than one Host header field' };
  // RFC 9112 §6.1: a server that receives Transfer-Encoding in an HTTP/1.0 request "MUST treat
  // the message as if the framing is faulty ... and close the connection".
  if (transferEncoding && req.httpVersionMinor === 0) return { status: 400, message: 'Transfer-Encoding in an HTTP/1.0 request' };
  return null;
}

/** Maps llhttp's error codes onto the statuses the tsgi engine sends for the same input. */
export function clientErrorStatus(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): number {
  if (err.code === 'HPE_HEADER_OVERFLOW') return 431;
  if (err.code === 'HPE_INVALID_TRANSFER_ENCODING' && err.rawPacket !== undefined) {
    // RFC 9112 §6.1: an unknown transfer coding is 501; a malformed list stays 400.
    const m = /\r\ntransfer-encoding[ \t]*:([^\r\n]*)/i.exec(err.rawPacket.toString('latin1'));
    if (m !== null) {
      const codings = m[1]!.split(',').map((c) => c.trim().toLowerCase());
      if (codings.every((c) => /^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(c)) && codings.some((c) => c !== 'chunked')) return 501;
    }
  }
  return 400;
}
