/**
 * `--reload`: watches the app's source tree and tells the master when it changed, once per burst
 * of writes. What to do about it (start new workers, keep the old ones while the new ones fail to
 * load) is the master's business; this only decides which changes count and when.
 *
 * Gunicorn's reloader polls the files the app imported; uvicorn watches directories and filters
 * them with --reload-include/--reload-exclude globs. tsgi does the latter, with chokidar: a file
 * the app has not imported yet (a new route module, a template) still triggers a reload.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Stats } from 'node:fs';
import type { Logger } from '../log.js';

export interface ReloaderOptions {
  /** The app's directory tree to watch. */
  root: string;
  /** `--reload-extra-file`: absolute or relative to the current directory; always trigger. */
  extraFiles: string[];
  /** `--reload-include` globs (relative to root): when given, only matching files under root trigger. */
  include: string[];
  /** `--reload-exclude` globs (relative to root), on top of ALWAYS_EXCLUDED. */
  exclude: string[];
  /** `--reload-poll`: stat files on a timer instead of OS events (bind mounts, network file systems). */
  poll: boolean;
  /** An editor's save burst (write temp, rename, chmod...) within this many ms is one reload. */
  debounceMs: number;
  log: Logger;
}

/**
 * Never watched: dependencies, VCS data, build output (a build writing there must not reload the
 * server it serves), tsgi's own files, and what editors write while saving (vim's swap files and
 * its `4913` probe, backups ending in `~`, Emacs lock files).
 */
export const ALWAYS_EXCLUDED: readonly string[] = [
  'node_modules',
  '.git',
  'dist',
  'build',
  'coverage',
  '.tsgi*',
  '*.swp',
  '*.swx',
  '*~',
  '.#*',
  '4913',
];

/** chokidar's default polling interval; polling stats every watched file this often. */
const POLL_INTERVAL_MS = 100;

export class Reloader {
  private readonly root: string;
  private readonly extraFiles: ReadonlySet<string>;
  private readonly isExcluded: PathMatcher;
  private readonly isIncluded: PathMatcher | null;
  private watcher: FSWatcher | null = null;
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private stopWaitingForReady: (() => void) | null = null;

  constructor(
    private readonly options: ReloaderOptions,
    private readonly onChange: (changed: string[]) => void,
  ) {
    this.root = resolve(options.root);
    this.extraFiles = new Set(options.extraFiles.map((file) => resolve(file)));
    this.isExcluded = anyOf([...ALWAYS_EXCLUDED, ...options.exclude]);
    this.isIncluded = options.include.length === 0 ? null : anyOf(options.include);
  }

  /** Starts watching; resolves once the existing files have been scanned (they do not trigger). */
  async start(): Promise<void> {
    if (this.watcher !== null || this.closed) throw new Error('Reloader.start() may only be called once, before close()');
    const { poll, log } = this.options;
    // chokidar does not notice a watched path that appears later; say so rather than wait in vain.
    for (const file of this.extraFiles) {
      if (!existsSync(file)) log.warn(`reloader: ${file} (--reload-extra-file) does not exist, so it is not watched; create it and restart tsgi`);
    }
    const watcher = watch([this.root, ...this.extraFiles], {
      ignoreInitial: true,
      usePolling: poll,
      // chokidar's defaults; polling stats every watched file this often.
      interval: POLL_INTERVAL_MS,
      binaryInterval: 300,
      ignored: (path: string, stats?: Stats) => this.ignored(path, stats),
    });
    this.watcher = watcher;
    watcher.on('all', (event, path) => {
      if (event === 'add' || event === 'change' || event === 'unlink') this.record(path);
    });
    watcher.on('error', (error) => log.warn({ err: error }, `reloader: ${describeWatchError(error)}`));
    await new Promise<void>((ready) => {
      this.stopWaitingForReady = ready;
      watcher.once('ready', ready);
    });
    this.stopWaitingForReady = null;
    // A polled file's first stat is its baseline; chokidar takes it after 'ready', so a change
    // made before it would go unseen. Wait for the baseline before saying changes are watched.
    if (poll && !this.closed) await new Promise((r) => setTimeout(r, 3 * POLL_INTERVAL_MS));
    if (this.closed) return;
    const extra = this.extraFiles.size === 0 ? '' : ` and ${this.extraFiles.size} extra file(s)`;
    log.info(`Watching ${this.root}${extra} for changes${poll ? ' (polling)' : ''}`);
  }

  /** Stops watching; a burst still being collected is dropped. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
    this.stopWaitingForReady?.();
    const watcher = this.watcher;
    if (watcher !== null) await watcher.close();
  }

  /** chokidar asks about directories too: an excluded one is never descended into. */
  private ignored(path: string, stats?: Stats): boolean {
    const absolute = resolve(path);
    const where = this.locate(absolute);
    if (where === 'extra' || where === undefined || where.rel === '') return false;
    if (this.isExcluded(where.rel, absolute)) return true;
    // Includes narrow files under the root; directories must stay, they may hold matching files.
    // Without stats chokidar has not looked yet: the event is checked again in record().
    if (this.isIncluded === null || where.base !== this.root || stats === undefined || !stats.isFile()) return false;
    return !this.isIncluded(where.rel, absolute);
  }

  /** Whether a change to this file reloads. */
  private triggers(absolute: string): boolean {
    const where = this.locate(absolute);
    if (where === 'extra') return true;
    if (where === undefined || where.rel === '' || this.isExcluded(where.rel, absolute)) return false;
    return this.isIncluded === null || where.base !== this.root || this.isIncluded(where.rel, absolute);
  }

  /**
   * 'extra' for a file named by --reload-extra-file (it always counts), else the watched
   * directory the path is in (the root, or an extra path that is a directory) and the path from
   * there; undefined for what is outside them all (chokidar also asks about their parents).
   */
  private locate(absolute: string): 'extra' | { base: string; rel: string } | undefined {
    if (this.extraFiles.has(absolute)) return 'extra';
    for (const base of [this.root, ...this.extraFiles]) {
      const rel = relative(base, absolute);
      if (rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))) return { base, rel: toPosix(rel) };
    }
    return undefined;
  }

  private record(path: string): void {
    const absolute = resolve(path);
    if (this.closed || !this.triggers(absolute)) return;
    this.options.log.debug(`reloader: ${absolute} changed`);
    this.pending.add(absolute);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), this.options.debounceMs);
  }

  private fire(): void {
    this.timer = null;
    if (this.pending.size === 0) return;
    const changed = [...this.pending].sort();
    this.pending.clear();
    try {
      this.onChange(changed);
    } catch (error) {
      this.options.log.error({ err: error }, `reloader: the change handler threw: ${(error as Error).message}`);
    }
  }
}

function describeWatchError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ENOSPC' || code === 'EMFILE') {
    return `${message}; the system's limit on watched files was reached: exclude more (--reload-exclude), raise fs.inotify.max_user_watches, or use --reload-poll`;
  }
  return message;
}

function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

// ── Globs ────────────────────────────────────────────────────────────────────────────────────

/** Tells whether a path (relative to its base, `/`-separated; and absolute) matches. */
export type PathMatcher = (relativePath: string, absolutePath: string) => boolean;

/**
 * A path matches a pattern when the path itself or one of its parent directories does, so a
 * pattern naming a directory covers everything in it (as in .gitignore):
 *
 *   - a pattern without `/` is matched against each name: `*.log`, `tmp`, `.#*`;
 *   - a pattern with `/` is matched against the path from the root: `src/**`, `static/*.html`;
 *   - an absolute pattern is matched against the absolute path.
 *
 * Node 20's `path.matchesGlob` is missing before 20.17 and prints an ExperimentalWarning after, so
 * patterns are compiled here (see globToRegExp).
 */
export function anyOf(patterns: readonly string[]): PathMatcher {
  const compiled = patterns.map((pattern) => {
    const absolute = isAbsolute(pattern);
    const trimmed = pattern.replace(/^\.\//, '').replace(/\/+$/, '');
    return { absolute, byName: !absolute && !trimmed.includes('/'), regexp: globToRegExp(toPosix(trimmed)) };
  });
  return (relativePath, absolutePath) => {
    const names = relativePath.split('/');
    const absoluteNames = toPosix(absolutePath).split('/');
    for (const { absolute, byName, regexp } of compiled) {
      if (absolute) {
        for (let i = absoluteNames.length; i > 1; i--) if (regexp.test(absoluteNames.slice(0, i).join('/'))) return true;
      } else if (byName) {
        if (names.some((name) => regexp.test(name))) return true;
      } else {
        for (let i = names.length; i > 0; i--) if (regexp.test(names.slice(0, i).join('/'))) return true;
      }
    }
    return false;
  };
}

/**
 * A glob as a RegExp for a whole `/`-separated path. `*` is any run of characters but `/`, `?` one
 * such character, `**` as a whole segment any number of segments (none included), `{a,b}` either
 * alternative (nested braces allowed), `[abc]`/`[a-z]`/`[!abc]` a character class; `\` escapes the
 * next character. Names starting with a dot are matched like any other.
 */
export function globToRegExp(glob: string): RegExp {
  // `dir/**` also matches `dir` itself, so an excluded directory is not even descended into.
  if (glob.endsWith('/**')) return new RegExp(`^${translate(glob.slice(0, -3))}(?:/.*)?$`);
  return new RegExp(`^${translate(glob)}$`);
}

function translate(glob: string): string {
  let out = '';
  let i = 0;
  while (i < glob.length) {
    const char = glob[i]!;
    if (char === '*' && glob[i + 1] === '*' && (i === 0 || glob[i - 1] === '/') && (i + 2 === glob.length || glob[i + 2] === '/')) {
      if (i + 2 === glob.length) {
        out += '.*';
        i += 2;
      } else {
        out += '(?:[^/]*/)*';
        i += 3;
      }
    } else if (char === '*') {
      out += '[^/]*';
      i++;
    } else if (char === '?') {
      out += '[^/]';
      i++;
    } else if (char === '[') {
      const end = classEnd(glob, i);
      if (end === -1) {
        out += '\\[';
        i++;
      } else {
        let body = glob.slice(i + 1, end);
        const negated = body.startsWith('!') || body.startsWith('^');
        if (negated) body = body.slice(1);
        out += `[${negated ? '^/' : ''}${body.replace(/[\\\]^]/g, (c) => (c === '^' ? '\\^' : `\\${c}`))}]`;
        i = end + 1;
      }
    } else if (char === '{') {
      const alternatives = splitBraces(glob, i);
      if (alternatives === null) {
        out += '\\{';
        i++;
      } else {
        out += `(?:${alternatives.parts.map(translate).join('|')})`;
        i = alternatives.end + 1;
      }
    } else if (char === '\\' && i + 1 < glob.length) {
      out += escapeRegExp(glob[i + 1]!);
      i += 2;
    } else {
      out += escapeRegExp(char);
      i++;
    }
  }
  return out;
}

/** Index of the `]` closing the class opened at `start`, or -1 (then `[` is literal). */
function classEnd(glob: string, start: number): number {
  let i = start + 1;
  if (glob[i] === '!' || glob[i] === '^') i++;
  if (glob[i] === ']') i++; // `[]]` is a class holding `]`
  for (; i < glob.length; i++) {
    if (glob[i] === '/') return -1;
    if (glob[i] === ']') return i;
  }
  return -1;
}

/** The comma-separated alternatives of the brace group opened at `start`, or null if unclosed. */
function splitBraces(glob: string, start: number): { parts: string[]; end: number } | null {
  const parts: string[] = [];
  let depth = 0;
  let from = start + 1;
  for (let i = start + 1; i < glob.length; i++) {
    const char = glob[i];
    if (char === '\\') i++;
    else if (char === '{') depth++;
    else if (char === '}' && depth > 0) depth--;
    else if (char === ',' && depth === 0) {
      parts.push(glob.slice(from, i));
      from = i + 1;
    } else if (char === '}') {
      parts.push(glob.slice(from, i));
      return { parts, end: i };
    }
  }
  return null;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
