/**
 * --worker-connections: the most connections one worker holds. node:net closes a connection
 * accepted past `maxConnections` at once ('drop'); a burst of them is logged once a second at
 * most, with what to do, instead of once per connection.
 */
import type { Server } from 'node:net';
import type { EngineOptions } from './engine.js';
import { EverySecond } from './every-second.js';

export function watchDrops(server: Server, options: EngineOptions): void {
  const limit = options.workerConnections ?? 0;
  if (limit <= 0) return;
  server.maxConnections = limit;
  const warning = new EverySecond(options.log);
  server.on('drop', () => {
    warning.note(
      { limit },
      (dropped) => `this worker holds ${limit} connections (--worker-connections); closed ${dropped} new connection(s) at once; raise the limit or add workers`,
    );
  });
}
