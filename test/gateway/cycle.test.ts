/**
 * The startResponse cycle (src/gateway/cycle.ts) driven through a fake Transport: every state
 * (NEW, STARTED, HEAD_SENT, DONE, CANCELLED) and what moves between them, Content-Length as a
 * running total and the §6.3.1 cases, cancel() in every state, and the two exactly-once rules:
 * the body's close() (spec §6.4) and the transport's released().
 */
import { describe, expect, it, vi } from 'vitest';
import { Cycle, type Transport } from '../../src/gateway/cycle.js';
import type { CheckedResponse } from '../../src/gateway/app-headers.js';
import { TsgiError } from '../../src/errors.js';
import type { App, Body, Chunk, Environ, Header, StartResponse, Write } from '../../src/gateway/types.js';
import type { Logger } from '../../src/log.js';

/** Everything a cycle asked of its transport, in order, as short strings. */
class FakeTransport implements Transport {
  readonly events: string[] = [];
  head: { status: number; statusLine: string; headers: Header[]; contentLength: number; noBody: boolean } | null = null;
  readonly bytes: Buffer[] = [];
  /** What sendChunk answers: false asks the cycle to wait for waitDrain(). */
  accepting = true;
  private drains: (() => void)[] = [];

  sendHead(r: CheckedResponse, contentLength: number, noBody: boolean): void {
    this.head = { status: r.status, statusLine: r.statusLine, headers: r.headers, contentLength, noBody };
    this.events.push(`head ${r.status} ${contentLength}${noBody ? ' no-body' : ''}`);
  }

  /** Called after each chunk, so a test can act in the middle of a send (cancel, say). */
  onChunk: (() => void) | null = null;

  sendChunk(chunk: Chunk, byteLength: number): boolean {
    if (!(typeof chunk === 'string' || chunk instanceof Uint8Array)) {
      this.events.push(`chunk of ${typeof chunk}`);
      return this.accepting;
    }
    if (byteLength === 0) this.events.push('empty chunk (nothing may be sent for one)');
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    expect(byteLength, 'the byte length handed with a chunk is its length').toBe(buf.length);
    this.bytes.push(buf);
    this.events.push(`chunk ${buf.toString('latin1')}`);
    this.onChunk?.();
    return this.accepting;
  }

  waitDrain(): Promise<void> {
    this.events.push('wait');
    return new Promise((resolve) => this.drains.push(resolve));
  }

  /** Resolves every pending waitDrain(). */
  drain(): void {
    const waiting = this.drains;
    this.drains = [];
    for (const resolve of waiting) resolve();
  }

  finish(complete: boolean): void {
    this.events.push(`finish ${complete ? 'complete' : 'incomplete'}`);
  }

  failBeforeHead(): void {
    this.events.push('500');
  }

  abort(): void {
    this.events.push('abort');
  }

  released(): void {
    this.events.push('released');
  }

  get body(): string {
    return Buffer.concat(this.bytes).toString('latin1');
  }

  count(event: string): number {
    return this.events.filter((e) => e === event).length;
  }
}

interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function fakeLogger(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (a: unknown, b?: unknown): void => {
      if (typeof a === 'string') lines.push({ level, msg: a, fields: {} });
      else lines.push({ level, msg: String(b), fields: a as Record<string, unknown> });
    };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as Logger;
}

interface Run {
  cycle: Cycle;
  t: FakeTransport;
  logs: LogLine[];
}

function start(app: App, method = 'GET', t = new FakeTransport()): Run {
  const logs: LogLine[] = [];
  const cycle = new Cycle(t, method, fakeLogger(logs));
  cycle.run(app, {} as Environ);
  return { cycle, t, logs };
}

/** Lets every pending promise continuation and I/O callback run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A body with a close() spy: the server must call it exactly once (spec §6.4). */
function closable<B extends object>(body: B, close: () => unknown = () => undefined): B & { close: ReturnType<typeof vi.fn> } {
  return Object.assign(body, { close: vi.fn(close) });
}

/** An async iterator whose next() results the test hands out one by one. */
function controlledIterator() {
  const pending: { resolve: (r: IteratorResult<Chunk>) => void; reject: (e: unknown) => void }[] = [];
  const next = vi.fn(
    () =>
      new Promise<IteratorResult<Chunk>>((resolve, reject) => {
        pending.push({ resolve, reject });
      }),
  );
  let returnSettle: (() => void) | null = null;
  let returnMode: 'resolve' | 'hold' | 'reject' | 'throw' | 'none' = 'resolve';
  let returnError: unknown = null;
  const iterator: AsyncIterator<Chunk> & { return?: () => Promise<IteratorResult<Chunk>> } = { next };
  const ret = vi.fn((): Promise<IteratorResult<Chunk>> => {
    if (returnMode === 'throw') throw returnError;
    if (returnMode === 'reject') return Promise.reject(returnError);
    if (returnMode === 'hold') return new Promise((resolve) => (returnSettle = () => resolve({ done: true, value: undefined })));
    return Promise.resolve({ done: true, value: undefined });
  });
  iterator.return = ret;
  const body = closable({ [Symbol.asyncIterator]: () => iterator });
  return {
    body,
    next,
    ret,
    /** The pending next() gives `value` (or ends the body when undefined). */
    give(value?: Chunk): void {
      const p = pending.shift()!;
      p.resolve(value === undefined ? { done: true, value: undefined } : { done: false, value });
    },
    fail(err: unknown): void {
      pending.shift()!.reject(err);
    },
    get waiting(): number {
      return pending.length;
    },
    returnHolds(): void {
      returnMode = 'hold';
    },
    returnRejects(err: unknown): void {
      returnMode = 'reject';
      returnError = err;
    },
    returnThrows(err: unknown): void {
      returnMode = 'throw';
      returnError = err;
    },
    withoutReturn(): void {
      delete iterator.return;
    },
    settleReturn(): void {
      returnSettle!();
    },
  };
}

const errors = (logs: LogLine[]): string[] => logs.filter((l) => l.level === 'error').map((l) => l.msg);

describe('NEW → STARTED → HEAD_SENT → DONE', () => {
  it('an array body: one head with the summed length, its chunks, a complete finish, then released', () => {
    const { t, cycle } = start((_env, sr) => {
      sr('200 OK', [['Content-Type', 'text/plain']]);
      return ['hel', '', new TextEncoder().encode('lo')];
    });
    expect(t.events).toEqual(['head 200 5', 'chunk hel', 'chunk lo', 'finish complete', 'released']);
    expect(t.head!.headers).toEqual([['Content-Type', 'text/plain']]);
    expect(cycle.sent).toBe(5);
  });

  it('an empty array: the head goes out with length 0 when the body ends', () => {
    const { t } = start((_env, sr) => {
      sr('200 OK', []);
      return [];
    });
    expect(t.events).toEqual(['head 200 0', 'finish complete', 'released']);
  });

  it('the app-declared Content-Length is the head length, whatever the array holds', () => {
    const { t } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '5']]);
      return ['12', '345'];
    });
    expect(t.events).toEqual(['head 200 5', 'chunk 12', 'chunk 345', 'finish complete', 'released']);
    expect(t.head!.headers, 'the app field is dropped: the server writes the one Content-Length').toEqual([]);
  });

  it('a generator: the head (length unknown) goes with the first non-empty chunk; empty chunks send nothing', () => {
    let started = false;
    const { t } = start((_env, sr) =>
      (function* () {
        yield '';
        // spec §5.1: startResponse may come inside the body, before its first chunk.
        sr('200 OK', []);
        started = true;
        yield '';
        yield 'a';
        yield 'b';
      })(),
    );
    expect(started).toBe(true);
    expect(t.events).toEqual(['head 200 -1', 'chunk a', 'chunk b', 'finish complete', 'released']);
  });

  it('an async generator from an async app', async () => {
    const { t } = start(async (_env, sr) => {
      await settle();
      sr('201 Created', []);
      return (async function* () {
        yield 'x';
        await settle();
        yield 'y';
      })();
    });
    expect(t.events).toEqual([]);
    await vi.waitFor(() => expect(t.events).toContain('released'));
    expect(t.events).toEqual(['head 201 -1', 'chunk x', 'chunk y', 'finish complete', 'released']);
  });

  it('a generator that yields nothing sends the head with length 0 when it ends', () => {
    const { t } = start((_env, sr) => {
      sr('200 OK', []);
      return (function* () {})();
    });
    expect(t.events).toEqual(['head 200 0', 'finish complete', 'released']);
  });

  it('prefers [Symbol.asyncIterator] when a body has both (spec §6.1)', async () => {
    const body = {
      *[Symbol.iterator]() {
        yield 'sync';
      },
      async *[Symbol.asyncIterator]() {
        yield 'async';
      },
    };
    const { t } = start((_env, sr) => {
      sr('200 OK', []);
      return body;
    });
    await vi.waitFor(() => expect(t.events).toContain('released'));
    expect(t.body).toBe('async');
  });

  it('write(): the first call sends the head, even an empty one; the array then follows it (spec §5.5)', async () => {
    let first: Promise<void> | null = null;
    let afterFirst: string[] = [];
    const t = new FakeTransport();
    start(
      (_env, sr) => {
        const write = sr('200 OK', []);
        first = write('');
        afterFirst = [...t.events];
        void write('w;');
        return ['body'];
      },
      'GET',
      t,
    );
    expect(afterFirst).toEqual(['head 200 -1']);
    await expect(first).resolves.toBeUndefined();
    expect(t.events).toEqual(['head 200 -1', 'chunk w;', 'chunk body', 'finish complete', 'released']);
  });

  it('write() waits for the transport to drain when it is full', async () => {
    let written: Promise<void> | null = null;
    const t = new FakeTransport();
    start(
      (_env, sr) => {
        const write = sr('200 OK', []);
        return (async function* () {
          t.accepting = false;
          written = write('full');
          yield 'after';
        })();
      },
      'GET',
      t,
    );
    await settle();
    let resolved = false;
    void written!.then(() => (resolved = true));
    await settle();
    expect(resolved, 'write() resolves only once the transport drained').toBe(false);
    t.drain();
    await vi.waitFor(() => expect(resolved).toBe(true));
  });

  it('a generator is not asked for its next chunk until the transport took the last one (spec §6.5)', async () => {
    const it = controlledIterator();
    const { t } = start((_env, sr) => {
      sr('200 OK', []);
      return it.body;
    });
    t.accepting = false;
    it.give('one');
    await settle();
    expect(t.events).toEqual(['head 200 -1', 'chunk one', 'wait']);
    expect(it.next).toHaveBeenCalledTimes(1);
    t.accepting = true;
    t.drain();
    await settle();
    expect(it.next).toHaveBeenCalledTimes(2);
    it.give();
    await settle();
    expect(t.events.slice(3)).toEqual(['finish complete', 'released']);
    expect(it.body.close).toHaveBeenCalledTimes(1);
    expect(it.ret, 'a finished iterator gets no return()').not.toHaveBeenCalled();
  });
});

describe('responses without content (RFC 9110 §6.3, spec §6.3)', () => {
  it('HEAD answered with the GET array: no bytes, and the array length as Content-Length', () => {
    const body = closable(['hello']);
    const { t } = start((_env, sr) => {
      sr('200 OK', []);
      return body;
    }, 'HEAD');
    expect(t.events).toEqual(['head 200 5 no-body', 'finish complete', 'released']);
    expect(body.close).toHaveBeenCalledTimes(1);
  });

  it('HEAD with an empty body: no computed length at all', () => {
    const { t } = start((_env, sr) => {
      sr('200 OK', []);
      return [];
    }, 'HEAD');
    expect(t.events).toEqual(['head 200 -1 no-body', 'finish complete', 'released']);
  });

  it('HEAD with a declared length and a generator: the declaration stands, the body is iterated to its end and not sent', () => {
    const seen: string[] = [];
    const { t } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '3']]);
      return (function* () {
        seen.push('ran');
        yield 'more than three';
        seen.push('ended');
      })();
    }, 'HEAD');
    expect(seen).toEqual(['ran', 'ended']);
    expect(t.events).toEqual(['head 200 3 no-body', 'finish complete', 'released']);
  });

  it.each([
    ['204 No Content', 204, [], -1],
    ['304 Not Modified', 304, [], -1],
    ['304 Not Modified', 304, [['Content-Length', '7']] as Header[], 7],
  ])('%s (%j): no content, Content-Length only when the app declared it', (status, code, headers, length) => {
    const { t } = start((_env, sr) => {
      sr(status, headers);
      return ['x'];
    });
    expect(t.events).toEqual([`head ${code} ${length} no-body`, 'finish complete', 'released']);
  });
});

describe('startResponse (spec §5.1, §5.6)', () => {
  it('excInfo before the head replaces the status and headers', () => {
    const { t } = start((_env, sr) => {
      sr('200 OK', [['X-First', '1']]);
      sr('503 Service Unavailable', [['X-Second', '2']], new Error('caught'));
      return ['replaced'];
    });
    expect(t.events[0]).toBe('head 503 8');
    expect(t.head!.headers).toEqual([['X-Second', '2']]);
    expect(t.head!.statusLine).toBe('503 Service Unavailable');
  });

  it('excInfo on the first call is valid', () => {
    const { t } = start((_env, sr) => {
      sr('500 Oops', [], new Error('caught'));
      return ['x'];
    });
    expect(t.events[0]).toBe('head 500 1');
  });

  it('a second call without excInfo throws TSGI_ERR_APP_CONTRACT; an app that catches it keeps its first response', () => {
    let thrown: unknown = null;
    const { t } = start((_env, sr) => {
      sr('200 OK', []);
      try {
        sr('404 Not Found', []);
      } catch (err) {
        thrown = err;
      }
      return ['ok'];
    });
    expect(thrown).toBeInstanceOf(TsgiError);
    expect((thrown as TsgiError).code).toBe('TSGI_ERR_APP_CONTRACT');
    expect(t.events[0]).toBe('head 200 2');
  });

  it('excInfo once the head is sent re-throws excInfo itself, and the response is aborted', () => {
    const original = new Error('late');
    let thrown: unknown = null;
    const { t, logs } = start((_env, sr) => {
      const write = sr('200 OK', []);
      void write('partial');
      try {
        sr('500 Oops', [], original);
      } catch (err) {
        thrown = err;
        throw err;
      }
      return [];
    });
    expect(thrown).toBe(original);
    expect(t.events).toEqual(['head 200 -1', 'chunk partial', 'abort', 'released']);
    expect(logs.some((l) => l.fields.err === original)).toBe(true);
  });

  it('an invalid call throws and counts as not made: an app that recovers is answered normally', () => {
    const { t } = start((_env, sr) => {
      expect(() => sr('200 OK', [['X-A', 'a\rb']])).toThrow(/CR, LF, NUL/);
      sr('200 OK', [['X-A', 'ab']]);
      return ['ok'];
    });
    expect(t.events).toEqual(['head 200 2', 'chunk ok', 'finish complete', 'released']);
    expect(t.head!.headers).toEqual([['X-A', 'ab']]);
  });

  it.each([
    ['a bare CR', 'a\rInjected: 1'],
    ['a bare LF', 'a\nInjected: 1'],
    ['CR LF', 'a\r\nInjected: 1'],
    ['NUL', 'a\u0000b'],
  ])('a header value with %s is never sent: the app that does not recover gets a 500', (_name, value) => {
    const { t, logs } = start((_env, sr) => {
      sr('200 OK', [['X-A', value]]);
      return ['never sent'];
    });
    expect(t.events).toEqual(['500', 'released']);
    expect(t.head).toBeNull();
    expect(errors(logs).join('\n')).toMatch(/invalid response to startResponse\(\).*answered 500/);
  });

  it('startResponse after the body was closed throws', () => {
    let later: StartResponse | null = null;
    const { t } = start((_env, sr) => {
      later = sr;
      sr('200 OK', []);
      return ['done'];
    });
    expect(t.events.at(-1)).toBe('released');
    expect(() => later!('200 OK', [])).toThrow(TsgiError);
  });
});

describe('app errors before the head: the server answers 500 (spec §8.1)', () => {
  const cases: [string, App][] = [
    [
      'the app throws',
      () => {
        throw new Error('boom');
      },
    ],
    ['the async app rejects', async () => Promise.reject(new Error('boom'))],
    ['an array returned without startResponse', () => ['x']],
    ['an empty body returned without startResponse', () => []],
    [
      'a generator yields before startResponse',
      () =>
        (function* () {
          yield 'x';
        })(),
    ],
    [
      'a generator ends without startResponse',
      () =>
        (function* () {
          /* nothing */
        })(),
    ],
    [
      'a string body',
      (_env, sr) => {
        sr('200 OK', []);
        return 'text' as unknown as Body;
      },
    ],
    [
      'a Uint8Array body',
      (_env, sr) => {
        sr('200 OK', []);
        return new Uint8Array(3) as unknown as Body;
      },
    ],
    [
      'null',
      (_env, sr) => {
        sr('200 OK', []);
        return null as unknown as Body;
      },
    ],
    [
      'a number',
      (_env, sr) => {
        sr('200 OK', []);
        return 7 as unknown as Body;
      },
    ],
    [
      'an object that is not iterable',
      (_env, sr) => {
        sr('200 OK', []);
        return {} as unknown as Body;
      },
    ],
    [
      'an iterable whose [Symbol.iterator] throws',
      (_env, sr) => {
        sr('200 OK', []);
        return {
          [Symbol.iterator]() {
            throw new Error('no iterator');
          },
        } as unknown as Body;
      },
    ],
    [
      'an array with a chunk that is neither string nor Uint8Array',
      (_env, sr) => {
        sr('200 OK', []);
        return ['fine', 42 as unknown as string];
      },
    ],
    [
      'a generator whose first chunk is a number',
      (_env, sr) => {
        sr('200 OK', []);
        return (function* () {
          yield 42 as unknown as string;
        })();
      },
    ],
    [
      'a generator that throws before its first chunk',
      (_env, sr) => {
        sr('200 OK', []);
        return (function* () {
          throw new Error('boom');
        })();
      },
    ],
    [
      'write() with a chunk that is not one',
      (_env, sr) => {
        void sr('200 OK', [])(42 as unknown as string).catch(() => {});
        return [];
      },
    ],
  ];

  it.each(cases)('%s → 500, nothing of the app sent, released once', async (_name, app) => {
    const { t, logs } = start(app);
    await settle();
    expect(t.events).toEqual(['500', 'released']);
    expect(errors(logs)).toHaveLength(1);
    expect(errors(logs)[0]).toMatch(/answered 500/);
  });
});

describe('app errors after the head: the connection is aborted (spec §8.2)', () => {
  it('a generator that throws mid-body: abort, no return() on a finished generator, close() once', () => {
    const body = closable(
      (function* () {
        yield 'partial';
        throw new Error('boom after');
      })(),
    );
    const ret = vi.spyOn(body, 'return');
    const { t, logs } = start((_env, sr) => {
      sr('200 OK', []);
      return body;
    });
    expect(t.events).toEqual(['head 200 -1', 'chunk partial', 'abort', 'released']);
    expect(ret).not.toHaveBeenCalled();
    expect(body.close).toHaveBeenCalledTimes(1);
    expect(errors(logs)[0]).toMatch(/after the response head was sent; connection aborted/);
  });

  it('a chunk of the wrong type after the head: abort', () => {
    const { t, logs } = start((_env, sr) => {
      sr('200 OK', []);
      return (function* () {
        yield 'ok';
        yield {} as unknown as string;
      })();
    });
    expect(t.events).toEqual(['head 200 -1', 'chunk ok', 'abort', 'released']);
    expect(errors(logs)[0]).toMatch(/broke the TSGI contract.*connection aborted/);
  });

  it('the app throws after write() sent the head: abort', () => {
    const { t } = start((_env, sr) => {
      void sr('200 OK', [])('x');
      throw new Error('boom');
    });
    expect(t.events).toEqual(['head 200 -1', 'chunk x', 'abort', 'released']);
  });
});

describe('Content-Length is a running total (spec §6.2, §6.3.1)', () => {
  it('chunks each under the declared length that add up to more: only the declared bytes, then an incomplete finish', () => {
    const { t, logs, cycle } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '5']]);
      return ['123', '456'];
    });
    expect(t.events).toEqual(['head 200 5', 'chunk 123', 'chunk 45', 'finish incomplete', 'released']);
    expect(cycle.sent).toBe(5);
    const line = logs.find((l) => /more bytes than its Content-Length/.test(l.msg))!;
    expect(line.fields).toEqual({ declared: 5, attempted: 6 });
  });

  it('the same from a generator: it is not asked for more, gets return() and close() once', () => {
    let pulled = 0;
    const body = closable(
      (function* () {
        for (const c of ['123', '456', '789']) {
          pulled++;
          yield c;
        }
      })(),
    );
    const ret = vi.spyOn(body, 'return');
    const { t } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '5']]);
      return body;
    });
    expect(t.events).toEqual(['head 200 5', 'chunk 123', 'chunk 45', 'finish incomplete', 'released']);
    expect(pulled).toBe(2);
    expect(ret).toHaveBeenCalledTimes(1);
    expect(body.close).toHaveBeenCalledTimes(1);
  });

  it('the same through write(): the write that went past rejects with TSGI_ERR_RESPONSE_ENDED, and so does every later one', async () => {
    const results: unknown[] = [];
    const { t } = start(async (_env, sr) => {
      const write = sr('200 OK', [['Content-Length', '5']]);
      results.push(await write('123'));
      for (const chunk of ['456', '7']) {
        try {
          await write(chunk);
          results.push('resolved');
        } catch (err) {
          results.push((err as TsgiError).code);
        }
      }
      return [];
    });
    await vi.waitFor(() => expect(t.events).toContain('released'));
    expect(results).toEqual([undefined, 'TSGI_ERR_RESPONSE_ENDED', 'TSGI_ERR_RESPONSE_ENDED']);
    expect(t.events).toEqual(['head 200 5', 'chunk 123', 'chunk 45', 'finish incomplete', 'released']);
  });

  it('a body exactly at the declared length, then one byte more: nothing of the extra byte is sent', () => {
    const { t } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '3']]);
      return (function* () {
        yield '123';
        yield '4';
      })();
    });
    expect(t.events).toEqual(['head 200 3', 'chunk 123', 'finish incomplete', 'released']);
  });

  it('cuts by bytes, not characters: a UTF-8 string and a Uint8Array', () => {
    const utf8 = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '3']]);
      return ['é', 'éé'];
    });
    expect(Buffer.concat(utf8.t.bytes)).toEqual(Buffer.from('ééé').subarray(0, 3));
    const bytes = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '4']]);
      return [Uint8Array.of(1, 2), Uint8Array.of(3, 4, 5)];
    });
    expect([...Buffer.concat(bytes.t.bytes)]).toEqual([1, 2, 3, 4]);
    expect(bytes.t.events.at(-2)).toBe('finish incomplete');
  });

  it('fewer bytes than declared: what there is, an incomplete finish, and a log line naming both numbers', () => {
    const { t, logs } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '10']]);
      return ['12345'];
    });
    expect(t.events).toEqual(['head 200 10', 'chunk 12345', 'finish incomplete', 'released']);
    expect(logs.find((l) => /fewer bytes/.test(l.msg))!.fields).toEqual({ declared: 10, sent: 5 });
  });

  it('an error after every declared byte was sent: the response stands, the connection closes (no abort)', () => {
    const { t, logs } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '3']]);
      return (function* () {
        yield '123';
        throw new Error('late');
      })();
    });
    expect(t.events).toEqual(['head 200 3', 'chunk 123', 'finish incomplete', 'released']);
    expect(errors(logs)[0]).toMatch(/whole declared body was sent; the response stands/);
  });

  it('an error before the declared bytes were all sent: abort', () => {
    const { t } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '5']]);
      return (function* () {
        yield '123';
        throw new Error('early');
      })();
    });
    expect(t.events).toEqual(['head 200 5', 'chunk 123', 'abort', 'released']);
  });

  it('an app that raises once an overflowing write() ended its response: logged, nothing else happens', async () => {
    const { t, logs } = start(async (_env, sr) => {
      const write = sr('200 OK', [['Content-Length', '2']]);
      await write('123').catch(() => {});
      throw new Error('after the end');
    });
    await vi.waitFor(() => expect(t.events).toContain('released'));
    expect(t.events).toEqual(['head 200 2', 'chunk 12', 'finish incomplete', 'released']);
    expect(errors(logs)).toContain('the app raised after its response was complete');
  });

  it('write() after the response ended rejects with TSGI_ERR_RESPONSE_ENDED, and says so in the log once', async () => {
    let write: Write | null = null;
    const { t, logs } = start((_env, sr) => {
      write = sr('200 OK', []);
      return ['done'];
    });
    const first = write!('late');
    const second = write!('later');
    await expect(first).rejects.toMatchObject({ code: 'TSGI_ERR_RESPONSE_ENDED' });
    await expect(second).rejects.toMatchObject({ code: 'TSGI_ERR_RESPONSE_ENDED' });
    expect(errors(logs).filter((m) => /write\(\) after its response had ended/.test(m))).toHaveLength(1);
    expect(t.events).toEqual(['head 200 4', 'chunk done', 'finish complete', 'released']);
  });
});

describe('cancel(): the server abandons the request (spec §3.9, §6.4)', () => {
  const reason = new TsgiError('TSGI_ERR_CLIENT_GONE', 'gone');

  it('in NEW, while an async app runs: nothing is sent; the body it resolves with is closed, then released', async () => {
    let finishApp: (() => void) | null = null;
    let write: Write | null = null;
    const body = closable(['never']);
    const { t, cycle } = start(async (_env, sr) => {
      await new Promise<void>((r) => (finishApp = r));
      // startResponse after the abandonment neither throws nor sends.
      write = sr('200 OK', []);
      return body;
    });
    await settle();
    cycle.cancel(reason);
    expect(t.events, 'nothing to release before the app returns').toEqual([]);
    finishApp!();
    await vi.waitFor(() => expect(t.events).toEqual(['released']));
    expect(body.close).toHaveBeenCalledTimes(1);
    await expect(write!('x')).rejects.toBe(reason);
  });

  it('in NEW, an app that then rejects: no 500 is written and nothing is logged as an app error', async () => {
    let fail: ((e: Error) => void) | null = null;
    const { t, cycle, logs } = start(() => new Promise<Body>((_r, reject) => (fail = reject)));
    cycle.cancel(reason);
    fail!(new Error('gave up'));
    await vi.waitFor(() => expect(t.events).toEqual(['released']));
    expect(errors(logs)).toEqual([]);
  });

  it('in STARTED: the array the app returns is not sent, and is closed', async () => {
    let finishApp: (() => void) | null = null;
    const body = closable(['never']);
    const { t, cycle } = start(async (_env, sr) => {
      sr('200 OK', []);
      await new Promise<void>((r) => (finishApp = r));
      return body;
    });
    await settle();
    cycle.cancel(reason);
    finishApp!();
    await vi.waitFor(() => expect(t.events).toEqual(['released']));
    expect(body.close).toHaveBeenCalledTimes(1);
  });

  it('in HEAD_SENT with a next() pending: return() at once, close() once return() settled, then released; the late chunk is dropped', async () => {
    const it = controlledIterator();
    it.returnHolds();
    const { t, cycle, logs } = start((_env, sr) => {
      sr('200 OK', []);
      return it.body;
    });
    it.give('first');
    await settle();
    expect(it.waiting).toBe(1);
    cycle.cancel(reason);
    expect(it.ret).toHaveBeenCalledTimes(1);
    expect(it.body.close).not.toHaveBeenCalled();
    it.give('late');
    await settle();
    expect(it.body.close, 'close() waits for return()').not.toHaveBeenCalled();
    expect(t.events).toEqual(['head 200 -1', 'chunk first']);
    it.settleReturn();
    await vi.waitFor(() => expect(t.events.at(-1)).toBe('released'));
    expect(it.body.close).toHaveBeenCalledTimes(1);
    expect(it.next).toHaveBeenCalledTimes(2);
    expect(t.events).toEqual(['head 200 -1', 'chunk first', 'released']);
    expect(errors(logs)).toEqual([]);
  });

  it('the pending next() rejecting after the cancel (the app leaving its await) is no app error', async () => {
    const it = controlledIterator();
    const { t, cycle, logs } = start((_env, sr) => {
      sr('200 OK', []);
      return it.body;
    });
    it.give('first');
    await settle();
    cycle.cancel(reason);
    it.fail(reason);
    await vi.waitFor(() => expect(t.events.at(-1)).toBe('released'));
    expect(t.events).toEqual(['head 200 -1', 'chunk first', 'released']);
    expect(errors(logs)).toEqual([]);
  });

  it('an async generator awaiting inside: return() queues behind it; its finally runs before close()', async () => {
    const order: string[] = [];
    let wake: (() => void) | null = null;
    const gen = (async function* () {
      try {
        yield 'first';
        await new Promise<void>((r) => (wake = r));
        yield 'never sent';
      } finally {
        order.push('finally');
      }
    })();
    const body = closable(gen, () => order.push('close'));
    const { t, cycle } = start((_env, sr) => {
      sr('200 OK', []);
      return body;
    });
    await vi.waitFor(() => expect(wake).not.toBeNull());
    cycle.cancel(reason);
    await settle();
    expect(order).toEqual([]);
    wake!();
    await vi.waitFor(() => expect(t.events.at(-1)).toBe('released'));
    expect(order).toEqual(['finally', 'close']);
    expect(t.events).toEqual(['head 200 -1', 'chunk first', 'released']);
  });

  it('while waiting for the transport to drain: nothing more is sent once it drains', async () => {
    const it = controlledIterator();
    const { t, cycle } = start((_env, sr) => {
      sr('200 OK', []);
      return it.body;
    });
    t.accepting = false;
    it.give('first');
    await settle();
    expect(t.events.at(-1)).toBe('wait');
    cycle.cancel(reason);
    t.drain();
    await vi.waitFor(() => expect(t.events.at(-1)).toBe('released'));
    expect(it.next).toHaveBeenCalledTimes(1);
    expect(t.events).toEqual(['head 200 -1', 'chunk first', 'wait', 'released']);
  });

  it('an iterator without return(): close() at once', () => {
    const it = controlledIterator();
    it.withoutReturn();
    const { t, cycle } = start((_env, sr) => {
      sr('200 OK', []);
      return it.body;
    });
    cycle.cancel(reason);
    expect(it.body.close).toHaveBeenCalledTimes(1);
    expect(t.events).toEqual(['released']);
  });

  it('return() rejecting with the cancel reason is not logged; any other rejection or throw is, and close() still follows', async () => {
    for (const [how, err, logged] of [
      ['rejects', reason, false],
      ['rejects', new Error('other'), true],
      ['throws', new Error('thrown'), true],
    ] as const) {
      const it = controlledIterator();
      if (how === 'rejects') it.returnRejects(err);
      else it.returnThrows(err);
      const { t, cycle, logs } = start((_env, sr) => {
        sr('200 OK', []);
        return it.body;
      });
      cycle.cancel(reason);
      await vi.waitFor(() => expect(t.events).toEqual(['released']));
      expect(it.body.close, `${how} ${err.message}`).toHaveBeenCalledTimes(1);
      expect(errors(logs).includes('the response body raised while being closed'), `${how} ${err.message}`).toBe(logged);
    }
  });

  it('write() after the cancel rejects with the reason itself, and never as an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      let write: Write | null = null;
      let finishApp: (() => void) | null = null;
      const { t, cycle } = start(async (_env, sr) => {
        write = sr('200 OK', []);
        await write('x');
        await new Promise<void>((r) => (finishApp = r));
        return [];
      });
      await vi.waitFor(() => expect(finishApp).not.toBeNull());
      cycle.cancel(reason);
      void write!('ignored by the app');
      await expect(write!('awaited')).rejects.toBe(reason);
      finishApp!();
      await vi.waitFor(() => expect(t.events.at(-1)).toBe('released'));
      await settle();
      expect(t.events).toEqual(['head 200 -1', 'chunk x', 'released']);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('after DONE, or a second time, it does nothing', () => {
    const body = closable(['x']);
    const { t, cycle } = start((_env, sr) => {
      sr('200 OK', []);
      return body;
    });
    cycle.cancel(reason);
    cycle.cancel(reason);
    expect(t.events).toEqual(['head 200 1', 'chunk x', 'finish complete', 'released']);
    expect(body.close).toHaveBeenCalledTimes(1);
  });
});

describe('close() exactly once, then released() exactly once (spec §6.4)', () => {
  it('a close() that returns a promise: released only once it settled, also when it rejects', async () => {
    for (const outcome of ['resolve', 'reject'] as const) {
      let settleClose: (() => void) | null = null;
      const body = closable(['x'], () => new Promise<void>((resolve, reject) => (settleClose = outcome === 'resolve' ? resolve : () => reject(new Error('close failed')))));
      const { t, logs } = start((_env, sr) => {
        sr('200 OK', []);
        return body;
      });
      expect(t.events).toEqual(['head 200 1', 'chunk x', 'finish complete']);
      settleClose!();
      await vi.waitFor(() => expect(t.events.at(-1)).toBe('released'));
      expect(t.count('released')).toBe(1);
      expect(errors(logs).includes('body.close() raised'), outcome).toBe(outcome === 'reject');
    }
  });

  it('a close() that throws: logged, released', () => {
    const body = closable(['x'], () => {
      throw new Error('close threw');
    });
    const { t, logs } = start((_env, sr) => {
      sr('200 OK', []);
      return body;
    });
    expect(t.events).toEqual(['head 200 1', 'chunk x', 'finish complete', 'released']);
    expect(errors(logs)).toEqual(['body.close() raised']);
  });

  /** Every way a cycle can end, each checked for one close() and one released(). */
  const endings: [string, (sr: StartResponse) => Body | Promise<Body>, 'cancel' | null][] = [
    ['an array', (sr) => (sr('200 OK', []), ['a'])],
    ['a generator run to its end', (sr) => (sr('200 OK', []), (function* () { yield 'a'; })())],
    ['a generator that overflows', (sr) => (sr('200 OK', [['Content-Length', '1']]), (function* () { yield 'ab'; yield 'c'; })())],
    ['a generator that throws after the head', (sr) => (sr('200 OK', []), (function* () { yield 'a'; throw new Error('x'); })())],
    ['a body returned without startResponse', () => ['a']],
    ['a short body', (sr) => (sr('200 OK', [['Content-Length', '9']]), ['a'])],
    ['an async generator cancelled mid-body', (sr) => (sr('200 OK', []), (async function* () { yield 'a'; await new Promise((r) => setTimeout(r, 5)); yield 'b'; })()), 'cancel'],
    ['an async app cancelled before it returned', async (sr) => (await new Promise((r) => setTimeout(r, 5)), sr('200 OK', []), ['a']), 'cancel'],
  ];

  it.each(endings)('%s', async (_name, produce, cancel) => {
    let body: (Body & { close: ReturnType<typeof vi.fn> }) | null = null;
    const { t, cycle } = start(((_env: Environ, sr: StartResponse) => {
      const made = produce(sr);
      const attach = (b: Body): Body => (body = closable(b as object) as Body & { close: ReturnType<typeof vi.fn> });
      return made instanceof Promise ? made.then(attach) : attach(made);
    }) as App);
    if (cancel === 'cancel') {
      await settle();
      cycle.cancel(new TsgiError('TSGI_ERR_CLIENT_GONE', 'gone'));
    }
    await vi.waitFor(() => expect(t.events.at(-1)).toBe('released'));
    await new Promise((r) => setTimeout(r, 20));
    expect(t.count('released')).toBe(1);
    expect(body!.close).toHaveBeenCalledTimes(1);
    const endings = t.events.filter((e) => /^(finish|abort|500)/.test(e));
    expect(endings.length, 'one way the response ended, at most').toBeLessThanOrEqual(1);
  });
});

describe('edges found by mutation testing', () => {
  const reason = new TsgiError('TSGI_ERR_CLIENT_GONE', 'gone');

  it('an async app resolving with an array: one head with the summed length, as for a sync one', async () => {
    const { t } = start(async (_env, sr) => {
      sr('200 OK', []);
      return ['ab', 'c'];
    });
    await vi.waitFor(() => expect(t.events.at(-1)).toBe('released'));
    expect(t.events).toEqual(['head 200 3', 'chunk ab', 'chunk c', 'finish complete', 'released']);
  });

  it('an array of one empty chunk sends the head with length 0 and no chunk', () => {
    const { t } = start((_env, sr) => {
      sr('200 OK', []);
      return [''];
    });
    expect(t.events).toEqual(['head 200 0', 'finish complete', 'released']);
  });

  it('Content-Length: 0 declared: the head says 0 and no byte of the body goes out', () => {
    const { t } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '0']]);
      return ['x'];
    });
    expect(t.events).toEqual(['head 200 0', 'finish incomplete', 'released']);
  });

  it('HEAD with Content-Length: 0 declared keeps the declaration', () => {
    const { t } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '0']]);
      return [];
    }, 'HEAD');
    expect(t.events).toEqual(['head 200 0 no-body', 'finish complete', 'released']);
  });

  it('excInfo null is no excInfo: a second call with it throws', () => {
    let thrown: unknown = null;
    start((_env, sr) => {
      sr('200 OK', []);
      try {
        sr('500 Oops', [], null);
      } catch (err) {
        thrown = err;
      }
      return [];
    });
    expect((thrown as TsgiError).code).toBe('TSGI_ERR_APP_CONTRACT');
  });

  it('Content-Length: 0, the head sent by write(), then an error: every declared byte went out, so the response stands', () => {
    const { t } = start((_env, sr) => {
      void sr('200 OK', [['Content-Length', '0']])('');
      throw new Error('after nothing');
    });
    expect(t.events).toEqual(['head 200 0', 'finish incomplete', 'released']);
  });

  it('Content-Length: 0 declared and an error before the head: a 500, not a response that stands', () => {
    const { t } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '0']]);
      throw new Error('before the head');
    });
    expect(t.events).toEqual(['500', 'released']);
  });

  it('the whole declared body through write(), then an error: the response stands, released once', async () => {
    const { t } = start(async (_env, sr) => {
      await sr('200 OK', [['Content-Length', '2']])('12');
      throw new Error('late');
    });
    await vi.waitFor(() => expect(t.events.at(-1)).toBe('released'));
    expect(t.events).toEqual(['head 200 2', 'chunk 12', 'finish incomplete', 'released']);
  });

  it('a chunk of the wrong type mid-body: the generator, still suspended, gets return() (its finally runs) and close()', () => {
    const order: string[] = [];
    const body = closable(
      (function* () {
        try {
          yield 'ok';
          yield 42 as unknown as string;
          yield 'never';
        } finally {
          order.push('finally');
        }
      })(),
      () => order.push('close'),
    );
    const { t } = start((_env, sr) => {
      sr('200 OK', []);
      return body;
    });
    expect(t.events).toEqual(['head 200 -1', 'chunk ok', 'abort', 'released']);
    expect(order).toEqual(['finally', 'close']);
  });

  it('cancelled while the async app runs, the app then returns a generator: never iterated, closed once, released', async () => {
    let finishApp: (() => void) | null = null;
    let pulled = 0;
    const body = closable(
      (function* () {
        pulled++;
        yield 'never';
      })(),
    );
    const { t, cycle } = start(async (_env, sr) => {
      sr('200 OK', []);
      await new Promise<void>((r) => (finishApp = r));
      return body;
    });
    await settle();
    cycle.cancel(reason);
    finishApp!();
    await vi.waitFor(() => expect(t.events).toEqual(['released']));
    expect(pulled).toBe(0);
    expect(body.close).toHaveBeenCalledTimes(1);
  });

  it('cancelled by the transport in the middle of an array: the rest is not sent', () => {
    const t = new FakeTransport();
    const cycle = new Cycle(t, 'GET', fakeLogger([]));
    t.onChunk = () => cycle.cancel(reason);
    cycle.run((_env, sr) => {
      sr('200 OK', []);
      return ['a', 'b', 'c'];
    }, {} as Environ);
    expect(t.events).toEqual(['head 200 3', 'chunk a', 'released']);
  });

  it('a cancel after the response completed changes nothing: a later write() still says the response ended', async () => {
    let write: Write | null = null;
    const { cycle } = start((_env, sr) => {
      write = sr('200 OK', []);
      return ['done'];
    });
    cycle.cancel(reason);
    await expect(write!('late')).rejects.toMatchObject({ code: 'TSGI_ERR_RESPONSE_ENDED' });
  });

  it('an iterator without return() is closed without an error logged', () => {
    const it = controlledIterator();
    it.withoutReturn();
    const { cycle, logs } = start((_env, sr) => {
      sr('200 OK', []);
      return it.body;
    });
    cycle.cancel(reason);
    expect(errors(logs)).toEqual([]);
  });

  it('a sync generator that overflows is stopped without an error logged', () => {
    const { logs } = start((_env, sr) => {
      sr('200 OK', [['Content-Length', '1']]);
      return (function* () {
        yield 'ab';
        yield 'c';
      })();
    });
    expect(errors(logs)).toEqual(['the app sent more bytes than its Content-Length; the excess was dropped and the connection will close']);
  });

  it.each([
    ['null', null],
    ['an object that is not a promise', {}],
    ['a number', 3],
  ])('a close() that returns %s: released at once, nothing logged', (_name, value) => {
    const body = closable(['x'], () => value);
    const { t, logs } = start((_env, sr) => {
      sr('200 OK', []);
      return body;
    });
    expect(t.events).toEqual(['head 200 1', 'chunk x', 'finish complete', 'released']);
    expect(errors(logs)).toEqual([]);
  });

  it.each([
    ['null', null],
    ['an object that is not a promise', { done: true }],
  ])('a return() that returns %s: close() at once, nothing logged', (_name, value) => {
    const order: string[] = [];
    const iterator = {
      next: () => new Promise<IteratorResult<Chunk>>(() => {}),
      return: () => {
        order.push('return');
        return value as unknown as IteratorResult<Chunk>;
      },
    };
    const body = closable({ [Symbol.asyncIterator]: () => iterator }, () => order.push('close'));
    const { t, cycle, logs } = start((_env, sr) => {
      sr('200 OK', []);
      return body as unknown as Body;
    });
    cycle.cancel(reason);
    expect(order).toEqual(['return', 'close']);
    expect(t.events).toEqual(['released']);
    expect(errors(logs)).toEqual([]);
  });
});
