/** The Proxies and SSL settings: Gunicorn's names, forms and defaults, from every source. */
import { afterAll, describe, expect, test } from 'vitest';
import { defaultConfig, loadConfig } from '../../src/config/load.js';
import { configError, scratchDirectory } from './helpers.js';

const scratch = scratchDirectory();
afterAll(() => scratch.cleanup());

const load = async (argv: string[], env: NodeJS.ProcessEnv = {}) => (await loadConfig(argv, env, scratch.dir)).config;

describe('forwardedAllowIps and proxyAllowIps', () => {
  test("Gunicorn's defaults, and FORWARDED_ALLOW_IPS as Gunicorn reads it", async () => {
    const config = defaultConfig({}, '/');
    expect(config.forwardedAllowIps).toEqual(['127.0.0.1', '::1']);
    expect(config.proxyAllowIps).toEqual(['127.0.0.1', '::1']);
    expect((await load([], { FORWARDED_ALLOW_IPS: '10.0.0.0/8, 192.0.2.1' })).forwardedAllowIps).toEqual(['10.0.0.0/8', '192.0.2.1']);
    expect((await load([], { FORWARDED_ALLOW_IPS: '*' })).forwardedAllowIps).toEqual(['*']);
  });

  test('comma-separated on the command line, as Gunicorn writes it, and repeatable', async () => {
    expect((await load(['--forwarded-allow-ips', '10.0.0.0/8,fd00::/8'])).forwardedAllowIps).toEqual(['10.0.0.0/8', 'fd00::/8']);
    expect((await load(['--forwarded-allow-ips', '10.0.0.1', '--forwarded-allow-ips', '10.0.0.2'])).forwardedAllowIps).toEqual(['10.0.0.1', '10.0.0.2']);
    expect((await load(['--proxy-allow-from', '*'])).proxyAllowIps).toEqual(['*']);
    expect((await load([], { TSGI_PROXY_ALLOW_FROM: '192.0.2.0/24' })).proxyAllowIps).toEqual(['192.0.2.0/24']);
  });

  test('a bad entry is a config error naming the setting and what to write', async () => {
    const error = await configError(load(['--forwarded-allow-ips', '127.0.0.1,10.0.0.1/8']));
    expect(error.message).toMatch(/forwardedAllowIps/);
    expect(error.message).toMatch(/host bits set/);
    const named = await configError(load(['--proxy-allow-from', 'localhost']));
    expect(named.message).toMatch(/proxyAllowIps.*not an IP address/);
  });

  test('a config file gives an array, or Gunicorn\'s comma-separated string', async () => {
    const file = scratch.write('a.json', JSON.stringify({ forwardedAllowIps: '10.0.0.0/8,::1', proxyAllowIps: ['192.0.2.1'] }));
    const config = await load(['-c', file]);
    expect(config.forwardedAllowIps).toEqual(['10.0.0.0/8', '::1']);
    expect(config.proxyAllowIps).toEqual(['192.0.2.1']);
  });
});

describe('secureSchemeHeaders', () => {
  test("Gunicorn's default map", () => {
    expect(defaultConfig({}, '/').secureSchemeHeaders).toEqual({ 'X-FORWARDED-PROTOCOL': 'ssl', 'X-FORWARDED-PROTO': 'https', 'X-FORWARDED-SSL': 'on' });
  });

  test('NAME=VALUE pairs on the command line and in the environment; an empty string is no headers', async () => {
    expect((await load(['--secure-scheme-headers', 'X-Forwarded-Proto=https, Front-End-Https=on'])).secureSchemeHeaders).toEqual({
      'X-Forwarded-Proto': 'https',
      'Front-End-Https': 'on',
    });
    expect((await load([], { TSGI_SECURE_SCHEME_HEADERS: 'X-Scheme=https' })).secureSchemeHeaders).toEqual({ 'X-Scheme': 'https' });
    expect((await load(['--secure-scheme-headers', ''])).secureSchemeHeaders).toEqual({});
  });

  test('an object in a config file', async () => {
    const file = scratch.write('b.json', JSON.stringify({ secureSchemeHeaders: { 'X-Forwarded-Proto': 'https' } }));
    expect((await load(['-c', file])).secureSchemeHeaders).toEqual({ 'X-Forwarded-Proto': 'https' });
  });

  test('malformed pairs and names are config errors', async () => {
    expect((await configError(load(['--secure-scheme-headers', 'X-Forwarded-Proto']))).message).toMatch(/secureSchemeHeaders.*NAME=VALUE/);
    expect((await configError(load(['--secure-scheme-headers', 'Bad Name=https']))).message).toMatch(/not a header name/);
    expect((await configError(load(['--secure-scheme-headers', 'X-A=']))).message).toMatch(/empty/);
  });
});

describe('proxyProtocol', () => {
  test('off by default; v1, v2 and auto; a config file\'s true (Gunicorn 23) is auto', async () => {
    expect(defaultConfig({}, '/').proxyProtocol).toBe('off');
    for (const mode of ['v1', 'v2', 'auto', 'off']) expect((await load(['--proxy-protocol', mode])).proxyProtocol).toBe(mode);
    const file = scratch.write('c.json', JSON.stringify({ proxyProtocol: true }));
    expect((await load(['-c', file])).proxyProtocol).toBe('auto');
    const off = scratch.write('d.json', JSON.stringify({ proxyProtocol: false }));
    expect((await load(['-c', off])).proxyProtocol).toBe('off');
    await configError(load(['--proxy-protocol', 'v3']));
  });
});

describe('SSL settings', () => {
  test('defaults: no TLS, no client certificates, TLS 1.2 at least', () => {
    expect(defaultConfig({}, '/')).toMatchObject({ certfile: null, keyfile: null, caCerts: null, certReqs: 0, ciphers: null, sslMinVersion: 'TLSv1.2' });
  });

  test("--cert-reqs takes Gunicorn's numbers and their names", async () => {
    for (const [text, mode] of [['0', 0], ['1', 1], ['2', 2], ['none', 0], ['optional', 1], ['REQUIRED', 2], ['CERT_REQUIRED', 2]] as const) {
      expect((await load(['--cert-reqs', text])).certReqs, text).toBe(mode);
    }
    await configError(load(['--cert-reqs', '3']));
    await configError(load(['--cert-reqs', 'sometimes']));
  });

  test('the file settings and the minimum version from the command line', async () => {
    const config = await load(['--certfile', 'c.pem', '--keyfile', 'k.pem', '--ca-certs', 'ca.pem', '--ciphers', 'ECDHE+AESGCM', '--ssl-min-version', 'TLSv1.3']);
    expect(config).toMatchObject({ certfile: 'c.pem', keyfile: 'k.pem', caCerts: 'ca.pem', ciphers: 'ECDHE+AESGCM', sslMinVersion: 'TLSv1.3' });
    await configError(load(['--ssl-min-version', 'TLSv1.1']));
  });
});
