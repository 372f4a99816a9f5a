import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { App, InputStream } from 'tsgi';

/** Decompresses gzip request bodies, so the inner app reads plain bytes (spec §11.2). */
export function gunzipRequests(inner: App): App {
  return (environ, startResponse) => {
    if (environ.HTTP_CONTENT_ENCODING?.toLowerCase() !== 'gzip') return inner(environ, startResponse);
    // pipeline() passes a failure on: a client that left makes the inner read reject with the
    // server's own error (its code intact), corrupt data with zlib's (code Z_DATA_ERROR).
    const gunzip = pipeline(Readable.from(environ['tsgi.input']), createGunzip(), () => {});
    environ['tsgi.input'] = inputFrom(gunzip);
    environ.CONTENT_LENGTH = ''; // the decompressed length is not known in advance
    delete environ.HTTP_CONTENT_ENCODING; // and the inner app sees no encoding
    return inner(environ, startResponse);
  };
}

/** A tsgi.input over a Node stream that keeps every rule of spec §4.1 and §4.3. */
function inputFrom(stream: Readable): InputStream {
  const chunks: AsyncIterator<Uint8Array> = stream[Symbol.asyncIterator]();
  let rest: Uint8Array = new Uint8Array(0);
  let ended = false;
  let busy = false;
  const read = async (size?: number | null): Promise<Uint8Array> => {
    if (size != null && typeof size !== 'number') throw new TypeError('read(size): size must be a number');
    if (size === 0 || Number.isNaN(size) || (size != null && size > 0 && size !== Infinity && !Number.isInteger(size))) {
      throw new RangeError(`read(${size}): pass a positive integer, or nothing`);
    }
    if (busy) throw new Error('read() while another read is pending');
    busy = true;
    try {
      while (rest.length === 0 && !ended) {
        const step = await chunks.next();
        if (step.done) ended = true;
        else rest = step.value;
      }
    } finally {
      busy = false;
    }
    const n = size != null && size > 0 && size !== Infinity ? Math.min(size, rest.length) : rest.length;
    const chunk = rest.subarray(0, n);
    rest = rest.subarray(n);
    return chunk;
  };
  return {
    read,
    async *[Symbol.asyncIterator]() {
      for (let chunk = await read(); chunk.length > 0; chunk = await read()) yield chunk;
    },
  };
}
