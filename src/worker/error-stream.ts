/**
 * `environ['tsgi.errors']` (spec §4.7): what an app writes becomes the worker's error log, one log
 * line per line of text. Apps write in pieces (`write('took ')`, `write('12 ms\n')`) and several
 * lines at once; a line is held until its newline arrives, until `flush()`, or until the worker
 * exits, so a piece is never logged as a line of its own.
 *
 * A line is at most MAX_LINE characters: a write that never ends its line is logged in pieces of
 * that size (each but the last marked `partial`), so no app can make the worker hold it all.
 *
 * One stream serves every request of the worker, as stderr would: pieces that two requests
 * interleave end up on the same line.
 */
import type { ErrorStream } from '../gateway/types.js';
import type { Logger } from '../log.js';

/** The longest line held: longer text is logged in pieces of this many characters. */
export const MAX_LINE = 16 * 1024;

export class LineBufferedErrors implements ErrorStream {
  /** The start of a line whose newline has not arrived yet; never longer than maxLine. */
  private pending = '';

  constructor(
    private readonly log: Logger,
    private readonly maxLine = MAX_LINE,
  ) {}

  /** Characters held for a line not yet ended (for tests and diagnostics). */
  get held(): number {
    return this.pending.length;
  }

  write(message: string): void {
    // The spec asks for a string; a number or a Buffer from a careless app is still worth seeing.
    const text = typeof message === 'string' ? message : String(message);
    let from = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', from)) {
      const line = this.pending === '' ? text.slice(from, newline) : this.pending + text.slice(from, newline);
      this.pending = '';
      this.emitBounded(line);
      from = newline + 1;
    }
    if (from < text.length) this.hold(from === 0 ? text : text.slice(from));
  }

  flush(): void {
    if (this.pending === '') return;
    const line = this.pending;
    this.pending = '';
    this.emit(line, false);
  }

  private hold(rest: string): void {
    this.pending += rest;
    while (this.pending.length > this.maxLine) {
      this.emit(this.pending.slice(0, this.maxLine), true);
      this.pending = this.pending.slice(this.maxLine);
    }
  }

  /** A complete line, which may still be longer than a log line may hold. */
  private emitBounded(line: string): void {
    let start = 0;
    while (line.length - start > this.maxLine) {
      this.emit(line.slice(start, start + this.maxLine), true);
      start += this.maxLine;
    }
    this.emit(start === 0 ? line : line.slice(start), false);
  }

  private emit(line: string, partial: boolean): void {
    // CRLF line ends and trailing spaces carry nothing; blank lines are not worth a log line.
    const text = partial ? line : line.trimEnd();
    if (text === '') return;
    if (partial) this.log.error({ stream: 'tsgi.errors', partial: true }, text);
    else this.log.error({ stream: 'tsgi.errors' }, text);
  }
}
