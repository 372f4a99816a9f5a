/**
 * The two classes of light-my-request (Fastify's in-process request injection) that fromNode
 * builds on: its Readable-based IncomingMessage and its ServerResponse subclass that hands the
 * response back instead of writing it to a socket. The package documents only inject(); these
 * are the classes inject() itself constructs.
 */
declare module 'light-my-request/lib/request.js' {
  import type { IncomingMessage } from 'node:http';
  interface LightRequestOptions {
    method?: string;
    url?: string;
    headers?: Record<string, string | string[] | undefined>;
    remoteAddress?: string;
    payloadAsStream?: boolean;
  }
  const LightRequest: { new (options: LightRequestOptions): IncomingMessage; prototype: IncomingMessage };
  export default LightRequest;
}

declare module 'light-my-request/lib/response.js' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  import type { Readable } from 'node:stream';
  interface LightPayload {
    statusCode: number;
    statusMessage: string;
    stream(): Readable;
  }
  const LightResponse: {
    new (req: IncomingMessage, onEnd: (payload: LightPayload) => void, reject: (error: Error) => void): ServerResponse;
    prototype: ServerResponse;
  };
  export default LightResponse;
}
