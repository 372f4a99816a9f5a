/**
 * Bodies crossing an adapter, in both directions, pulled on demand so a slow reader slows the
 * writer down and a large upload never sits in memory (spec §4):
 * - `tsgi.input` as a WHATWG ReadableStream (for a fetch app's `request.body`) or a Node Readable;
 * - any source of bytes (a ReadableStream, a Node Readable, an async iterable) as `tsgi.input`.
 */
import type { Readable } from 'node:stream';
import { RequestInput } from '../input.js';
import type { InputStream } from '../types.js';

/** `tsgi.input` as a byte stream that reads from the input only when its reader asks. */
export function inputToReadableStream(input: InputStream): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await input.read();
        if (chunk.length === 0) controller.close();
        else controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
}

/** `tsgi.input` as a Node Readable (for a node app's `req`). Reads one chunk per `_read()`. */
export function readFromInput(input: InputStream, stream: Readable): void {
  input.read().then(
    (chunk) => stream.push(chunk.length === 0 ? null : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)),
    (error: unknown) => stream.destroy(error instanceof Error ? error : new Error(String(error))),
  );
}

/** Something that gives bytes: a web stream, a Node stream, or any (async) iterable of chunks. */
export type ByteSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

/**
 * `tsgi.input` fed from a byte source. The source is read only while the input's queue is below
 * its high-water mark, so a producer faster than the app waits for it. `onEnd` runs just before the
 * input signals its end (a chunked body sets `tsgi.trailers` there, spec §4.4).
 */
export function inputFromSource(source: ByteSource, onEnd?: () => void): InputStream {
  const iterator: AsyncIterator<Uint8Array | string> | Iterator<Uint8Array | string> =
    source instanceof ReadableStream
      ? source[Symbol.asyncIterator]()
      : Symbol.asyncIterator in source
        ? (source as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]()
        : (source as Iterable<Uint8Array | string>)[Symbol.iterator]();
  let reading = false;
  let done = false;
  const input: RequestInput = new RequestInput(
    {
      wantBody(): void {
        if (reading || done) return;
        reading = true;
        void (async () => {
          try {
            while (input.hungry && !done) {
              const step = await iterator.next();
              if (step.done === true) {
                done = true;
                onEnd?.();
                input.end();
                break;
              }
              const chunk = step.value;
              input.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
            }
          } catch (error) {
            done = true;
            input.fail(error instanceof Error ? error : new Error(String(error)));
          } finally {
            reading = false;
          }
        })();
      },
      sendContinue(): void {},
    },
    false,
  );
  return input;
}

