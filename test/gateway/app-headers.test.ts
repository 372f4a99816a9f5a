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

describe('header values (spec §5.3: no CR, LF or NUL)', () => {
  it.each([
    ['a bare CR', 'a\rInjected: 1'],
    ['a bare LF', 'a\nInjected: 1'],
    ['CR LF', 'a\r\nInjected: 1'],
    ['NUL', 'a\u0000b'],
    ['another control', 'a\u0001b'],
    ['DEL', 'a\u007fb'],
    ['a character above U+00FF', 'a\u20acb'],
  ])('%s is refused', (_name, value) => {
    expect(() => checkResponse('200 OK', [['X-A', value]], blank())).toThrow(AppHeaderError);
  });

  it('HTAB, SP, visible ASCII and obs-text are sent as given', () => {
    const out = blank();
    checkResponse('200 OK', [['X-A', '\tv a l u e ~'], ['X-B', 'caf\u00e9']], out);
    expect(out.headers).toEqual([['X-A', '\tv a l u e ~'], ['X-B', 'caf\u00e9']]);
    expect(out.ascii).toBe(false);
  });
});

describe('the last header list checked is remembered by value, never a refused one', () => {
  it.each([
    ['a bare CR', 'a\rInjected: 1'],
    ['a bare LF', 'a\nInjected: 1'],
    ['NUL', 'a\u0000b'],
  ])('the same names with one value now holding %s are checked anew and refused', (_name, bad) => {
    checkResponse('200 OK', [['X-A', 'fine'], ['X-B', 'fine']], blank());
    expect(() => checkResponse('200 OK', [['X-A', 'fine'], ['X-B', bad]], blank())).toThrow(AppHeaderError);
  });

  it('a refused list is refused every time it comes back', () => {
    const bad: Header[] = [['X-A', 'a\rb']];
    expect(() => checkResponse('200 OK', bad, blank())).toThrow(AppHeaderError);
    expect(() => checkResponse('200 OK', bad, blank())).toThrow(AppHeaderError);
    expect(() => checkResponse('200 OK', [['X-A', 'a\rb']], blank())).toThrow(AppHeaderError);
  });

  it('the same headers with a different status check the status', () => {
    const headers: Header[] = [['X-A', '1']];
    checkResponse('200 OK', headers, blank());
    expect(() => checkResponse('200 OK\r\nX: 1', [['X-A', '1']], blank())).toThrow(AppHeaderError);
    expect(() => checkResponse('100 Continue', [['X-A', '1']], blank())).toThrow(AppHeaderError);
  });

  it('an entry that is no longer a pair is checked anew', () => {
    checkResponse('200 OK', [['X-A', '1']], blank());
    expect(() => checkResponse('200 OK', [['X-A', '1', 'extra'] as unknown as Header], blank())).toThrow(AppHeaderError);
    checkResponse('200 OK', [['X-A', '1'], ['X-B', '2']], blank());
    expect(() => checkResponse('200 OK', [['X-A', '1']].concat([null as unknown as Header[]]) as Header[], blank())).toThrow(AppHeaderError);
  });

  it('a remembered list gives the same result as a fresh check, in this request’s own array', () => {
    const first: Header[] = [['Content-Type', 'text/plain'], ['Date', 'Tue, 01 Jan 2030 00:00:00 GMT'], ['X-\u00e9', 'x']].slice(0, 2) as Header[];
    const a = blank();
    checkResponse('201', first, a);
    const again: Header[] = [['Content-Type', 'text/plain'], ['Date', 'Tue, 01 Jan 2030 00:00:00 GMT']];
    const b = blank();
    checkResponse('201', again, b);
    expect(b).toEqual({ status: 201, statusLine: '201 Created', headers: again, contentLength: -1, ascii: true, hasDate: true });
    expect(b.headers, 'nothing dropped: the request’s own array is sent').toBe(again);
  });

  it('a remembered list with dropped fields keeps its Content-Length and what it kept; later edits of the app array change nothing', () => {
    const make = (): Header[] => [['Connection', 'close'], ['Content-Length', '3'], ['X-Kept', 'yes'], ['X-Obs', 'caf\u00e9']];
    const a = blank();
    const firstList = make();
    checkResponse('200 OK', firstList, a);
    firstList[2]![1] = 'edited after the check';
    const b = blank();
    checkResponse('200 OK', make(), b);
    expect(b).toEqual({ status: 200, statusLine: '200 OK', headers: [['X-Kept', 'yes'], ['X-Obs', 'caf\u00e9']], contentLength: 3, ascii: false, hasDate: false });
  });
});

describe('what startResponse refuses and drops (spec §5.2-§5.4), found by mutation testing', () => {
  it('refusals are AppHeaderErrors coded TSGI_ERR_APP_CONTRACT', () => {
    let err: unknown = null;
    try {
      checkResponse('200 OK', [['Bad Name', 'x']], blank());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppHeaderError);
    expect((err as AppHeaderError).code).toBe('TSGI_ERR_APP_CONTRACT');
  });

  it.each([
    ['a status that is a number', 200, []],
    ['headers that are not an array', '200 OK', {}],
    ['headers that are a string', '200 OK', 'X-A: 1'],
    ['a name that is not a token', '200 OK', [['Bad Name', 'x']]],
    ['an empty name', '200 OK', [['', 'x']]],
    ['a name that is not a string', '200 OK', [[7, 'x']]],
    ['a value that is not a string', '200 OK', [['X-A', 123]]],
    ['a Content-Length that is not a number', '200 OK', [['Content-Length', 'abc']]],
    ['two Content-Lengths, the first 0', '200 OK', [['Content-Length', '0'], ['Content-Length', '5']]],
  ])('%s', (_name, status, headers) => {
    expect(() => checkResponse(status as string, headers as Header[], blank())).toThrow(AppHeaderError);
  });

  it('Content-Length 0 is a length', () => {
    const out = blank();
    checkResponse('200 OK', [['Content-Length', '0']], out);
    expect(out.contentLength).toBe(0);
  });

  it.each([['TE'], ['te'], ['Transfer-Encoding'], ['TRANSFER-ENCODING'], ['Proxy-Connection'], ['Keep-Alive'], ['Connection'], ['Trailer'], ['Upgrade']])('%s is dropped', (name) => {
    const out = blank();
    checkResponse('200 OK', [['X-Before', '1'], [name, 'x'], ['X-After', '2']], out);
    expect(out.headers).toEqual([['X-Before', '1'], ['X-After', '2']]);
  });

  it('a field only as long as a hop-by-hop one, or longer, is kept', () => {
    const out = blank();
    const headers: Header[] = [['T', '1'], ['TX', '2'], ['Transfer-Encodinx', '3'], ['Transfer-Encoding-X', '4']];
    checkResponse('200 OK', headers, out);
    expect(out.headers).toEqual(headers);
  });

  it('a list with the same values under other names is checked anew', () => {
    checkResponse('200 OK', [['X-A', '1']], blank());
    expect(() => checkResponse('200 OK', [['Bad Name', '1']], blank())).toThrow(AppHeaderError);
  });

  it('a list that is the start of the last one gets its own result, not the last one’s fields', () => {
    checkResponse('200 OK', [['X-A', '1'], ['Connection', 'close'], ['X-B', '2']], blank());
    const out = blank();
    const shorter: Header[] = [['X-A', '1']];
    checkResponse('200 OK', shorter, out);
    expect(out.headers).toEqual([['X-A', '1']]);
  });

  it('after another list, an earlier one gets its own result again', () => {
    const first: Header[] = [['X-A', '1']];
    checkResponse('200 OK', first, blank());
    checkResponse('200 OK', [['Content-Length', '5']], blank());
    const out = blank();
    checkResponse('200 OK', [['X-A', '1']], out);
    expect(out.contentLength).toBe(-1);
    expect(out.headers).toEqual([['X-A', '1']]);
  });
});

describe('early hints edges (found by mutation testing)', () => {
  it.each([
    ['an entry that is not a pair', [['Link', '</a>', 'extra']]],
    ['an entry that is not an array', ['Link: </a>']],
    ['a name that is not a string', [[7, '</a>']]],
    ['a value that is not a string', [['Link', 123]]],
    ['a value with a bare CR', [['Link', '</a>\rX: 1']]],
  ])('refuses %s', (_name, hints) => {
    expect(() => checkEarlyHints(hints)).toThrow(AppHeaderError);
  });
});
