/**
 * LightResponse answers as the platform's Response does: the same errors from the constructor,
 * the same properties and body readers, `instanceof` both ways; and it keeps its body as given,
 * without a stream, until something asks for one (what the fetch runner reads).
 */
import { describe, expect, it } from 'vitest';
import { GenuineResponse, LightResponse, lightParts, type LightParts } from '../../src/gateway/interfaces/light-response.js';

const Light = LightResponse as unknown as typeof Response;
const parts = (): LightParts => ({ status: 0, statusText: '', headers: undefined, defaultType: null, body: null });

describe('LightResponse', () => {
  it('throws what the platform throws', () => {
    for (const [body, init] of [
      ['x', { status: 99 }],
      ['x', { status: 600 }],
      ['x', { status: 204 }],
      ['x', { statusText: 'bad\nreason' }],
      ['x', { headers: [['bad name', 'v']] }],
    ] as const) {
      let genuine: unknown = null;
      let light: unknown = null;
      try {
        new GenuineResponse(body, init as ResponseInit);
      } catch (err) {
        genuine = (err as Error).constructor;
      }
      try {
        // An invalid header in pairs is refused when the response is sent, not here (docs/interfaces.md).
        new Light(body, init as ResponseInit);
      } catch (err) {
        light = (err as Error).constructor;
      }
      if ('headers' in init) expect(light).toBe(null);
      else expect(light).toBe(genuine);
    }
  });

  it('answers like a genuine Response, and reads its body through one', async () => {
    const light = new Light('hello', { status: 201, headers: { 'X-A': '1' } });
    expect(light).toBeInstanceOf(GenuineResponse);
    expect(new GenuineResponse('x')).toBeInstanceOf(Light);
    expect([light.status, light.statusText, light.ok, light.type, light.url, light.redirected, light.bodyUsed]).toEqual([201, '', true, 'default', '', false, false]);
    expect(light.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(light.headers.get('x-a')).toBe('1');
    const copy = light.clone();
    expect(await light.text()).toBe('hello');
    expect(light.bodyUsed).toBe(true);
    expect(await copy.text()).toBe('hello');
    expect(await new Light(new Blob(['{"a":1}'], { type: 'application/json' })).json()).toEqual({ a: 1 });
    expect((await Light.json({ b: 2 })).headers.get('content-type')).toBe('application/json');
  });

  it('keeps the body and init as given until something asks for the stream', () => {
    const init = { headers: { 'content-type': 'application/json' } };
    const light = new Light('{"ok":true}', init);
    expect(lightParts(light, parts())).toMatchObject({ status: 200, body: '{"ok":true}', headers: init.headers, defaultType: 'text/plain;charset=UTF-8' });
    // Headers read (and changed) on the response are what gets sent.
    light.headers.set('x-late', '1');
    expect((lightParts(light, parts())!.headers as Headers).get('x-late')).toBe('1');
    void light.body;
    expect(lightParts(light, parts())).toBe(null);
    expect(lightParts(new GenuineResponse('x'), parts())).toBe(null);
    expect(lightParts(new Light(new ReadableStream()), parts())).toBe(null);
  });
});
