/**
 * The worker lifecycle, as the master tracks it. Every transition the master makes goes through
 * `transition()`, so this table is the whole truth about which moves exist.
 *
 *   booting ──ready──▶ ready ──retire──▶ draining ──exit──▶ exited
 *      │                 │                                    ▲
 *      └─────exit────────┴──────────────exit──────────────────┘
 */
export type WorkerState = 'booting' | 'ready' | 'draining' | 'exited';
export type WorkerEvent = 'ready' | 'retire' | 'exit';

export const TRANSITIONS: Readonly<Record<WorkerState, Partial<Record<WorkerEvent, WorkerState>>>> = {
  // Loading the app and attaching to the listening sockets; takes no traffic yet.
  booting: { ready: 'ready', retire: 'draining', exit: 'exited' },
  // Serving.
  ready: { retire: 'draining', exit: 'exited' },
  // Told to stop: accepts nothing new, finishes what it has, then exits.
  draining: { retire: 'draining', exit: 'exited' },
  // Gone; a worker never comes back, a new one is forked instead.
  exited: { exit: 'exited' },
};

export class LifecycleError extends Error {}

export function transition(from: WorkerState, event: WorkerEvent): WorkerState {
  const to = TRANSITIONS[from][event];
  if (to === undefined) throw new LifecycleError(`a ${from} worker cannot ${event}`);
  return to;
}
