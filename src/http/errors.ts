/**
 * Why the request parser refuses a request: one stable code per kind of problem, each with the
 * status the server answers before it closes the connection. Both come from src/errors-registry.ts,
 * the one list of codes; docs/errors.md explains each.
 */
import { HttpParseError } from '../errors.js';
import { REFUSAL_STATUS, type RefusalCode } from '../errors-registry.js';

/** The refusals the parser itself makes: each names a way a request breaks RFC 9112. */
export type ParseErrorCode = Exclude<RefusalCode, ServerRefusalCode>;

/** Refusals the server makes on its own (timeouts, routing, load), not the parser. */
export type ServerRefusalCode = 'TSGI_ERR_HEADER_TIMEOUT' | 'TSGI_ERR_ROOT_PATH' | 'TSGI_ERR_OVERLOADED' | 'TSGI_ERR_CONNECT' | 'TSGI_ERR_UPGRADE_CONTENT';

/** A refusal the server makes on its own, with the status from the registry. */
export function serverRefusal(code: ServerRefusalCode, message: string): HttpParseError {
  return new HttpParseError(code, REFUSAL_STATUS[code], message);
}

/** Builds the error for `code`; the status comes from the registry so the two never disagree. */
export function parseError(code: ParseErrorCode, message: string): HttpParseError {
  return new HttpParseError(code, REFUSAL_STATUS[code], message);
}
