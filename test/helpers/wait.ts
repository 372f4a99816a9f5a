/** Bounded waiting for end-to-end tests. */
import type { RunningServer } from './server.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms; fails after `timeoutMs` naming `what` (and the server's output). */
export async function until(check: () => boolean, what: string, options: { timeoutMs?: number; server?: RunningServer } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${options.server ? `:\n${options.server.output()}` : ''}`);
    await sleep(50);
  }
}

/** How many lines of the server's output match `re`. */
export function count(server: RunningServer, re: RegExp): number {
  return (server.output().match(new RegExp(re.source, 'g')) ?? []).length;
}
