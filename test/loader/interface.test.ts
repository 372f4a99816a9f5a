/** loadApp with --interface: the value ATTR names is recognised, converted, and explained. */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadApp } from '../../src/loader/load-app.js';
import { AppLoadError } from '../../src/loader/errors.js';
import { testClient } from '../../src/gateway/interfaces/testing.js';

const dir = fileURLToPath(new URL('../fixtures/loader/interfaces/', import.meta.url));

async function body(spec: string, options?: Parameters<typeof loadApp>[2]): Promise<string> {
  const loaded = await loadApp(spec, dir, options);
  return (await testClient(loaded.app, { interface: 'tsgi', validate: false }).get('/x')).text();
}

describe('loadApp and --interface', () => {
  it('auto serves a fetch app, and a factory that returns a Fastify instance', async () => {
    const hono = await loadApp('apps.mjs:hono', dir);
    expect([hono.interface, hono.reason]).toEqual(['fetch', 'a Hono app: it has a fetch(request) method']);
    const fastify = await loadApp('apps.mjs:createFastify()', dir);
    expect(fastify.interface).toBe('node');
    expect(typeof fastify.close).toBe('function');
    expect(await (await testClient(fastify.app, { interface: 'tsgi', validate: false }).get('/')).text()).toBe('fastify');
    await fastify.close!();
  });

  it('an explicit interface loads the plain functions auto would take for TSGI', async () => {
    expect(await body('apps.mjs:fetchHandler', { interface: 'fetch' })).toBe('fetch /x');
    expect(await body('apps.mjs:nodeHandler', { interface: 'node' })).toBe('node /x');
    expect((await loadApp('apps.mjs:nodeHandler', dir)).interface).toBe('tsgi');
  });

  it('refuses with the flag or attribute that would load the value', async () => {
    const wrong = await loadApp('apps.mjs:hono', dir, { interface: 'node' }).catch((error: unknown) => error);
    expect(wrong).toBeInstanceOf(AppLoadError);
    expect(wrong).toMatchObject({ code: 'TSGI_ERR_APP_INTERFACE', message: expect.stringContaining('use --interface fetch') });
    const holder = await loadApp('apps.mjs:holder', dir).catch((error: unknown) => error);
    expect(holder).toMatchObject({ code: 'TSGI_ERR_APP_NOT_CALLABLE', message: expect.stringContaining('name it, apps.mjs:holder.server') });
  });
});
