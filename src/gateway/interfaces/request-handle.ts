/**
 * The server's side of `tsgi.signal` and `tsgi.early_hints` (spec §3.6) for an environ an adapter
 * builds (toFetch, toNode, the test client): buildEnviron() asks it for the signal the first time
 * the app reads `tsgi.signal`, and passes it the fields of each `tsgi.early_hints()` call.
 */
import { TsgiError } from '../../errors.js';
import { checkResponse, emptyCheckedResponse } from '../app-headers.js';
import type { RequestHandle } from '../environ.js';
import type { Header } from '../types.js';

export class AdapterHandle implements RequestHandle {
  private controller: AbortController | null = null;
  private reason: TsgiError | null = null;
  /** Set once the response head is on its way: hints can no longer be sent. */
  headSent = false;

  /** @param hints sends a 103 with the checked fields; absent where the transport has no 1xx. */
  constructor(private readonly hints?: (fields: Header[]) => void) {}

  signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.reason !== null) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** The request was abandoned before its response completed (the client went away). */
  abandon(reason: TsgiError = new TsgiError('TSGI_ERR_CLIENT_GONE', 'the client went away before the response was complete')): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.controller?.abort(reason);
  }

  earlyHints(headers: Header[]): void {
    if (this.headSent) {
      throw new TsgiError('TSGI_ERR_RESPONSE_ENDED', "tsgi.early_hints() was called after the response head was sent; send hints before startResponse's first byte");
    }
    // Checked as any response's fields are (hop-by-hop ones dropped).
    const checked = emptyCheckedResponse();
    checkResponse('200 OK', headers, checked);
    this.hints?.(checked.headers);
  }
}
