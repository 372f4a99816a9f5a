/**
 * environ['tsgi.input'] (src/gateway/input.ts, spec §4) driven through a fake BodySource: what a
 * read returns for each size, one reader at a time, the end and the failures, 100-continue, and the
 * flow control the engines rely on (`hungry`, wantBody()) so a slow app never makes a worker hold
 * more than one high-water mark of an upload.
 */
import { describe, expect, it } from 'vitest';
import { EMPTY_INPUT, INPUT_HIGH_WATER, RequestInput, type BodySource } from '../../src/gateway/input.js';
import { TsgiError } from '../../src/errors.js';

class FakeSource implements BodySource {
  wants = 0;
  continues = 0;
  wantBody(): void {
    this.wants++;
  }
  sendContinue(): void {
    this.continues++;
  }
}

function input(expectContinue = false): { body: RequestInput; source: FakeSource } {
  const source = new FakeSource();
  return { body: new RequestInput(source, expectContinue), source };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (chunk: Uint8Array): string => new TextDecoder().decode(chunk);

/** Whether `p` has settled, after the microtasks now queued ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('read(size) (spec §4.1)', () => {
  it('without a size: the whole queued chunk, then the next, then an empty array at the end', async () => {
    const { body } = input();
    body.push(bytes('hello'));
    body.push(bytes(' world'));
    body.end();
    expect(text(await body.read())).toBe('hello');
    expect(text(await body.read(null))).toBe(' world');
    const end = await body.read();
    expect(end).toBeInstanceOf(Uint8Array);
    expect(end.length).toBe(0);
    expect((await body.read()).length, 'the end stays the end').toBe(0);
    expect(body.consumed).toBe(11);
  });

  it('a positive size reads at most that many bytes, and the rest stays queued', async () => {
    const { body } = input();
    body.push(bytes('0123456789'));
    expect(text(await body.read(3))).toBe('012');
    expect(text(await body.read(3))).toBe('345');
    expect(body.queued).toBe(4);
    expect(text(await body.read(100))).toBe('6789');
    expect(body.queued).toBe(0);
  });

  it('Infinity and a negative size read any amount', async () => {
    const { body } = input();
    body.push(bytes('abc'));
    body.push(bytes('def'));
    expect(text(await body.read(Infinity))).toBe('abc');
    expect(text(await body.read(-1))).toBe('def');
  });

  it.each([
    [0, RangeError],
    [Number.NaN, RangeError],
    [1.5, RangeError],
    ['3', TypeError],
    [{}, TypeError],
  ])('%j rejects with a %s coded TSGI_ERR_INPUT_READ, and reads nothing', async (size, kind) => {
    const { body, source } = input(true);
    body.push(bytes('abc'));
    const err = await body.read(size as number).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(kind);
    expect((err as { code: string }).code).toBe('TSGI_ERR_INPUT_READ');
    expect(body.queued, 'nothing was taken').toBe(3);
    expect(source.continues, 'a refused read sends no 100 Continue').toBe(0);
  });

  it('a read waiting when bytes arrive gets them at once, cut to its size; the rest is queued', async () => {
    const { body, source } = input();
    const pending = body.read(4);
    expect(source.wants, 'a read with nothing queued asks for the body').toBe(1);
    expect(await settled(pending)).toBe(false);
    body.push(bytes('abcdefgh'));
    expect(text(await pending)).toBe('abcd');
    expect(body.queued).toBe(4);
    expect(text(await body.read())).toBe('efgh');
  });

  it('a waiting read gets the end as an empty array', async () => {
    const { body } = input();
    const pending = body.read();
    body.end();
    expect((await pending).length).toBe(0);
  });

  it('empty chunks are not data: a waiting read goes on waiting', async () => {
    const { body } = input();
    const pending = body.read();
    body.push(new Uint8Array(0));
    expect(await settled(pending)).toBe(false);
    body.push(bytes('x'));
    expect(text(await pending)).toBe('x');
  });
});

describe('one reader at a time (spec §4.3)', () => {
  it('a second read while one is pending rejects, and the pending one is left alone', async () => {
    const { body } = input();
    const first = body.read();
    await expect(body.read()).rejects.toMatchObject({ code: 'TSGI_ERR_INPUT_READ' });
    body.push(bytes('first'));
    expect(text(await first)).toBe('first');
  });
});

describe('failure (spec §4.4, §4.8)', () => {
  it('a pending read rejects with the reason itself; so does every later one, whatever was queued', async () => {
    const { body } = input();
    const reason = new TsgiError('TSGI_ERR_CLIENT_GONE', 'gone');
    const pending = body.read();
    body.fail(reason);
    await expect(pending).rejects.toBe(reason);
    body.push(bytes('late'));
    await expect(body.read()).rejects.toBe(reason);
    expect(body.queued).toBe(0);
  });

  it('queued bytes are dropped by a failure: the read rejects instead of returning them', async () => {
    const { body } = input();
    const reason = new TsgiError('TSGI_ERR_RESPONSE_ENDED', 'ended');
    body.push(bytes('queued'));
    body.fail(reason);
    await expect(body.read()).rejects.toBe(reason);
    expect(body.hungry).toBe(false);
  });

  it('the first failure is the one reads report', async () => {
    const { body } = input();
    const first = new TsgiError('TSGI_ERR_BODY_TIMEOUT', 'stalled');
    body.fail(first);
    body.fail(new TsgiError('TSGI_ERR_RESPONSE_ENDED', 'ended'));
    await expect(body.read()).rejects.toBe(first);
  });
});

describe('flow control: what the engine reads (hungry, wantBody)', () => {
  it('hungry below the high-water mark, full at it, hungry again once read below it', async () => {
    const { body, source } = input();
    expect(body.hungry).toBe(true);
    body.push(new Uint8Array(INPUT_HIGH_WATER - 1));
    expect(body.hungry).toBe(true);
    body.push(new Uint8Array(1));
    expect(body.hungry, 'at the high-water mark the engine stops reading').toBe(false);
    const wantsBefore = source.wants;
    await body.read(1);
    expect(body.hungry).toBe(true);
    expect(source.wants, 'dropping below the mark asks for more').toBe(wantsBefore + 1);
  });

  it('a waiting read makes it hungry whatever is queued; the end makes it never hungry', () => {
    const { body } = input();
    const pending = body.read();
    expect(body.hungry).toBe(true);
    body.end();
    expect(body.hungry).toBe(false);
    return pending;
  });

  it('reading the rest after the end asks the engine for nothing more', async () => {
    const { body, source } = input();
    body.push(bytes('tail'));
    body.end();
    const wants = source.wants;
    expect(text(await body.read())).toBe('tail');
    expect(source.wants).toBe(wants);
  });
});

describe('Expect: 100-continue (spec §4.5)', () => {
  it('the first read sends 100 Continue, once; until then continueUnsent holds', async () => {
    const { body, source } = input(true);
    expect(body.continueUnsent).toBe(true);
    const pending = body.read();
    expect(source.continues).toBe(1);
    expect(body.continueUnsent).toBe(false);
    body.push(bytes('ab'));
    await pending;
    body.push(bytes('cd'));
    await body.read();
    expect(source.continues).toBe(1);
  });

  it('without Expect, no read sends one', async () => {
    const { body, source } = input(false);
    expect(body.continueUnsent).toBe(false);
    body.push(bytes('x'));
    await body.read();
    expect(source.continues).toBe(0);
  });
});

describe('async iteration (spec §4.2)', () => {
  it('yields each chunk until the end', async () => {
    const { body } = input();
    body.push(bytes('a'));
    body.push(bytes('b'));
    setImmediate(() => {
      body.push(bytes('c'));
      body.end();
    });
    const seen: string[] = [];
    for await (const chunk of body) seen.push(text(chunk));
    expect(seen).toEqual(['a', 'b', 'c']);
  });
});

describe('the input of a request without a body', () => {
  it('reads the end at once, iterates nothing, and refuses the same sizes', async () => {
    expect((await EMPTY_INPUT.read()).length).toBe(0);
    expect((await EMPTY_INPUT.read(5)).length).toBe(0);
    expect((await EMPTY_INPUT.read(-1)).length).toBe(0);
    expect((await EMPTY_INPUT.read(Infinity)).length).toBe(0);
    await expect(EMPTY_INPUT.read(0)).rejects.toBeInstanceOf(RangeError);
    await expect(EMPTY_INPUT.read('1' as unknown as number)).rejects.toBeInstanceOf(TypeError);
    const chunks: Uint8Array[] = [];
    for await (const chunk of EMPTY_INPUT) chunks.push(chunk);
    expect(chunks).toEqual([]);
  });
});

describe('edges found by mutation testing', () => {
  it('a waiting read of at most 10 bytes given 4 takes the 4 and queues nothing', async () => {
    const { body } = input();
    const pending = body.read(10);
    body.push(bytes('abcd'));
    expect(text(await pending)).toBe('abcd');
    expect(body.queued).toBe(0);
    expect(body.consumed).toBe(4);
  });

  it('a read of exactly the size that arrives or is queued leaves no empty chunk behind (which would read as the end)', async () => {
    const { body } = input();
    const pending = body.read(4);
    body.push(bytes('abcd'));
    expect(text(await pending)).toBe('abcd');
    body.push(bytes('efgh'));
    expect(text(await body.read(4))).toBe('efgh');
    body.push(bytes('ij'));
    const next = await body.read();
    expect(text(next)).toBe('ij');
    expect(body.consumed).toBe(10);
  });

  it('reading while still above the high-water mark asks the engine for nothing', async () => {
    const { body, source } = input();
    body.push(new Uint8Array(INPUT_HIGH_WATER));
    body.push(new Uint8Array(INPUT_HIGH_WATER));
    const wants = source.wants;
    await body.read(1);
    expect(body.queued).toBe(2 * INPUT_HIGH_WATER - 1);
    expect(source.wants).toBe(wants);
  });

  it('reading down to exactly the high-water mark asks for nothing yet; one byte below it does', async () => {
    const { body, source } = input();
    body.push(new Uint8Array(INPUT_HIGH_WATER + 1));
    const wants = source.wants;
    await body.read(1);
    expect(body.queued).toBe(INPUT_HIGH_WATER);
    expect(source.wants).toBe(wants);
    await body.read(1);
    expect(source.wants).toBe(wants + 1);
  });
});
