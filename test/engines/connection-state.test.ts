/**
 * The connection state table (src/engines/connection-state.ts): every move it has, and that every
 * move it does not have is refused with TSGI_ERR_CONNECTION_STATE instead of corrupting a
 * connection.
 */
import { describe, expect, it } from 'vitest';
import {
  APP,
  CLOSE,
  CLOSED,
  CLOSING,
  DONE_CLOSE,
  DONE_KEEP,
  GONE,
  HEAD_SENT,
  IDLE,
  REQUEST,
  SENDING,
  TRANSITIONS,
  UPGRADE,
  UPGRADED,
  next,
  stateName,
  type ConnectionEvent,
  type ConnectionState,
} from '../../src/engines/connection-state.js';

const STATES = [IDLE, APP, SENDING, CLOSING, CLOSED, UPGRADED] as const;
const EVENTS = [REQUEST, HEAD_SENT, DONE_KEEP, DONE_CLOSE, CLOSE, GONE, UPGRADE] as const;

/** The moves a server connection makes, written out as h11 writes its tables. */
const EXPECTED: [ConnectionState, ConnectionEvent, ConnectionState][] = [
  [IDLE, REQUEST, APP],
  [IDLE, CLOSE, CLOSING],
  [IDLE, GONE, CLOSED],
  [APP, HEAD_SENT, SENDING],
  [APP, DONE_KEEP, IDLE],
  [APP, DONE_CLOSE, CLOSING],
  [APP, CLOSE, CLOSING],
  [APP, GONE, CLOSED],
  [APP, UPGRADE, UPGRADED],
  [SENDING, DONE_KEEP, IDLE],
  [SENDING, DONE_CLOSE, CLOSING],
  [SENDING, CLOSE, CLOSING],
  [SENDING, GONE, CLOSED],
  [CLOSING, DONE_KEEP, CLOSING],
  [CLOSING, DONE_CLOSE, CLOSING],
  [CLOSING, CLOSE, CLOSING],
  [CLOSING, GONE, CLOSED],
  [CLOSED, DONE_KEEP, CLOSED],
  [CLOSED, DONE_CLOSE, CLOSED],
  [CLOSED, CLOSE, CLOSED],
  [CLOSED, GONE, CLOSED],
  [UPGRADED, CLOSE, UPGRADED],
  [UPGRADED, GONE, CLOSED],
];

describe('connection state table', () => {
  it.each(EXPECTED.map(([from, event, to]) => [stateName(from), event, stateName(to), from, to] as const))('%s --%i--> %s', (_a, event, _b, from, to) => {
    expect(next(from, event)).toBe(to);
  });

  it('has exactly these moves: every other pair is refused with a coded error', () => {
    const allowed = new Set(EXPECTED.map(([from, event]) => `${from}:${event}`));
    let refused = 0;
    for (const from of STATES) {
      for (const event of EVENTS) {
        if (allowed.has(`${from}:${event}`)) continue;
        expect(() => next(from, event)).toThrow(expect.objectContaining({ code: 'TSGI_ERR_CONNECTION_STATE' }));
        refused++;
      }
    }
    expect(refused).toBe(STATES.length * EVENTS.length - EXPECTED.length);
    expect(TRANSITIONS.length).toBe(STATES.length);
  });

  it('never lets a request begin while one is in flight, nor a response on a closed connection', () => {
    expect(() => next(APP, REQUEST)).toThrow(/APP cannot take event REQUEST/);
    expect(() => next(SENDING, REQUEST)).toThrow(/SENDING/);
    expect(() => next(CLOSING, REQUEST)).toThrow(/CLOSING/);
    expect(() => next(CLOSED, HEAD_SENT)).toThrow(/CLOSED/);
  });
});
