/**
 * Runs a Dockerfile's steps without a container engine: each stage gets a directory standing in
 * for its root file system; COPY copies (from the build context or an earlier stage), RUN runs
 * the command with `sh -c` in the stage's WORKDIR with its ENV, as the given unprivileged user.
 * Enough of the format for tsgi's own Dockerfile (the test fails on an instruction it does not
 * know), so that the commands tested are the Dockerfile's, not a copy of them.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, posix } from 'node:path';

export interface Instruction {
  op: string;
  args: string;
}

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const space = line.indexOf(' ');
    out.push({ op: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() });
  }
  return out;
}

export interface Stage {
  name: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | null;
  entrypoint: string[];
  cmd: string[];
  healthcheck: string[] | null;
  stopSignal: string;
  expose: number[];
}

export interface RunAs {
  uid: number;
  gid: number;
  /** HOME and npm's cache for the unprivileged user. */
  home: string;
}

/** ENV a=b c="d e" (and the old `ENV a b` form). */
function parseEnv(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  if (!args.includes('=')) {
    const [k, ...v] = args.split(/\s+/);
    env[k!] = v.join(' ');
    return env;
  }
  for (const m of args.matchAll(/(\w+)=("([^"]*)"|\S*)/g)) env[m[1]!] = m[3] ?? m[2]!;
  return env;
}

function expand(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? '');
}

function chownTree(path: string, as: RunAs): void {
  chownSync(path, as.uid, as.gid);
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), as);
}

function run(cmd: string, cwd: string, env: Record<string, string>, as: RunAs, timeoutMs: number): void {
  const r = spawnSync('setpriv', [`--reuid=${as.uid}`, `--regid=${as.gid}`, '--clear-groups', 'sh', '-c', cmd], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: as.home, npm_config_cache: join(as.home, '.npm'), npm_config_update_notifier: 'false', ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`RUN ${cmd} failed (${r.status ?? r.signal ?? r.error}):\n${r.stdout}\n${r.stderr}`);
}

/**
 * Runs every stage. `context` is the build context (a fresh clone), `root` an empty directory
 * the stages live in, owned by `as`. Returns the stages by name, the last one as `final`.
 */
export function buildDockerfile(dockerfile: string, context: string, root: string, as: RunAs, timeoutMs = 240_000): { stages: Map<string, Stage>; final: Stage } {
  const started = Date.now();
  const left = (): number => Math.max(1000, timeoutMs - (Date.now() - started));
  const args: Record<string, string> = {};
  const stages = new Map<string, Stage>();
  let stage: Stage | null = null;
  const inStage = (p: string, s: Stage): string => join(s.root, posix.isAbsolute(p) ? p : posix.join(s.workdir, p));
  for (const { op, args: text } of parseDockerfile(readFileSync(dockerfile, 'utf8'))) {
    if (op === 'ARG') {
      const [k, v] = text.split('=');
      args[k!] = v ?? '';
      continue;
    }
    if (op === 'FROM') {
      const m = /\s+AS\s+(\S+)$/i.exec(text);
      const name = m?.[1] ?? String(stages.size);
      stage = { name, root: join(root, `stage-${name}`), workdir: '/', env: {}, user: null, entrypoint: [], cmd: [], healthcheck: null, stopSignal: 'SIGTERM', expose: [] };
      mkdirSync(stage.root, { recursive: true });
      stages.set(name, stage);
      continue;
    }
    if (stage === null) throw new Error(`${op} before FROM`);
    const s = stage;
    switch (op) {
      case 'WORKDIR':
        s.workdir = posix.isAbsolute(text) ? text : posix.join(s.workdir, text);
        mkdirSync(join(s.root, s.workdir), { recursive: true });
        chownTree(join(s.root, s.workdir), as);
        break;
      case 'ENV':
        Object.assign(s.env, parseEnv(expand(text, { ...args, ...s.env })));
        break;
      case 'COPY': {
        const parts = text.split(/\s+/);
        const from = parts[0]!.startsWith('--from=') ? stages.get(parts.shift()!.slice('--from='.length)) : undefined;
        const dest = parts.pop()!;
        for (const src of parts) {
          const source = from === undefined ? join(context, src) : inStage(src, from);
          if (!existsSync(source)) throw new Error(`COPY ${src}: ${source} does not exist`);
          const toDir = dest.endsWith('/') || parts.length > 1;
          const target = toDir && !statSync(source).isDirectory() ? join(inStage(dest, s), basename(src)) : inStage(dest, s);
          cpSync(source, target, { recursive: true });
          chownTree(target, as);
        }
        break;
      }
      case 'RUN':
        run(text, join(s.root, s.workdir), s.env, as, left());
        break;
      case 'USER':
        s.user = text;
        break;
      case 'EXPOSE':
        s.expose = text.split(/\s+/).map(Number);
        break;
      case 'STOPSIGNAL':
        s.stopSignal = text;
        break;
      case 'HEALTHCHECK': {
        const cmd = /\bCMD\s+(\[.*\])\s*$/.exec(text);
        s.healthcheck = cmd ? (JSON.parse(cmd[1]!) as string[]) : null;
        break;
      }
      case 'ENTRYPOINT':
        s.entrypoint = JSON.parse(text) as string[];
        break;
      case 'CMD':
        s.cmd = JSON.parse(text) as string[];
        break;
      default:
        throw new Error(`the Dockerfile uses ${op}, which this test does not know how to run`);
    }
  }
  if (stage === null) throw new Error('no FROM in the Dockerfile');
  return { stages, final: stage };
}

/** A container path (an argument starting with /) as a path in the stage's directory. */
export function hostPath(stage: Stage, p: string): string {
  return posix.isAbsolute(p) ? join(stage.root, p) : p;
}
