/**
 * Every error tsgi raises on purpose is a TsgiError with a stable `code` (`TSGI_ERR_*`) and a
 * one-line message that tells the user what to do. docs/errors.md lists every code; a test keeps
 * the two in step. The brand uses Symbol.for so `instanceof` holds across copies of the package.
 */
import type { ErrorCode } from './errors-registry.js';

const kTsgiError = Symbol.for('tsgi.error');

export class TsgiError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
  get [kTsgiError](): true {
    return true;
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== TsgiError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kTsgiError] === true;
  }
}

/**
 * A request the client sent that tsgi refuses (RFC 9112). `status` is the response to send before
 * closing the connection. The app never sees such a request.
 */
export class HttpParseError extends TsgiError {
  readonly status: number;
  constructor(code: ErrorCode, status: number, message: string) {
    super(code, message);
    this.status = status;
  }
}
