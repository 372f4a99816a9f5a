/**
 * The server side of one HTTP/1.1 connection, as a state table (h11's connection states are the
 * model). Every move a connection makes goes through `next()`, so this table is the whole truth
 * about which moves exist; both engines run the same table. The request parser keeps the client's
 * side (what the peer is sending); this is ours: what we owe the peer.
 *
 *            ┌──────────── DONE_KEEP ─────────────┐
 *            ▼                                    │
 *   ──▶  IDLE ──REQUEST──▶ APP ──HEAD_SENT──▶ SENDING
 *          │                │ │                  │
 *          │   CLOSE        │ └─UPGRADE─▶ UPGRADED│ DONE_CLOSE
 *          └──────────▶ CLOSING ◀──DONE_CLOSE─────┘
 *                          │
 *          (any) ──GONE──▶ CLOSED
 */
import { TsgiError } from '../errors.js';

/** Waiting for a request: between requests, or before the first. */
export const IDLE = 0;
/** A request is being answered and no byte of its response has been written. */
export const APP = 1;
/** The response head went out; its body is on the way. */
export const SENDING = 2;
/**
 * The connection will carry nothing more: after a response that said `Connection: close`, a
 * refusal, an idle timeout or a drain. We half-closed it and wait for the peer to go (bounded).
 */
export const CLOSING = 3;
/** The socket is gone. */
export const CLOSED = 4;
/** Handed to the app (`tsgi.upgrade`): the server writes nothing more on it. */
export const UPGRADED = 5;

export type ConnectionState = typeof IDLE | typeof APP | typeof SENDING | typeof CLOSING | typeof CLOSED | typeof UPGRADED;

/** A request head was accepted and its answer begins (by the app or by the server). */
export const REQUEST = 0;
/** The first byte of the response was written. */
export const HEAD_SENT = 1;
/** The response is complete and the connection persists. */
export const DONE_KEEP = 2;
/** The response is complete (or was refused) and the connection closes. */
export const DONE_CLOSE = 3;
/** Close a connection between requests: idle timeout, drain, a refused head. */
export const CLOSE = 4;
/** The socket closed or was destroyed, whoever did it. */
export const GONE = 5;
/** The app took the connection over. */
export const UPGRADE = 6;

export type ConnectionEvent = typeof REQUEST | typeof HEAD_SENT | typeof DONE_KEEP | typeof DONE_CLOSE | typeof CLOSE | typeof GONE | typeof UPGRADE;

const STATE_NAMES = ['IDLE', 'APP', 'SENDING', 'CLOSING', 'CLOSED', 'UPGRADED'] as const;
const EVENT_NAMES = ['REQUEST', 'HEAD_SENT', 'DONE_KEEP', 'DONE_CLOSE', 'CLOSE', 'GONE', 'UPGRADE'] as const;

const X = -1;

/**
 * TRANSITIONS[state][event] is the next state, or -1 when the move does not exist. Columns:
 *                  REQUEST  HEAD_SENT  DONE_KEEP  DONE_CLOSE  CLOSE    GONE    UPGRADE
 */
export const TRANSITIONS: readonly (readonly number[])[] = [
  /* IDLE     */ [APP, X, X, X, CLOSING, CLOSED, X],
  /* APP      */ [X, SENDING, IDLE, CLOSING, CLOSING, CLOSED, UPGRADED],
  /* SENDING  */ [X, X, IDLE, CLOSING, CLOSING, CLOSED, X],
  // A late DONE (a response that finished after a drain or a timeout began closing) changes nothing.
  /* CLOSING  */ [X, X, CLOSING, CLOSING, CLOSING, CLOSED, X],
  /* CLOSED   */ [X, X, CLOSED, CLOSED, CLOSED, CLOSED, X],
  /* UPGRADED */ [X, X, X, X, UPGRADED, CLOSED, X],
];

/** The state after `event`; throws on a move the table does not have (a bug in the driver). */
export function next(state: ConnectionState, event: ConnectionEvent): ConnectionState {
  const to = TRANSITIONS[state]![event]!;
  if (to === X) {
    throw new TsgiError('TSGI_ERR_CONNECTION_STATE', `a connection in state ${STATE_NAMES[state]} cannot take event ${EVENT_NAMES[event]}`);
  }
  return to as ConnectionState;
}

export function stateName(state: ConnectionState): string {
  return STATE_NAMES[state];
}
