/**
 * Runs the shell commands of the docs the way a reader would, in a sandbox: a copy of the
 * checkout in a temp directory, the docs' example files written into it, ephemeral ports in place
 * of 8000 and friends, every process in a process group of its own, stopped by its id, every wait
 * bounded. examples.test.ts holds the policy (what is skipped and why); this file the mechanics.
 *
 * What a block means, as a reader takes it:
 * - lines run in order, in one directory; a command that starts a server (it logs `Worker ready`)
 *   keeps running in the background while the next lines run;
 * - a line that starts another tsgi server first stops the ones earlier lines started: the docs
 *   list alternatives one per line (`tsgi app:app`, then `tsgi -w 4 app:app`);
 * - a block that signals the master through tsgi.pid without starting one finds one running;
 * - `kill -HUP "$(cat tsgi.pid)"` and the like wait for what the signal does (a new worker ready,
 *   one exiting, the master gone) before the next line; so does `$EDITOR FILE` under --reload;
 * - `npm ci` and `npm install` do nothing (node_modules is this checkout's), `npx tsgi` is the
 *   sandbox's tsgi, `$EDITOR` makes the edit the README describes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { freePort } from '../helpers/proxy-process.js';
import { sleep } from '../helpers/wait.js';

export const SHELL_LANGUAGES = ['sh', 'bash', 'shell', 'console'];

export interface DocCommand {
  doc: string;
  /** 1-based line in the doc. */
  line: number;
  /** The command as written, comments removed, continuation lines joined. */
  text: string;
}

export interface DocBlock {
  doc: string;
  line: number;
  commands: DocCommand[];
}

export interface DocFile {
  doc: string;
  line: number;
  path: string;
  content: string;
}

/** Every doc the harness reads: the README and docs/*.md, found afresh each run. */
export function docPaths(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

/**
 * The fenced shell blocks of a doc, and the files it shows: a fenced block whose first line is a
 * comment naming a path (`// tsgi.config.mjs`, `# deploy/tsgi.service`).
 */
export function readDoc(doc: string): { blocks: DocBlock[]; files: DocFile[] } {
  const lines = readFileSync(join(ROOT, doc), 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  const files: DocFile[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(lines[i]!);
    if (open === null) continue;
    const fence = open[2]!;
    const lang = open[3]!.toLowerCase();
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.trimStart().startsWith(fence)) body.push(lines[j++]!);
    const start = i + 2;
    if (SHELL_LANGUAGES.includes(lang)) blocks.push({ doc, line: i + 1, commands: commandsOf(doc, start, body, lang === 'console') });
    else {
      const named = /^\s*(?:\/\/|#)\s*([\w./-]+\.[A-Za-z0-9]+)(?=$|[\s,:;(])/.exec(body[0] ?? '');
      if (named !== null && !named[1]!.startsWith('/')) files.push({ doc, line: i + 1, path: named[1]!, content: `${body.join('\n')}\n` });
    }
    i = j;
  }
  return { blocks, files };
}

/** In a `console` block only `$ ` lines are commands; the others are what they print. */
function commandsOf(doc: string, firstLine: number, body: string[], prompted: boolean): DocCommand[] {
  const out: DocCommand[] = [];
  let pending: { line: number; text: string } | null = null;
  body.forEach((raw, index) => {
    if (prompted && pending === null && !/^\s*\$\s/.test(raw)) return;
    const text = stripComment(raw.replace(/^\s*\$\s+/, '')).trimEnd();
    if (pending === null && text.trim() === '') return;
    const line = firstLine + index;
    const joined: { line: number; text: string } = pending === null ? { line, text: text.trim() } : { line: pending.line, text: `${pending.text} ${text.trim()}` };
    if (joined.text.endsWith('\\')) pending = { line: joined.line, text: joined.text.slice(0, -1).trimEnd() };
    else {
      pending = null;
      out.push({ doc, line: joined.line, text: joined.text });
    }
  });
  return out;
}

/** A `#` comment outside quotes, where the shell would see one (at the start or after a blank). */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

// ---- the sandbox ------------------------------------------------------------------------------

/** What of the checkout a reader's commands may use; node_modules is linked, not copied. */
const COPIED = ['package.json', 'package-lock.json', 'tsconfig.json', 'bin', 'dist', 'src', 'examples', 'docs', 'README.md'];
/** Absolute paths the docs use for system locations; they are moved into the sandbox. */
const SYSTEM_PATHS = ['/run/', '/var/run/', '/var/log/', '/srv/', '/etc/tsgi/'];
const HOST_PORT = /\b(0\.0\.0\.0|127\.0\.0\.1|localhost|\[::1?\]):(\d{2,5})\b/g;

export interface Outcome {
  command: DocCommand;
  kind: 'exited' | 'server' | 'hung';
  code: number | null;
  output: string;
}

interface Background {
  command: DocCommand;
  proc: ChildProcess;
  output: () => string;
}

export class Sandbox {
  readonly dir: string;
  private readonly ports = new Map<string, number>();
  private readonly servers: Background[] = [];
  /** Everything ever started, by process group, for the final check that nothing is left. */
  private readonly groups = new Set<number>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(files: DocFile[], fixtures: string): Promise<Sandbox> {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-docs-'));
    const box = new Sandbox(dir);
    for (const entry of COPIED) if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    for (const name of readdirSync(fixtures)) copyFileSync(join(fixtures, name), join(dir, name));
    for (const path of SYSTEM_PATHS) mkdirSync(join(dir, path), { recursive: true });
    // 8000 is the default port: whatever binds it by default binds an ephemeral port instead.
    await box.port('8000');
    for (const file of files) {
      // A file of the checkout the doc shows is checked against it (examples.test.ts), not replaced.
      if (existsSync(join(ROOT, file.path))) continue;
      const target = join(dir, file.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, box.substitute(file.content));
    }
    box.writeTools();
    return box;
  }

  /** The ephemeral port standing in for `original` in this sandbox. */
  private async port(original: string): Promise<number> {
    let port = this.ports.get(original);
    if (port === undefined) {
      port = await freePort();
      this.ports.set(original, port);
    }
    return port;
  }

  /** Ports and system paths of a command or file, as they are in this sandbox. */
  substitute(text: string): string {
    let out = text.replace(HOST_PORT, (all, host: string, port: string) => {
      const mapped = this.ports.get(port);
      return mapped === undefined ? all : `${host}:${mapped}`;
    });
    for (const path of SYSTEM_PATHS) out = out.split(path).join(join(this.dir, path));
    return out;
  }

  /** tsgi, npm and $EDITOR as a reader has them, on a PATH of the sandbox's own. */
  private writeTools(): void {
    const bin = join(this.dir, '.bin');
    mkdirSync(bin);
    const tool = (name: string, script: string): void => {
      writeFileSync(join(bin, name), `#!/bin/sh\n${script}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    tool('tsgi', `exec "${process.execPath}" "${join(this.dir, 'bin/tsgi.js')}" "$@"`);
    // `npx tsgi` runs the package's own bin, as npx resolves it here, without npm's start-up.
    tool('npx', `if [ "$1" = tsgi ]; then shift; exec "${process.execPath}" "${join(this.dir, 'bin/tsgi.js')}" "$@"; fi\nexec "${join(dirname(process.execPath), 'npx')}" "$@"`);
    // The sandbox has this checkout's node_modules; nothing is fetched from the registry.
    tool('npm', `case "$1" in ci|install|i) echo "(sandbox: npm $1 skipped, node_modules is linked)"; exit 0;; esac\nexec "${join(dirname(process.execPath), 'npm')}" "$@"`);
    // "$EDITOR FILE  # change 'Hello, World!', save": the change a reader would make.
    tool('edit', `sed -i "s/Hello, World!/Hello from the docs test!/" "$1"`);
  }

  env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (name.startsWith('TSGI_') || name === 'PORT' || name === 'WEB_CONCURRENCY' || name.startsWith('npm_')) continue;
      env[name] = value;
    }
    return {
      ...env,
      PATH: `${join(this.dir, '.bin')}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      EDITOR: 'edit',
      TSGI_LOG_FORMAT: 'json',
      TSGI_BIND: `127.0.0.1:${this.ports.get('8000')}`,
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
    };
  }

  /** Runs one command; resolves when it exits, becomes a ready server, or `timeoutMs` passes. */
  async run(command: DocCommand, timeoutMs = 30_000): Promise<Outcome> {
    for (const [, port] of command.text.matchAll(HOST_PORT)) await this.port(port!);
    // The directories a doc names under /run and the like exist, as the system (systemd's
    // RuntimeDirectory=, a package) would have made them.
    for (const root of SYSTEM_PATHS) {
      for (const [path] of command.text.matchAll(new RegExp(`${root.replace(/\//g, '\\/')}[\\w./-]*`, 'g'))) mkdirSync(dirname(join(this.dir, path)), { recursive: true });
    }
    const text = this.substitute(command.text);
    // At a lower priority: the docs are checked for what they do, not how fast, and the test files
    // running beside this one measure time and memory.
    const proc = spawn('nice', ['-n', '10', 'bash', '-c', text], { cwd: this.dir, env: this.env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.groups.add(proc.pid!);
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        await exited;
        await sleep(20);
        return { command, kind: 'exited', code: proc.exitCode, output: out };
      }
      if (/Worker ready/.test(out)) {
        // All its workers: every worker booted has said it is ready, and no more are booting.
        const count = (re: RegExp): number => (out.match(new RegExp(re.source, 'g')) ?? []).length;
        const settle = Date.now() + 30_000;
        let seen = -1;
        while (Date.now() < settle && proc.exitCode === null && (out.length !== seen || count(/Worker ready/) < count(/Booting worker/))) {
          seen = out.length;
          await sleep(300);
        }
        this.servers.push({ command, proc, output: () => out });
        return { command, kind: 'server', code: null, output: out };
      }
      await sleep(25);
    }
    this.servers.push({ command, proc, output: () => out });
    return { command, kind: 'hung', code: null, output: out };
  }

  /** What the background servers have logged, together. */
  serverOutput(): string {
    return this.servers.map((s) => s.output()).join('\n');
  }

  get serving(): readonly Background[] {
    return this.servers;
  }

  /** Answers GET / on every address a server says it listens at. */
  async probe(output: string): Promise<string[]> {
    const problems: string[] = [];
    for (const [, address] of output.matchAll(/Listening at: (\S+) \(/g)) {
      const unix = /^unix:(.+)$/.exec(address!);
      const port = unix === null ? Number(new URL(address!).port) : 0;
      try {
        const { responses } = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: docs\r\nConnection: close\r\n\r\n', { timeoutMs: 10_000, socketPath: unix?.[1] });
        if (responses[0]?.status !== 200) problems.push(`GET / on ${address} answered ${responses[0]?.status ?? 'nothing'}`);
      } catch (err) {
        problems.push(`GET / on ${address} failed: ${(err as Error).message}`);
      }
    }
    return problems;
  }

  /** Stops every server started so far: TERM to its process group, KILL after `timeoutMs`. */
  async stopServers(timeoutMs = 15_000): Promise<void> {
    const servers = this.servers.splice(0);
    await Promise.all(servers.map((s) => stopGroup(s.proc.pid!, timeoutMs)));
  }

  /** Stops everything, checks nothing is left, removes the directory. Returns the groups that had to be killed. */
  async dispose(): Promise<number[]> {
    await this.stopServers();
    const killed: number[] = [];
    for (const group of this.groups) if (alive(group) && (await stopGroup(group, 5000))) killed.push(group);
    rmSync(this.dir, { recursive: true, force: true });
    return killed;
  }
}

function alive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
}

/** TERM to the group, then KILL; true if KILL was needed. */
async function stopGroup(group: number, timeoutMs: number): Promise<boolean> {
  if (!alive(group)) return false;
  process.kill(-group, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(group) && Date.now() < deadline) await sleep(50);
  if (!alive(group)) return false;
  process.kill(-group, 'SIGKILL');
  while (alive(group)) await sleep(20);
  return true;
}

// ---- reading commands -------------------------------------------------------------------------

/** The signals a command sends to a process named in a pid file: `kill -HUP "$(cat tsgi.pid)"`. */
export function signalsSent(text: string): { signal: string; pidFile: string }[] {
  return [...text.matchAll(/\bkill\s+-(?:s\s+)?([A-Z0-9]+)\s+"?\$\(cat\s+([^)\s]+)\)"?/g)].map((m) => ({ signal: m[1]!.replace(/^SIG/, ''), pidFile: m[2]! }));
}

/** Whether a command starts a tsgi server (and not --check-config, --print-config, --help...). */
export function startsServer(text: string): boolean {
  return /(^|[\s;&|(])(npx\s+)?tsgi\s/.test(`${text} `) && !/--(check|print)-config|--help|--version|\s-[hv](\s|$)/.test(text);
}
