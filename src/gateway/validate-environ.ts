/**
 * tsgi/validate's checks of the environ a server hands the app (docs/spec.md §3). A server is held
 * to the version it declares in `tsgi.version`: a TSGI 1.0 server by the 1.0 rules, a 1.1 server
 * by the 1.1 rules as well.
 */
import { FIELD_VALUE, TOKEN } from './app-headers.js';
import { ORIGIN_FORM, isAbsoluteForm } from '../http/grammar.js';
import { describe, quote, serverBroke } from './validate-breach.js';
import type { Environ, ErrorStream, InputStream } from './types.js';

// The environ form of a field name: uppercased, '-' mapped to '_' (spec §3.4).
const HTTP_KEY = /^HTTP_[A-Z0-9!#$%&'*+.^_`|~]+$/;

// A request-target as TSGI 1.0 let a server pass it: visible ASCII, plus obs-text bytes as latin1.
const BAD_TARGET_CHAR = /[\x00-\x20\x7f]|[^\x00-\xff]/;

const DIGITS = /^\d+$/;

// spec §3.5 (1.1): REMOTE_ADDR of an IPv4 peer on an IPv6 socket is the IPv4 form.
const IPV4_MAPPED = /^::ffff:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i;

// spec §3.5 (1.1): SERVER_NAME is never the address a server was bound to.
const UNSPECIFIED = new Set(['0.0.0.0', '::', '[::]', '']);

const CGI_KEYS = [
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'PATH_INFO',
  'QUERY_STRING',
  'CONTENT_TYPE',
  'CONTENT_LENGTH',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'SERVER_SOFTWARE',
  'REMOTE_ADDR',
  'REMOTE_PORT',
  'RAW_URI',
] as const;

const TSGI_KEYS_1_0 = new Set([
  'tsgi.version',
  'tsgi.url_scheme',
  'tsgi.input',
  'tsgi.errors',
  'tsgi.multithread',
  'tsgi.multiprocess',
  'tsgi.run_once',
  'tsgi.input_terminated',
  'tsgi.raw_headers',
  'tsgi.trailers',
]);
const TSGI_KEYS_1_1 = new Set([...TSGI_KEYS_1_0, 'tsgi.signal', 'tsgi.early_hints', 'tsgi.upgrade', 'tsgi.peer_certificate']);

export function checkFieldList(list: unknown, key: string, rule: string): void {
  if (!Array.isArray(list)) serverBroke(rule, `environ['${key}'] is ${describe(list)}`, 'set it to an array of [name, value] pairs');
  list.forEach((field: unknown, i) => {
    if (!Array.isArray(field) || field.length !== 2 || typeof field[0] !== 'string' || typeof field[1] !== 'string') {
      serverBroke(rule, `environ['${key}'][${i}] is ${describe(field)}`, 'use a [name, value] pair of strings');
    }
    if (!TOKEN.test(field[0])) serverBroke(rule, `environ['${key}'][${i}] has the name ${quote(field[0])}`, 'names must be RFC 9110 tokens');
    if (!FIELD_VALUE.test(field[1])) {
      serverBroke(rule, `environ['${key}'][${i}] has the value ${quote(field[1])}`, 'refuse requests whose field values hold CR, LF, NUL or other controls');
    }
  });
}

/**
 * Everything a server must put in the environ, with the right types (spec §3). Returns the minor
 * version the server declared (0 or 1).
 */
export function checkEnviron(environ: unknown): 0 | 1 {
  if (typeof environ !== 'object' || environ === null || Array.isArray(environ)) {
    serverBroke('§3.1', `the environ is ${describe(environ)}`, 'pass a plain object');
  }
  const env = environ as Record<string, unknown>;
  const version = env['tsgi.version'];
  if (!Array.isArray(version) || version.length !== 2 || version[0] !== 1 || (version[1] !== 0 && version[1] !== 1)) {
    serverBroke('§3.6', `environ['tsgi.version'] is ${describe(version)}`, 'set it to [1, 1] (or [1, 0] for a TSGI 1.0 server)');
  }
  const minor = version[1] as 0 | 1;

  checkPlainKeys(env);
  for (const key of CGI_KEYS) {
    if (!(key in env)) serverBroke('§3.1', `environ.${key} is missing`, 'every key of spec §3 must be present');
    if (typeof env[key] !== 'string') serverBroke('§3.1', `environ.${key} is ${describe(env[key])}`, 'CGI keys are strings');
  }
  const cgi = env as Record<(typeof CGI_KEYS)[number], string>;
  checkRequestLine(cgi, minor);

  if (cgi.CONTENT_LENGTH !== '' && !DIGITS.test(cgi.CONTENT_LENGTH)) {
    serverBroke('§3.4', `CONTENT_LENGTH is ${quote(cgi.CONTENT_LENGTH)}`, "it is the digits of the header, or ''");
  }
  if (!FIELD_VALUE.test(cgi.CONTENT_TYPE)) serverBroke('§3.4', `CONTENT_TYPE is ${quote(cgi.CONTENT_TYPE)}`, 'refuse requests with controls in field values');

  checkConnection(cgi, minor);

  const known = minor === 1 ? TSGI_KEYS_1_1 : TSGI_KEYS_1_0;
  for (const key of Object.keys(env)) {
    if (key.startsWith('HTTP_')) {
      if (!HTTP_KEY.test(key)) serverBroke('§3.4', `the environ has the key ${quote(key)}`, "HTTP_ keys are uppercased with '-' mapped to '_'");
      if (key === 'HTTP_CONTENT_TYPE' || key === 'HTTP_CONTENT_LENGTH') {
        serverBroke('§3.4', `the environ has ${key}`, 'Content-Type and Content-Length go to CONTENT_TYPE and CONTENT_LENGTH only');
      }
      const value = env[key];
      if (typeof value !== 'string') serverBroke('§3.4', `environ.${key} is ${describe(value)}`, 'HTTP_ values are strings');
      if (!FIELD_VALUE.test(value)) serverBroke('§3.4', `environ.${key} is ${quote(value)}`, 'refuse requests with controls in field values');
    } else if (key.startsWith('tsgi.') && !known.has(key)) {
      serverBroke('§3.7', `the environ has the unknown key '${key}'`, "'tsgi.' keys are reserved for the spec; prefix extensions with the server's name");
    }
  }

  const scheme = env['tsgi.url_scheme'];
  if (scheme !== 'http' && scheme !== 'https') serverBroke('§3.6', `environ['tsgi.url_scheme'] is ${describe(scheme)}`, "it is 'http' or 'https'");
  const input = env['tsgi.input'] as Partial<InputStream> | null | undefined;
  if (typeof input !== 'object' || input === null || typeof input.read !== 'function' || typeof input[Symbol.asyncIterator] !== 'function') {
    serverBroke('§3.6', `environ['tsgi.input'] is ${describe(input)} without read() and [Symbol.asyncIterator]()`, 'pass an InputStream (spec §4)');
  }
  const errors = env['tsgi.errors'] as Partial<ErrorStream> | null | undefined;
  if (typeof errors !== 'object' || errors === null || typeof errors.write !== 'function' || typeof errors.flush !== 'function') {
    serverBroke('§3.6', `environ['tsgi.errors'] is ${describe(errors)} without write() and flush()`, 'pass an ErrorStream (spec §4.7)');
  }
  for (const key of ['tsgi.multithread', 'tsgi.multiprocess', 'tsgi.run_once'] as const) {
    if (typeof env[key] !== 'boolean') serverBroke('§3.6', `environ['${key}'] is ${describe(env[key])}`, 'it is a boolean');
  }
  if (env['tsgi.input_terminated'] !== true) {
    serverBroke('§3.6', `environ['tsgi.input_terminated'] is ${describe(env['tsgi.input_terminated'])}`, 'TSGI input always signals its end: set it to true');
  }
  checkFieldList(env['tsgi.raw_headers'], 'tsgi.raw_headers', '§3.6');
  if (env['tsgi.trailers'] !== undefined) checkFieldList(env['tsgi.trailers'], 'tsgi.trailers', '§3.6');
  if (minor === 1) checkExtensions(env as Environ);
  return minor;
}

/**
 * spec §3.1: the environ belongs to the app, which may assign and delete any key. A key the server
 * computes lazily is an accessor with a setter, enumerable and configurable like a data property.
 */
function checkPlainKeys(env: Record<string, unknown>): void {
  for (const key of Object.keys(env)) {
    const d = Object.getOwnPropertyDescriptor(env, key)!;
    const assignable = d.get !== undefined || d.set !== undefined ? d.set !== undefined : d.writable === true;
    if (!assignable || d.configurable !== true) {
      serverBroke('§3.1', `environ['${key}'] cannot be ${assignable ? 'deleted' : 'assigned'}`, 'make every key writable and configurable (a lazily created key is an accessor with a setter)');
    }
  }
}

function checkRequestLine(cgi: Record<(typeof CGI_KEYS)[number], string>, minor: 0 | 1): void {
  if (!TOKEN.test(cgi.REQUEST_METHOD)) serverBroke('§3.2', `REQUEST_METHOD is ${quote(cgi.REQUEST_METHOD)}`, 'the method must be an RFC 9110 token');
  if (cgi.REQUEST_METHOD === 'CONNECT') serverBroke('§3.3', 'a CONNECT request reached the app', 'answer CONNECT with 501 in the server');
  const script = cgi.SCRIPT_NAME;
  if (script !== '' && (!script.startsWith('/') || script.endsWith('/'))) {
    serverBroke('§3.2', `SCRIPT_NAME is ${quote(script)}`, "it is '' or starts with '/' and does not end with '/'");
  }
  const path = cgi.PATH_INFO;
  if (path !== '' && path !== '*' && !path.startsWith('/')) serverBroke('§3.2', `PATH_INFO is ${quote(path)}`, "it is '', '*' or starts with '/'");
  if (path === '' && script === '') serverBroke('§3.2', "SCRIPT_NAME and PATH_INFO are both ''", "an unmounted app gets at least PATH_INFO '/'");
  if (path === '*' && (cgi.REQUEST_METHOD !== 'OPTIONS' || script !== '')) {
    serverBroke('§3.3', `PATH_INFO is '*' for ${cgi.REQUEST_METHOD} with SCRIPT_NAME ${quote(script)}`, 'the asterisk form is only for an unmounted OPTIONS *');
  }
  const target = cgi.RAW_URI;
  if (target === '' || BAD_TARGET_CHAR.test(target)) serverBroke('§3.2', `RAW_URI is ${quote(target)}`, 'pass the request-target exactly as received');
  if (BAD_TARGET_CHAR.test(cgi.QUERY_STRING)) serverBroke('§3.2', `QUERY_STRING is ${quote(cgi.QUERY_STRING)}`, 'pass the query undecoded, as received');
  // spec §3.3 (1.1): a target in none of the forms (a stray "%", say) is refused before the app.
  if (minor === 1 && target !== '*' && !ORIGIN_FORM.test(target) && !isAbsoluteForm(target)) {
    serverBroke('§3.3', `RAW_URI ${quote(target)} is not an origin-form, absolute-form or asterisk-form request-target`, 'refuse such a request with 400 before calling the app');
  }
}

function checkConnection(cgi: Record<(typeof CGI_KEYS)[number], string>, minor: 0 | 1): void {
  if (cgi.SERVER_PROTOCOL !== 'HTTP/1.0' && cgi.SERVER_PROTOCOL !== 'HTTP/1.1') {
    serverBroke('§3.5', `SERVER_PROTOCOL is ${quote(cgi.SERVER_PROTOCOL)}`, "it is 'HTTP/1.0' or 'HTTP/1.1'");
  }
  if (!DIGITS.test(cgi.SERVER_PORT)) serverBroke('§3.5', `SERVER_PORT is ${quote(cgi.SERVER_PORT)}`, "it is a port number (a unix socket gives '80' or '443')");
  if (cgi.REMOTE_PORT !== '' && !DIGITS.test(cgi.REMOTE_PORT)) serverBroke('§3.5', `REMOTE_PORT is ${quote(cgi.REMOTE_PORT)}`, "it is a port number, or ''");
  if (cgi.SERVER_SOFTWARE === '') serverBroke('§3.5', "SERVER_SOFTWARE is ''", "name the server, e.g. 'tsgi/1.0.0'");
  if (minor === 0) return;
  const name = cgi.SERVER_NAME;
  if (UNSPECIFIED.has(name)) {
    serverBroke('§3.5', `SERVER_NAME is ${quote(name)}`, "take it from Host, else from the connection's local address (never the address bound to)");
  }
  if (name.includes(':') && !(name.startsWith('[') && name.endsWith(']'))) {
    serverBroke('§3.5', `SERVER_NAME is ${quote(name)}`, 'write an IPv6 address in brackets, as in a URL: [::1]');
  }
  const peer = cgi.REMOTE_ADDR;
  if (IPV4_MAPPED.test(peer)) serverBroke('§3.5', `REMOTE_ADDR is ${quote(peer)}`, `give an IPv4 peer in its IPv4 form (${peer.slice(7)})`);
  if (peer.startsWith('[')) serverBroke('§3.5', `REMOTE_ADDR is ${quote(peer)}`, 'give the address without brackets');
}

/** The TSGI 1.1 keys: tsgi.signal (§3.9), tsgi.early_hints (§5.7), tsgi.upgrade (§3.10), tsgi.peer_certificate (§3.7). */
function checkExtensions(env: Environ): void {
  if (!Object.prototype.hasOwnProperty.call(env, 'tsgi.signal')) {
    serverBroke('§3.9', "environ['tsgi.signal'] is missing", 'give every environ an AbortSignal');
  }
  const signal: unknown = env['tsgi.signal'];
  if (!(signal instanceof AbortSignal)) serverBroke('§3.9', `environ['tsgi.signal'] is ${describe(signal)}`, 'set it to an AbortSignal');
  if (!Object.prototype.propertyIsEnumerable.call(env, 'tsgi.signal')) {
    serverBroke('§3.9', "environ['tsgi.signal'] is not enumerable", 'make it an own enumerable key, so copies of the environ keep it');
  }
  const hints: unknown = env['tsgi.early_hints'];
  if (typeof hints !== 'function') serverBroke('§5.7', `environ['tsgi.early_hints'] is ${describe(hints)}`, 'give every environ an early-hints function');
  if ('tsgi.upgrade' in env) {
    const upgrade: unknown = env['tsgi.upgrade'];
    if (typeof upgrade !== 'function') serverBroke('§3.10', `environ['tsgi.upgrade'] is ${describe(upgrade)}`, 'make it a function, or leave it out');
    const raw = env['tsgi.raw_headers'];
    if (!raw.some(([name]) => name.length === 7 && name.toLowerCase() === 'upgrade')) {
      serverBroke('§3.10', "environ['tsgi.upgrade'] is set on a request without an Upgrade field", 'offer it only on requests that carry Upgrade');
    }
  }
  if ('tsgi.peer_certificate' in env) {
    const cert = env['tsgi.peer_certificate'] as Record<string, unknown> | null;
    if (typeof cert !== 'object' || cert === null || typeof cert.subject !== 'string' || typeof cert.pem !== 'string' || typeof cert.fingerprint256 !== 'string') {
      serverBroke('§3.7', `environ['tsgi.peer_certificate'] is ${describe(cert)}`, 'give the verified client certificate (subject, issuer, pem, ...) or leave the key out');
    }
  }
}
