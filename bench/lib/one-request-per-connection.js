// autocannon (checked against 9.0.0) has no working "new connection per request" mode:
//
// - With only a `Connection: close` request header, a client writes its next request on the old
//   socket as soon as a response is parsed, before the server's FIN arrives. That request is
//   lost, its queue entry is never removed, and the queue grows by one per connection, so every
//   later latency is measured from an ever older start time (p99 near a second against a server
//   that answers in a few ms), and half the requests written are wasted.
// - `reconnectRate: 1` does open a connection per request, but the client returns before it
//   emits 'response', so autocannon counts zero responses.
//
// This setupClient hook (a documented autocannon option) keeps the request header approach and
// fixes the client side: a request is written only on a connection that has not carried one yet,
// and the pending-request queue is emptied whenever a new connection is opened (anything still
// queued then was lost with the old socket). The next connection is opened by autocannon's own
// 'end'/'error' handlers, that is, when the server closes. A server that ignored
// `Connection: close` would show up as timeouts, not as inflated throughput.
//
// It relies on autocannon's private Client methods `_connect`, `_doRequest` and the
// `pipelinedRequests` field; assertClientShape() fails loudly if a future version renames them.

export function assertClientShape(client) {
  const missing = ['_connect', '_doRequest'].filter((name) => typeof client[name] !== 'function');
  if (typeof client.pipelinedRequests?.clear !== 'function') missing.push('pipelinedRequests.clear');
  if (missing.length > 0) {
    throw new Error(`autocannon's Client no longer has ${missing.join(', ')}; bench/lib/one-request-per-connection.js needs updating`);
  }
}

export function oneRequestPerConnection(client) {
  assertClientShape(client);
  const connect = client._connect;
  const doRequest = client._doRequest;
  let connectionIsUnused = false;
  client._connect = function connectFresh() {
    this.pipelinedRequests.clear();
    connectionIsUnused = true;
    return connect.call(this);
  };
  client._doRequest = function requestOncePerConnection() {
    if (!connectionIsUnused) return;
    connectionIsUnused = false;
    return doRequest.call(this);
  };
}
