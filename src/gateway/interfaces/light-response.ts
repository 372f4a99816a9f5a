/**
 * A `Response` that does not build a ReadableStream until something asks for one. undici's
 * `new Response(body)` turns every body, a short string included, into a byte stream at once;
 * for a router answering `c.json(...)` that stream, and the garbage it leaves, is the largest
 * single cost of a request (docs/interfaces.md has the profile). A LightResponse keeps the body and
 * init it was given; the server reads them straight off it (`lightParts()`), so a string, bytes or
 * a Blob goes out with a Content-Length in one write.
 *
 * It is a Response in every way an app can tell: `instanceof Response` holds (its prototype chain
 * leads to the platform's `Response.prototype`, and every genuine Response is `instanceof` it too),
 * `status`, `statusText`, `ok`, `headers`, `type`, `url` and `redirected` answer as the genuine
 * one's would, and everything else (`body`, `text()`, `json()`, `clone()`, ...) creates the genuine
 * Response from the same arguments on first use and passes the call on. Anything unusual (a stream
 * or FormData body, a status outside 200..599, a body on a null-body status, a reason phrase the
 * platform would refuse) makes the genuine Response at once, in the constructor, so an app gets
 * exactly the platform's behaviour and errors.
 *
 * The fetch runner makes it the global `Response` of a worker that serves a fetch app
 * (`installLightResponse()`), as @hono/node-server does with its own.
 */

type BodyInit = ConstructorParameters<typeof Response>[0];
type HeadersInit = ConstructorParameters<typeof Headers>[0];
type ResponseType = Response['type'];

/** The platform's Response, whatever `globalThis.Response` is later. */
export const GenuineResponse: typeof Response = globalThis.Response;

const kBody = Symbol('tsgi.body');
const kInit = Symbol('tsgi.init');
const kGenuine = Symbol('tsgi.genuine');
const kHeaders = Symbol('tsgi.headers');
const kStatus = Symbol('tsgi.status');

type Light = {
  [kBody]: unknown;
  [kInit]: ResponseInit | undefined;
  [kGenuine]: Response | undefined;
  [kHeaders]: Headers | undefined;
  [kStatus]: number;
};

/** RFC 9112 §4 reason-phrase, as the Fetch standard checks `statusText`. */
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A body the light path carries without a stream: nothing, text, bytes, a Blob, form fields. */
function isLightBody(body: unknown): boolean {
  return (
    body === null ||
    body === undefined ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer ||
    body instanceof Blob ||
    body instanceof URLSearchParams
  );
}

function lightInit(init: ResponseInit | undefined, hasBody: boolean): number {
  if (init === undefined || init === null) return 200;
  if (typeof init !== 'object') return -1;
  const status = init.status;
  let code = 200;
  if (status !== undefined) {
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) return -1;
    code = status;
  }
  const text = init.statusText;
  if (text !== undefined && (typeof text !== 'string' || !REASON.test(text))) return -1;
  // Fetch standard: a null body status (204, 205, 304) with a body is a TypeError.
  if (hasBody && (code === 204 || code === 205 || code === 304)) return -1;
  const headers = init.headers;
  if (headers !== undefined && headers !== null && typeof headers !== 'object') return -1;
  return code;
}

function genuineOf(light: Light): Response {
  let genuine = light[kGenuine];
  if (genuine === undefined) {
    const init = light[kInit];
    const headers = light[kHeaders];
    // Headers read (and perhaps changed) on the light object are the ones the genuine one gets.
    genuine = new GenuineResponse(light[kBody] as BodyInit | null | undefined, headers === undefined ? init : { ...init, headers });
    light[kGenuine] = genuine;
  }
  return genuine;
}

/** The content type `new Response(body)` adds for a body without one (Fetch standard, "extract a body"). */
function defaultContentType(body: unknown): string | null {
  if (typeof body === 'string') return 'text/plain;charset=UTF-8';
  if (body instanceof URLSearchParams) return 'application/x-www-form-urlencoded;charset=UTF-8';
  if (body instanceof Blob && body.type !== '') return body.type;
  return null;
}

function headersOf(light: Light): Headers {
  let headers = light[kHeaders];
  if (headers === undefined) {
    headers = new Headers(light[kInit]?.headers);
    const type = defaultContentType(light[kBody]);
    if (type !== null && !headers.has('content-type')) headers.set('content-type', type);
    light[kHeaders] = headers;
  }
  return headers;
}

export class LightResponse {
  declare [kBody]: unknown;
  declare [kInit]: ResponseInit | undefined;
  declare [kGenuine]: Response | undefined;
  declare [kHeaders]: Headers | undefined;
  declare [kStatus]: number;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    this[kBody] = body;
    this[kInit] = init;
    this[kHeaders] = undefined;
    const hasBody = body !== null && body !== undefined;
    const status = isLightBody(body) ? lightInit(init, hasBody) : -1;
    this[kStatus] = status;
    // The platform decides everything the light path does not carry, and throws its own errors.
    this[kGenuine] = status === -1 ? new GenuineResponse(body, init) : undefined;
  }

  get status(): number {
    const genuine = this[kGenuine];
    return genuine === undefined ? this[kStatus] : genuine.status;
  }

  get statusText(): string {
    const genuine = this[kGenuine];
    return genuine === undefined ? (this[kInit]?.statusText ?? '') : genuine.statusText;
  }

  get ok(): boolean {
    const status = this.status;
    return status >= 200 && status <= 299;
  }

  get headers(): Headers {
    const genuine = this[kGenuine];
    return genuine === undefined ? headersOf(this as unknown as Light) : genuine.headers;
  }

  get type(): ResponseType {
    const genuine = this[kGenuine];
    return genuine === undefined ? 'default' : genuine.type;
  }

  get url(): string {
    const genuine = this[kGenuine];
    return genuine === undefined ? '' : genuine.url;
  }

  get redirected(): boolean {
    const genuine = this[kGenuine];
    return genuine === undefined ? false : genuine.redirected;
  }

  get bodyUsed(): boolean {
    const genuine = this[kGenuine];
    return genuine === undefined ? false : genuine.bodyUsed;
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    // Genuine Responses (from fetch(), Response.error()) count as instances of the global too.
    return Function.prototype[Symbol.hasInstance].call(GenuineResponse, value);
  }
}

// Everything else a Response has is answered by the genuine Response, created on first use.
for (const key of Reflect.ownKeys(GenuineResponse.prototype)) {
  if (key === 'constructor' || Object.prototype.hasOwnProperty.call(LightResponse.prototype, key)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(GenuineResponse.prototype, key)!;
  if (descriptor.get !== undefined) {
    Object.defineProperty(LightResponse.prototype, key, {
      get(this: Light) {
        return Reflect.get(genuineOf(this), key);
      },
      configurable: true,
    });
  } else if (typeof descriptor.value === 'function') {
    Object.defineProperty(LightResponse.prototype, key, {
      value(this: Light, ...args: unknown[]) {
        const genuine = genuineOf(this);
        return (Reflect.get(genuine, key) as (...a: unknown[]) => unknown).apply(genuine, args);
      },
      writable: true,
      configurable: true,
    });
  }
}
Object.setPrototypeOf(LightResponse.prototype, GenuineResponse.prototype);
// Response.json(), Response.error() and Response.redirect() are the platform's.
Object.setPrototypeOf(LightResponse, GenuineResponse);

/** Makes LightResponse the global `Response` (once; idempotent). */
export function installLightResponse(): void {
  if (globalThis.Response !== (LightResponse as unknown as typeof Response)) {
    globalThis.Response = LightResponse as unknown as typeof Response;
  }
}

/** What the server sends for a light Response nothing has turned genuine: its arguments as given. */
export interface LightParts {
  status: number;
  statusText: string;
  /** The init's headers as given (a Headers, an object, pairs), or the Headers read off the response. */
  headers: HeadersInit | Headers | undefined;
  /** The content type the platform would add, when the headers have none. */
  defaultType: string | null;
  body: string | Uint8Array | ArrayBuffer | Blob | URLSearchParams | null | undefined;
}

/** The light parts of `response`, or null when it is genuine (or was made genuine: its body may be in use). */
export function lightParts(response: unknown, out: LightParts): LightParts | null {
  if (typeof response !== 'object' || response === null || !(kStatus in response)) return null;
  const light = response as Light;
  if (light[kGenuine] !== undefined) return null;
  const init = light[kInit];
  out.status = light[kStatus];
  out.statusText = init?.statusText ?? '';
  const read = light[kHeaders];
  out.headers = read ?? init?.headers;
  out.defaultType = read === undefined ? defaultContentType(light[kBody]) : null;
  out.body = light[kBody] as LightParts['body'];
  return out;
}
