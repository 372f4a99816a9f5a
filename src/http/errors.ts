/**
 * Why the request parser refuses a request: one stable code per kind of problem, each with the
 * status the server answers before it closes the connection. Both come from src/errors-registry.ts,
 * the one list of codes; docs/errors.md explains each.
 */
import { HttpParseError } from '../errors.js';
import { REFUSAL_STATUS, type RefusalCode } from '../errors-registry.js';

/** Every refusal code is the parser's: each names a way a request breaks RFC 9112. */
export type ParseErrorCode = RefusalCode;

/** Builds the error for `code`; the status comes from the registry so the two never disagree. */
export function parseError(code: ParseErrorCode, message: string): HttpParseError {
  return new HttpParseError(code, REFUSAL_STATUS[code], message);
}
