/**
 * The response grammar the server enforces and tsgi/validate reports (spec §5.2, §5.3, §5.7): one
 * definition, so the two can never disagree about a value.
 */
import { describe, expect, it } from 'vitest';
import { AppHeaderError, checkResponse, checkStatus, parseContentLength, type CheckedResponse } from '../../src/gateway/app-headers.js';
import { checkEarlyHints } from '../../src/gateway/early-hints.js';
import { validate, ValidationError } from '../../src/gateway/validate.js';
import type { App, Header } from '../../src/gateway/types.js';

const blank = (): CheckedResponse => ({ status: 0, statusLine: '', headers: [], contentLength: -1, ascii: true });

describe('status (spec §5.2)', () => {
  it.each([
    ['200 OK', 200],
    ['200', 200],
    ['204 ', 204],
    ['599 Custom\treason \u00ff', 599],
  ])('%j is code %i', (status, code) => {
    expect(checkStatus(status)).toBe(code);
  });

  it.each([['100 Continue'], ['103 Early Hints'], ['600 Beyond'], ['999'], ['20 OK'], ['200OK'], ['200 OK\r\nX: 1'], ['200 \x7f']])('%j is refused', (status) => {
    expect(() => checkStatus(status)).toThrow(AppHeaderError);
  });
});

describe('Content-Length (spec §5.3)', () => {
  it.each([
    ['0', 0],
    ['42', 42],
    [' \t42 \t', 42],
    ['007', 7],
    ['9007199254740991', 9007199254740991],
  ])('%j is %i', (value, n) => {
    expect(parseContentLength(value)).toBe(n);
  });

  it.each([[''], [' '], ['-1'], ['+1'], ['1e3'], ['0x10'], ['4 2'], ['\u00a042'], ['42\u00a0'], ['9007199254740992'], ['12345678901234567']])('%j is not one', (value) => {
    expect(parseContentLength(value)).toBe(-1);
  });

  it('is sent once, whatever the app repeated: the server drops the app fields and keeps the number', () => {
    const out = blank();
    checkResponse('200 OK', [['Content-Length', '05'], ['X-A', '1'], ['content-length', ' 5']], out);
    expect(out.contentLength).toBe(5);
    expect(out.headers).toEqual([['X-A', '1']]);
  });

  it('two different values are refused', () => {
    expect(() => checkResponse('200 OK', [['Content-Length', '5'], ['Content-Length', '6']], blank())).toThrow(AppHeaderError);
  });
});

describe('early hints (spec §5.7)', () => {
  const link: Header = ['Link', '</a.css>; rel=preload; as=style'];

  it('keeps the fields an interim response may carry, in order', () => {
    const hints: Header[] = [link, ['Link', '</b.js>; rel=preload; as=script']];
    expect(checkEarlyHints(hints)).toBe(hints);
  });

  it('drops Content-Length and the hop-by-hop fields, as startResponse does', () => {
    expect(checkEarlyHints([['Connection', 'close'], link, ['content-length', '0'], ['Transfer-Encoding', 'chunked']])).toEqual([link]);
  });

  it.each([
    ['not an array', 'Link: </a>'],
    ['a name that is not a token', [['Li nk', 'x']]],
    ['a value with CR LF', [['Link', '</a>\r\nX: 1']]],
    ['a value above U+00FF', [['Link', '</\u20ac>']]],
    ['DEL in a value', [['Link', '</a>\x7f']]],
  ])('refuses %s', (_name, hints) => {
    expect(() => checkEarlyHints(hints)).toThrow(AppHeaderError);
  });

  it('what the server drops, the validator reports as the app breaking §5.7', () => {
    const app: App = (environ, startResponse) => {
      environ['tsgi.early_hints']([['Connection', 'close']]);
      startResponse('200 OK', []);
      return [];
    };
    const environ = {
      REQUEST_METHOD: 'GET', SCRIPT_NAME: '', PATH_INFO: '/', QUERY_STRING: '', CONTENT_TYPE: '', CONTENT_LENGTH: '',
      SERVER_NAME: 'localhost', SERVER_PORT: '80', SERVER_PROTOCOL: 'HTTP/1.1', SERVER_SOFTWARE: 'test/1', REMOTE_ADDR: '127.0.0.1',
      REMOTE_PORT: '1', RAW_URI: '/', 'tsgi.version': [1, 1], 'tsgi.url_scheme': 'http',
      'tsgi.input': { read: async () => new Uint8Array(0), [Symbol.asyncIterator]: async function* () {} },
      'tsgi.errors': { write() {}, flush() {} }, 'tsgi.multithread': false, 'tsgi.multiprocess': false, 'tsgi.run_once': false,
      'tsgi.input_terminated': true, 'tsgi.raw_headers': [], 'tsgi.signal': new AbortController().signal, 'tsgi.early_hints': () => {},
    };
    expect(() => validate(app)(environ as never, () => async () => {})).toThrow(ValidationError);
  });
});
