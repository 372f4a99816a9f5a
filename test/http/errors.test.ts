/**
 * The refusals the server makes on its own (src/http/errors.ts): each code carries the status the
 * server answers with (docs/errors.md), so an engine never picks one of its own.
 */
import { describe, expect, it } from 'vitest';
import { HttpParseError } from '../../src/errors.js';
import { serverRefusal, type ServerRefusalCode } from '../../src/http/errors.js';

describe('serverRefusal', () => {
  it.each<[ServerRefusalCode, number]>([
    ['TSGI_ERR_HEADER_TIMEOUT', 408],
    ['TSGI_ERR_ROOT_PATH', 404],
    ['TSGI_ERR_OVERLOADED', 503],
    ['TSGI_ERR_CONNECT', 501],
    ['TSGI_ERR_UPGRADE_CONTENT', 400],
  ])('%s is answered %i', (code, status) => {
    const err = serverRefusal(code, 'what to do');
    expect(err).toBeInstanceOf(HttpParseError);
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
    expect(err.message).toBe('what to do');
  });
});
