/**
 * Logging for master and workers: pino, readable on a TTY, JSON otherwise. Every line carries the
 * process role, pid and (in workers) the worker id.
 *
 * JSON lines are for log shippers and `kubectl logs | jq`: the level is its name ("level":"info",
 * not pino's number 30) and the time is ISO 8601 in UTC ("time":"2026-01-31T12:00:00.000Z"), so
 * neither needs a lookup table. On a terminal, one line per event: who logged it prefixes the
 * message and any extra fields follow on the same line.
 */
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type Logger = PinoLogger;

export interface LogOptions {
  level: string;
  format: 'auto' | 'json' | 'pretty';
  /** '-' for stderr, or a file path. */
  errorLog: string;
  role: 'master' | 'worker';
  workerId?: number;
}

/** Gunicorn's level names map onto pino's. */
const LEVELS: Record<string, LevelWithSilent> = {
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'fatal',
  fatal: 'fatal',
  silent: 'silent',
};

export interface LogDestination {
  write(line: string): void;
  reopen?(): void;
}

export function createLogger(opts: LogOptions): { log: Logger; destination: ReturnType<typeof pino.destination> } {
  const destination = pino.destination({ dest: opts.errorLog === '-' ? 2 : opts.errorLog, sync: true, mkdir: true });
  const usePretty = opts.format === 'pretty' || (opts.format === 'auto' && opts.errorLog === '-' && process.stderr.isTTY === true);
  const base: Record<string, unknown> = { pid: process.pid, role: opts.role };
  if (opts.workerId !== undefined) base.worker = opts.workerId;
  const level = LEVELS[opts.level] ?? 'info';
  if (usePretty) {
    const stream = pretty({
      destination,
      sync: true,
      colorize: true,
      ignore: 'hostname,role,worker',
      translateTime: 'SYS:HH:MM:ss.l',
      singleLine: true,
      messageFormat: (line, messageKey) => `${whoLogged(line)}: ${String(line[messageKey] ?? '')}`,
    });
    return { log: pino({ level, base }, stream), destination };
  }
  const json = pino({ level, base, formatters: { level: (label) => ({ level: label }) }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  return { log: json, destination };
}

/** `master` or `worker 3`: the process a pretty line came from (its pid is shown beside the level). */
function whoLogged(line: Record<string, unknown>): string {
  return line.role === 'worker' ? `worker ${String(line.worker ?? '?')}` : String(line.role ?? 'tsgi');
}

/**
 * USR1: a log file renamed by logrotate is reopened under its name. Standard error has no name
 * to reopen; there is nothing to do for it.
 */
export function reopen(errorLog: string, destination: { reopen(): void }): void {
  if (errorLog === '-') return;
  destination.reopen();
}
