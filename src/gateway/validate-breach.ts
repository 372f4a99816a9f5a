/**
 * What tsgi/validate reports and the small helpers every part of it shares: the ValidationError,
 * who broke a rule, and one-line descriptions of the values involved.
 */
import { Buffer } from 'node:buffer';
import { isUint8Array } from 'node:util/types';
import { TsgiError } from '../errors.js';
import { REFUSAL_STATUS } from '../errors-registry.js';
import type { Chunk } from './types.js';

/** Which side of the contract broke a rule. */
export type Culprit = 'app' | 'server';

export class ValidationError extends TsgiError {
  /** The section of docs/spec.md that was broken, e.g. `§5.3`. */
  readonly rule: string;
  readonly culprit: Culprit;
  constructor(culprit: Culprit, rule: string, problem: string, fix: string) {
    super('TSGI_ERR_VALIDATION', `TSGI ${rule} broken by the ${culprit}: ${problem}; ${fix}`);
    this.rule = rule;
    this.culprit = culprit;
  }
}

export function appBroke(rule: string, problem: string, fix: string): never {
  throw new ValidationError('app', rule, problem, fix);
}

export function serverBroke(rule: string, problem: string, fix: string): never {
  throw new ValidationError('server', rule, problem, fix);
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

export function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/** A short description of a value for a one-line message. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `the string ${quote(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `the ${typeof value} ${String(value)}`;
  }
  if (typeof value === 'symbol') return 'a symbol';
  if (isUint8Array(value)) return `a Uint8Array of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (isThenable(value)) return 'a Promise';
  if (typeof value === 'function') return 'a function';
  const code = codeOf(value);
  if (code !== undefined) return `an error with code ${code}`;
  if (value instanceof Error) return `${value.name}: ${quote(value.message)}`;
  return 'an object';
}

export function isChunk(value: unknown): value is Chunk {
  return typeof value === 'string' || isUint8Array(value);
}

/** Bytes a chunk puts on the wire: strings are sent as UTF-8 (spec §6.2). */
export function byteLength(chunk: Chunk): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk, 'utf8') : chunk.byteLength;
}

/** A hint for the chunk mistakes seen in practice. */
export function chunkHint(value: unknown): string {
  if (typeof value === 'number') return 'yield Uint8Array or string chunks (a number usually means a Uint8Array was iterated byte by byte)';
  if (isThenable(value)) return 'await inside an async generator instead of yielding a Promise';
  return 'yield only strings (sent as UTF-8) or Uint8Arrays';
}

/** The string `code` of an error (a TsgiError's `TSGI_ERR_*`), if it has one. */
export function codeOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const code = (value as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * spec §3.9: the codes a server gives the reason of `tsgi.signal` when it abandons a request: the
 * client left, a timeout ran out, or the request body was malformed (the parse error's own code,
 * one of the registry's refusals).
 */
export function isAbandonCode(code: string | undefined): boolean {
  return (
    code === 'TSGI_ERR_CLIENT_GONE' ||
    code === 'TSGI_ERR_REQUEST_TIMEOUT' ||
    code === 'TSGI_ERR_BODY_TIMEOUT' ||
    (code !== undefined && Object.prototype.hasOwnProperty.call(REFUSAL_STATUS, code))
  );
}

/**
 * Checks how a server's promise settles without changing it for the caller: `check` gets the
 * outcome and returns a problem to report, or null. Used where the breach has no call to throw
 * from (the app already holds the server's promise).
 */
export function watchSettle(
  pending: unknown,
  check: (outcome: { ok: true; value: unknown } | { ok: false; error: unknown }) => string | null,
  report: (problem: string) => void,
): void {
  if (!isThenable(pending)) return;
  pending.then(
    (value) => {
      const problem = check({ ok: true, value });
      if (problem !== null) report(problem);
    },
    (error: unknown) => {
      const problem = check({ ok: false, error });
      if (problem !== null) report(problem);
    },
  );
}

/** What the checks of one request share: the spec version the server declared, and its state. */
export class RequestState {
  /** The server declared TSGI 1.1 (`tsgi.version` `[1, 1]`): its rules apply. */
  readonly v11: boolean;
  readonly signal: AbortSignal | undefined;
  /** Where breaches go that have no caller to throw at. */
  readonly report: (error: ValidationError) => void;
  /** The server called the body's close(): the response is over (spec §4.8, §5.5). */
  ended = false;

  constructor(v11: boolean, signal: AbortSignal | undefined, report: (error: ValidationError) => void) {
    this.v11 = v11;
    this.signal = signal;
    this.report = report;
  }

  /** The server abandoned the request: tsgi.signal was aborted with an abandonment code (§3.9). */
  get abandoned(): boolean {
    return this.signal !== undefined && this.signal.aborted && isAbandonCode(codeOf(this.signal.reason));
  }

  reportServer(rule: string, problem: string, fix: string): void {
    this.report(new ValidationError('server', rule, problem, fix));
  }
}
