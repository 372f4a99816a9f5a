import { describe, expect, test } from 'vitest';
import { DEFAULT_PORT, parseBindAddress } from '../../src/config/bind.js';
import { ConfigError } from '../../src/config/errors.js';

describe('parseBindAddress', () => {
  test.each([
    ['127.0.0.1:8000', { kind: 'tcp', host: '127.0.0.1', port: 8000, family: 4 }],
    ['0.0.0.0:0', { kind: 'tcp', host: '0.0.0.0', port: 0, family: 4 }],
    ['localhost:65535', { kind: 'tcp', host: 'localhost', port: 65535, family: 0 }],
    ['example.com', { kind: 'tcp', host: 'example.com', port: DEFAULT_PORT, family: 0 }],
    ['10.1.2.3', { kind: 'tcp', host: '10.1.2.3', port: DEFAULT_PORT, family: 4 }],
    ['[::1]:9000', { kind: 'tcp', host: '::1', port: 9000, family: 6 }],
    ['[::]', { kind: 'tcp', host: '::', port: DEFAULT_PORT, family: 6 }],
    ['[fe80::1%eth0]:80', { kind: 'tcp', host: 'fe80::1%eth0', port: 80, family: 6 }],
    ['unix:/tmp/tsgi.sock', { kind: 'unix', path: '/tmp/tsgi.sock' }],
    ['unix:relative.sock', { kind: 'unix', path: 'relative.sock' }],
    ['fd://3', { kind: 'fd', fd: 3 }],
  ])('%s', (text, expected) => {
    expect(parseBindAddress(text)).toEqual(expected);
  });

  test.each([
    ['localhost:99999', 'a port is 0 to 65535'],
    ['localhost:http', 'has port "http"'],
    ['localhost:', 'has port ""'],
    [':8000', 'is a port without a host: did you mean 0.0.0.0:8000?'],
    ['8000', 'is a port without a host: did you mean 0.0.0.0:8000?'],
    [':', 'has no host'],
    ['::1', 'is an IPv6 address without brackets'],
    ['a:b:c', 'has more than one colon'],
    ['[::1', 'opens an IPv6 bracket without closing it'],
    ['[::1]8000', 'not :PORT'],
    ['[127.0.0.1]:80', 'not an IPv6 address'],
    ['bad_host!:80', 'neither an IP address nor a host name'],
    ['-leading.example:80', 'neither an IP address nor a host name'],
    ['unix:', 'has no socket path'],
    ['fd://2', 'a file descriptor number of 3 or more'],
    ['fd://x', 'a file descriptor number of 3 or more'],
  ])('rejects %s', (text, why) => {
    let error: unknown;
    try {
      parseBindAddress(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(JSON.stringify(text));
    expect((error as ConfigError).message).toContain(why);
    expect((error as ConfigError).message).toContain('use HOST:PORT, [IPv6]:PORT, HOST, unix:PATH or fd://N');
  });
});
