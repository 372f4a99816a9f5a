/** The IPC messages between master and workers; one place, so both sides agree. */

/** master → worker */
export type MasterMessage =
  | { type: 'listen'; index: number; total: number }
  | { type: 'stop'; graceful: boolean }
  | { type: 'reopen-logs' };

/** worker → master */
export type WorkerMessage =
  | { type: 'booted' }
  | { type: 'ready' }
  | { type: 'heartbeat' }
  | { type: 'boot-error'; message: string; code: number };

/** What the master passes to a worker at fork time, in the TSGI_WORKER environment variable. */
export interface WorkerBootInfo {
  app: string;
  cwd: string;
  config: Record<string, unknown>;
  /** How many listening sockets the master will send. */
  sockets: number;
}

export const WORKER_ENV = 'TSGI_WORKER';
