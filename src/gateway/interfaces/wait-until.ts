/**
 * `ctx.waitUntil(promise)` for fetch apps (the Service Worker and Cloudflare Workers API): work an
 * app starts for a request and lets run past its response. A registry holds each promise until it
 * settles; a worker stopping gracefully awaits them (bounded by --graceful-timeout) before it calls
 * `app.close()` and exits, so a queued write or a flushed metric is not lost to a reload.
 */

/** What a fetch app gets as its third argument (Cloudflare's ExecutionContext, in the part that applies). */
export interface ExecutionContext {
  /** Keeps the worker alive for `promise` at graceful shutdown; a rejection is logged. */
  waitUntil(promise: unknown): void;
  /** Cloudflare's fall-back-to-origin switch; there is no origin behind tsgi, so it does nothing. */
  passThroughOnException(): void;
}

export class BackgroundTasks {
  private readonly pending = new Set<Promise<void>>();

  /**
   * @param report where a rejected task is reported (a task's own request's `tsgi.errors` when it
   *   came through fromFetch; this is the fallback).
   */
  constructor(private readonly report: (error: unknown) => void = (error) => process.stderr.write(`tsgi: a waitUntil() task failed: ${describe(error)}\n`)) {}

  /** Holds `promise` until it settles. `onError` receives its rejection (default: the registry's report). */
  add(promise: unknown, onError: (error: unknown) => void = this.report): void {
    const task: Promise<void> = Promise.resolve(promise).then(
      () => {
        this.pending.delete(task);
      },
      (error: unknown) => {
        this.pending.delete(task);
        onError(error);
      },
    );
    this.pending.add(task);
  }

  /** Tasks not settled yet. */
  get size(): number {
    return this.pending.size;
  }

  /** Resolves once every task settled, including tasks added while waiting. Never rejects. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** The registry of this process: the one the worker awaits at graceful shutdown. */
export const backgroundTasks = new BackgroundTasks();

/** Where a task's failure is written: the `tsgi.errors` of the request that started it. */
interface ErrorSink {
  write(message: string): void;
}

/** The ExecutionContext of one request: its tasks go to the registry, their failures to its error stream. */
export class RequestContext implements ExecutionContext {
  constructor(
    private readonly tasks: BackgroundTasks,
    private readonly errors: ErrorSink,
  ) {}

  waitUntil(promise: unknown): void {
    this.tasks.add(promise, (error) => this.errors.write(`a waitUntil() task failed: ${describe(error)}\n`));
  }

  passThroughOnException(): void {}
}
