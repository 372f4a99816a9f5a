/**
 * Every error code tsgi raises, with what it means. docs/errors.md explains each one, and
 * test/config/errors-registry.test.ts fails when a `TSGI_ERR_*` code appears in src/ without an
 * entry here, or an entry here has no section in docs/errors.md.
 *
 * To add a code: append an entry (keep groups together), then document it in docs/errors.md.
 */
export interface ErrorCodeInfo {
  code: `TSGI_ERR_${string}`;
  /** One line: what went wrong. */
  meaning: string;
  /** For a request the server refuses: the status it answers with before closing. */
  status?: number;
}

export const ERROR_CODES = [
  // Configuration
  { code: 'TSGI_ERR_CONFIG', meaning: 'A setting has an invalid value, or the command line or a config file cannot be read.' },

  // Loading the app
  { code: 'TSGI_ERR_APP_SPEC', meaning: 'The app spec is not of the form MODULE[:ATTR].' },
  { code: 'TSGI_ERR_APP_NOT_FOUND', meaning: 'No file matches MODULE.' },
  { code: 'TSGI_ERR_APP_UNREADABLE', meaning: 'The file MODULE names (or a directory above it) cannot be read by the worker, which runs as --user.' },
  { code: 'TSGI_ERR_APP_IMPORT', meaning: "The app's module threw, or failed to parse or resolve a dependency, while being imported." },
  { code: 'TSGI_ERR_APP_ATTRIBUTE', meaning: 'The module has no export (or property) named by ATTR.' },
  { code: 'TSGI_ERR_APP_NOT_CALLABLE', meaning: 'ATTR (or what its factory returned) is no app: not a function, nor a fetch, Express, Koa or Fastify app.' },
  { code: 'TSGI_ERR_APP_FACTORY', meaning: 'The app factory named by ATTR threw or rejected.' },
  { code: 'TSGI_ERR_APP_INTERFACE', meaning: 'ATTR names an app of another interface than the one --interface asks for.' },

  // Adapters between interfaces (tsgi/fetch, tsgi/node, tsgi/testing)
  { code: 'TSGI_ERR_FETCH_RESPONSE', meaning: 'A fetch handler returned or resolved with something that is not a Response.' },

  // Serving
  { code: 'TSGI_ERR_BIND', meaning: 'The master could not listen on a --bind address.' },
  { code: 'TSGI_ERR_PIDFILE', meaning: 'The --pid file names another running process.' },
  { code: 'TSGI_ERR_PRIVILEGES', meaning: 'A worker could not switch to --user/--group.' },
  { code: 'TSGI_ERR_VALIDATION', meaning: 'The tsgi/validate middleware saw the app or the server break a rule of the TSGI spec.' },
  { code: 'TSGI_ERR_PARSER_STATE', meaning: 'The request parser was driven out of order (a bug in the code using it).' },
  { code: 'TSGI_ERR_CONNECTION_STATE', meaning: 'A connection was driven through a transition its state table does not have (a bug in tsgi).' },

  // What an app sees when the server abandons its request or refuses a call
  { code: 'TSGI_ERR_CLIENT_GONE', meaning: 'The client closed the connection before the response was complete.' },
  { code: 'TSGI_ERR_REQUEST_TIMEOUT', meaning: 'The request ran longer than --request-timeout and was ended by the server.' },
  { code: 'TSGI_ERR_BODY_TIMEOUT', meaning: 'The request body made no progress for --body-timeout and was abandoned.' },
  { code: 'TSGI_ERR_RESPONSE_ENDED', meaning: 'The app read the body, wrote or sent hints after its response had ended.' },
  { code: 'TSGI_ERR_INPUT_READ', meaning: 'The app called tsgi.input.read() with an invalid size, or while another read was pending.' },
  { code: 'TSGI_ERR_APP_CONTRACT', meaning: 'The app broke the TSGI contract (startResponse, body or chunk types); the response became a 500.' },
  { code: 'TSGI_ERR_HEADERS_SENT', meaning: 'Early hints were asked for (tsgi.early_hints) after the head of the final response was sent.' },
  { code: 'TSGI_ERR_UPGRADE', meaning: 'The app called tsgi.upgrade() when the connection could no longer be handed over: a second time, after the response head was sent, or after the request was abandoned.' },
  { code: 'TSGI_ERR_SHUTTING_DOWN', meaning: 'The worker began a graceful stop: the signal of an upgraded connection aborts so the app can close it cleanly.' },

  // Requests the parser refuses, each with the status the server answers before it closes
  { code: 'TSGI_ERR_HTTP_INCOMPLETE', meaning: 'The client closed the connection in the middle of a request.', status: 400 },
  { code: 'TSGI_ERR_HTTP_LINE_ENDING', meaning: 'A line ended with a bare CR or a bare LF instead of CRLF.', status: 400 },
  { code: 'TSGI_ERR_HTTP_REQUEST_LINE', meaning: 'The request-line is not "method SP request-target SP HTTP-version".', status: 400 },
  { code: 'TSGI_ERR_HTTP_VERSION', meaning: 'The HTTP-version of the request-line is malformed.', status: 400 },
  { code: 'TSGI_ERR_HTTP_METHOD', meaning: 'The node engine, on a Node without the parser hooks it needs, does not implement the method (llhttp parses a fixed list).', status: 501 },
  { code: 'TSGI_ERR_HTTP_VERSION_NOT_SUPPORTED', meaning: 'The HTTP-version is well-formed but neither HTTP/1.0 nor HTTP/1.1.', status: 505 },
  { code: 'TSGI_ERR_HTTP_TARGET', meaning: 'The request-target is not in a form allowed for the method.', status: 400 },
  { code: 'TSGI_ERR_HTTP_REQUEST_LINE_TOO_LONG', meaning: 'The request-line is longer than limitRequestLine.', status: 414 },
  { code: 'TSGI_ERR_HTTP_FIELD', meaning: 'A header field line is malformed.', status: 400 },
  { code: 'TSGI_ERR_HTTP_FIELD_TOO_LARGE', meaning: 'A header field line is longer than limitRequestFieldSize.', status: 431 },
  { code: 'TSGI_ERR_HTTP_TOO_MANY_FIELDS', meaning: 'The request has more header fields than limitRequestFields.', status: 431 },
  { code: 'TSGI_ERR_HTTP_HOST', meaning: 'Host is missing from an HTTP/1.1 request, repeated, or invalid.', status: 400 },
  { code: 'TSGI_ERR_HTTP_CONTENT_LENGTH', meaning: 'Content-Length is repeated, a list, not digits, or too large.', status: 400 },
  { code: 'TSGI_ERR_HTTP_TRANSFER_ENCODING', meaning: 'Transfer-Encoding is malformed, sent on HTTP/1.0, or sent with Content-Length.', status: 400 },
  { code: 'TSGI_ERR_HTTP_UNSUPPORTED_CODING', meaning: 'The request uses a transfer coding other than chunked.', status: 501 },
  { code: 'TSGI_ERR_HTTP_EXPECTATION', meaning: 'Expect holds something other than 100-continue.', status: 417 },
  { code: 'TSGI_ERR_HTTP_CHUNK', meaning: 'The chunked body is malformed.', status: 400 },
  { code: 'TSGI_ERR_HTTP_TRAILER', meaning: 'A trailer field is one that must not be sent as a trailer.', status: 400 },

  // Requests the server itself answers without calling the app, each with its status
  { code: 'TSGI_ERR_HEADER_TIMEOUT', meaning: 'The request head did not arrive complete within --header-timeout.', status: 408 },
  { code: 'TSGI_ERR_ROOT_PATH', meaning: 'The request path is not under --root-path (SCRIPT_NAME).', status: 404 },
  { code: 'TSGI_ERR_OVERLOADED', meaning: 'The worker already had --limit-concurrency requests in flight.', status: 503 },
  { code: 'TSGI_ERR_CONNECT', meaning: 'A CONNECT request: tunnels are not part of TSGI.', status: 501 },
  { code: 'TSGI_ERR_UPGRADE_CONTENT', meaning: 'An Upgrade request with content on the node engine without node:http parser hooks (it hands such a connection over before its body).', status: 400 },

  // Proxies in front of tsgi: forwarding headers from a trusted proxy, the PROXY protocol, TLS
  { code: 'TSGI_ERR_FORWARDED', meaning: "A trusted proxy's Forwarded, X-Forwarded-Host or X-Forwarded-Port header is malformed.", status: 400 },
  { code: 'TSGI_ERR_FORWARDED_CONFLICT', meaning: "A trusted proxy's forwarding headers disagree on the scheme, the client or the host.", status: 400 },
  { code: 'TSGI_ERR_PROXY_PROTOCOL', meaning: 'A connection that must start with a PROXY protocol header did not, or its header is malformed.' },
  { code: 'TSGI_ERR_PROXY_PROTOCOL_PEER', meaning: 'A peer not in --proxy-allow-from sent a PROXY protocol header.' },
  { code: 'TSGI_ERR_TLS', meaning: 'The TLS settings cannot be used: a file is missing or unreadable, the key does not match the certificate, or a value is invalid.' },
] as const satisfies readonly ErrorCodeInfo[];

export type ErrorCode = (typeof ERROR_CODES)[number]['code'];

type Entry = (typeof ERROR_CODES)[number];
/** The codes of refused requests: the entries that carry a status. */
export type RefusalCode = Extract<Entry, { status: number }>['code'];

/** Status per refusal code, derived from the one list above. */
export const REFUSAL_STATUS: Readonly<Record<RefusalCode, number>> = Object.fromEntries(
  ERROR_CODES.flatMap((entry) => ('status' in entry ? [[entry.code, entry.status]] : [])),
) as Record<RefusalCode, number>;
