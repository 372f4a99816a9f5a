/**
 * The fields a node:http ServerResponse holds, as TSGI header pairs: what tsgi/node sends on and
 * what the request record of a node app lists.
 */
import type { ServerResponse } from 'node:http';
import type { Header } from '../types.js';

export function responseFields(res: ServerResponse): Header[] {
  const fields: Header[] = [];
  // getRawHeaderNames() keeps the case the handler used (node 15.13+; not in @types/node 20).
  for (const name of (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames()) {
    const value = res.getHeader(name);
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) fields.push([name, String(item)]);
    else fields.push([name, String(value)]);
  }
  return fields;
}
