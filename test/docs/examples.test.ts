/**
 * Every shell command in README.md and docs/*.md runs, as written, in a sandbox (harness.ts says
 * how a block is read), and must succeed: exit 0, or become a server that answers GET / and stops
 * on TERM. A new doc, or a new command in one, is run by default; one that cannot run here is
 * listed in SKIPPED with the reason. A failure names the doc and line.
 *
 * Also: a doc that shows a file of this repository (`// examples/hello.js`) shows it as it is.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../helpers/server.js';
import { sleep } from '../helpers/wait.js';
import { docPaths, readDoc, Sandbox, signalsSent, startsServer, type DocBlock, type DocCommand, type Outcome } from './harness.js';

/** "Your app", a config file with a pid file: what the docs assume the reader has. */
const FIXTURES = fileURLToPath(new URL('./sandbox/', import.meta.url));

/**
 * Commands that cannot run in a test, each with why. `command` is the command as written (comments
 * removed). Add yours here, rather than leave a doc command untested without a word.
 */
const DOCKER = "needs a Docker daemon; test/deploy/dockerfile.test.ts runs the Dockerfile's steps, ENTRYPOINT and HEALTHCHECK";
const SYSTEMD = "installs and starts units in this machine's systemd; test/deploy/sockets.test.ts runs tsgi under systemd-socket-activate";
const SKIPPED: { doc: string; command: string; reason: string }[] = [
  { doc: 'README.md', command: 'npm ci && npm test', reason: 'runs the whole test suite, of which this test is a part' },
  { doc: 'docs/deploying.md', command: 'docker build -t my-tsgi .', reason: DOCKER },
  { doc: 'docs/deploying.md', command: 'docker run --rm -p 8000:8000 -p 9191:9191 my-tsgi', reason: DOCKER },
  { doc: 'docs/deploying.md', command: 'docker run --rm -p 8000:8000 -v "$PWD:/app/srv:ro" my-tsgi srv/app:app', reason: DOCKER },
  { doc: 'docs/deploying.md', command: 'docker run --rm -p 8080:8080 -e PORT=8080 -e WEB_CONCURRENCY=4 my-tsgi', reason: DOCKER },
  { doc: 'docs/deploying.md', command: 'sudo cp config/tsgi.socket config/tsgi.service /etc/systemd/system/', reason: SYSTEMD },
  { doc: 'docs/deploying.md', command: 'sudo systemctl daemon-reload && sudo systemctl enable --now tsgi.socket', reason: SYSTEMD },
  { doc: 'docs/deploying.md', command: 'journalctl -u tsgi -o cat | jq .', reason: 'reads the journal of a systemd service, which this machine does not run' },
  ...['npx vitest run test/http', 'npx vitest run test/gateway/cycle.test.ts', 'npx vitest run test/e2e/protocol.test.ts -t "engine node"', 'npx vitest run test/e2e/cli.test.ts -t "INT"'].map((command) => ({
    doc: 'docs/testing.md',
    command,
    reason: 'runs part of the test suite, of which this test is a part, from the repository (the sandbox is an app directory)',
  })),
  { doc: 'docs/testing.md', command: 'npm run mutate', reason: 'mutation testing takes most of an hour; it is run by hand, and its score is in docs/testing.md' },
  { doc: 'docs/testing.md', command: 'npm run mutate:static', reason: 'mutation testing of the static mutants, run by hand like npm run mutate' },
];

/**
 * Tools that act on the machine, not on the sandbox: a doc command using one is never run, and
 * fails until SKIPPED lists it with the reason (a test must not restart a service or a container).
 */
const HOST_TOOLS = /(^|[\s;&|(])(sudo|systemctl|journalctl|service|docker|podman|kubectl|helm|apt-get|apt|brew|launchctl|logrotate)(\s|$)/;

/** Blocks that signal the master through tsgi.pid without starting one find this one running. */
const RUNNING_SERVER = 'tsgi -c tsgi.config.mjs app:app';

/** What some commands must print, beyond succeeding. */
const EXPECTED_OUTPUT: { doc: string; command: RegExp; output: RegExp; why: string }[] = [
  { doc: 'README.md', command: /^curl /, output: /Hello from the docs test!/, why: 'the edited text, served by new workers after the save' },
  { doc: 'README.md', command: /-w 4 /, output: /(Worker ready[\s\S]*){4}/, why: 'four workers' },
  { doc: 'README.md', command: /^TSGI_WORKERS=8 /, output: /(Worker ready[\s\S]*){8}/, why: 'eight workers: the environment wins over the file' },
];

/** What a signal sent with `kill -SIG "$(cat FILE)"` does, as the log shows it. */
const SIGNAL_DONE: Record<string, { log: RegExp; what: string } | 'exits'> = {
  HUP: { log: /Worker ready/, what: 'a new worker ready after the reload' },
  TTIN: { log: /Worker ready/, what: 'one worker more' },
  USR2: { log: /Worker ready/, what: "the new master's first worker ready" },
  TTOU: { log: /Worker exiting/, what: 'one worker fewer' },
  USR1: { log: /reopened log files/, what: 'the logs reopened' },
  TERM: 'exits',
  INT: 'exits',
  QUIT: 'exits',
};

const count = (text: string, re: RegExp): number => (text.match(new RegExp(re.source, 'g')) ?? []).length;
const tail = (text: string): string => text.split('\n').slice(-25).join('\n');
const skipOf = (c: DocCommand): (typeof SKIPPED)[number] | undefined => SKIPPED.find((s) => s.doc === c.doc && s.command === c.text);

function failure(c: DocCommand, what: string, output: string): Error {
  return new Error(
    `${c.doc}:${c.line}: \`${c.text}\` ${what}\n--- output ---\n${tail(output)}\n--- \nFix the doc or the code; if the command cannot run in a test, list it in SKIPPED in test/docs/examples.test.ts with the reason.`,
  );
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function pidIn(box: Sandbox, file: string): number | null {
  try {
    return Number(readFileSync(join(box.dir, file), 'utf8').trim()) || null;
  } catch {
    return null;
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Runs one command of a block and waits for what it sets going; throws a failure naming it. */
async function step(box: Sandbox, c: DocCommand): Promise<Outcome> {
  if (HOST_TOOLS.test(c.text)) throw failure(c, 'acts on this machine rather than the sandbox, so it is not run', '');
  if (startsServer(c.text)) await box.stopServers();
  const signals = signalsSent(c.text);
  const before = box.serverOutput();
  const targets = signals.map((s) => ({ ...s, pid: pidIn(box, s.pidFile) }));
  const outcome = await box.run(c);
  if (outcome.kind === 'hung') throw failure(c, 'neither exited nor started a server within 30 s', outcome.output);
  if (outcome.kind === 'exited' && outcome.code !== 0) throw failure(c, `exited with code ${outcome.code}`, outcome.output);
  if (outcome.kind === 'server') {
    const problems = await box.probe(outcome.output);
    if (problems.length > 0) throw failure(c, `started a server that does not answer: ${problems.join('; ')}`, outcome.output);
  }
  for (const { signal, pidFile, pid } of targets) {
    const done = SIGNAL_DONE[signal];
    if (done === undefined) continue;
    const settled =
      done === 'exits'
        ? await waitFor(() => pid === null || !isAlive(pid), 20_000)
        : await waitFor(() => count(box.serverOutput(), done.log) > count(before, done.log), 20_000);
    if (!settled) throw failure(c, `sent ${signal} to ${pidFile}, and then nothing: expected ${done === 'exits' ? 'the process to exit' : done.what} within 20 s`, box.serverOutput());
  }
  if (/\$EDITOR\b/.test(c.text) && box.serving.some((s) => /--reload\b/.test(s.command.text))) {
    const reloaded = await waitFor(() => count(box.serverOutput(), /Worker ready/) > count(before, /Worker ready/), 20_000);
    if (!reloaded) throw failure(c, 'saved a file under --reload, and no new worker became ready within 20 s', box.serverOutput());
  }
  for (const e of EXPECTED_OUTPUT) {
    if (e.doc === c.doc && e.command.test(c.text) && !e.output.test(outcome.output)) throw failure(c, `should print ${e.output} (${e.why})`, outcome.output);
  }
  return outcome;
}

async function runBlock(block: DocBlock, files: ReturnType<typeof readDoc>['files']): Promise<void> {
  const commands = block.commands.filter((c) => skipOf(c) === undefined);
  const box = await Sandbox.create(files, FIXTURES);
  try {
    const signalsOnly = commands.some((c) => signalsSent(c.text).length > 0) && !commands.some((c) => startsServer(c.text));
    if (signalsOnly) {
      const context: DocCommand = { doc: block.doc, line: block.line, text: RUNNING_SERVER };
      const started = await box.run(context);
      if (started.kind !== 'server') throw failure(context, 'was to be running for this block, and did not start', started.output);
    }
    for (const c of commands) await step(box, c);
    await box.stopServers();
  } finally {
    const killed = await box.dispose();
    expect(killed, `${block.doc}:${block.line}: processes that did not stop on TERM`).toEqual([]);
  }
}

const docs = docPaths().map((doc) => ({ doc, ...readDoc(doc) }));

describe('the shell commands in the docs', () => {
  for (const { doc, blocks, files } of docs) {
    for (const block of blocks) {
      const title = `${doc}:${block.line}: ${block.commands.map((c) => c.text).join(' ; ')}`;
      const runnable = block.commands.filter((c) => skipOf(c) === undefined);
      if (runnable.length === 0) {
        it.skip(`${title} (skipped: ${block.commands.map((c) => skipOf(c)!.reason).join('; ')})`, () => {});
        continue;
      }
      it(title, () => runBlock(block, files), 180_000);
    }
  }

  it('every SKIPPED entry is still a command of its doc', () => {
    for (const s of SKIPPED) {
      const found = docs.some((d) => d.doc === s.doc && d.blocks.some((b) => b.commands.some((c) => c.text === s.command)));
      expect(found, `SKIPPED lists \`${s.command}\` for ${s.doc}, which no longer has it; remove the entry`).toBe(true);
    }
  });
});

describe('files the docs show', () => {
  const normal = (text: string): string => text.replace(/\s+/g, ' ').trim();
  for (const { files } of docs) {
    for (const file of files) {
      let repo: string | null = null;
      try {
        repo = readFileSync(join(ROOT, file.path), 'utf8');
      } catch {
        continue;
      }
      it(`${file.doc}:${file.line} shows ${file.path} as it is`, () => {
        // The doc's copy, without its naming comment, is the file or a part of it.
        const shown = normal(file.content.split('\n').slice(1).join('\n'));
        expect(normal(repo!), `${file.doc}:${file.line} shows ${file.path}, which no longer reads like that`).toContain(shown);
      });
    }
  }
});

describe('the harness', () => {
  it('reads commands, comments and continuations as a shell would', () => {
    const { blocks, files } = readDoc('README.md');
    const commands = blocks.flatMap((b) => b.commands);
    expect(commands.every((c) => !c.text.includes('  #'))).toBe(true);
    expect(commands.find((c) => c.text.startsWith('tsgi -b unix:'))?.text).toBe("tsgi -b unix:/run/app.sock 'app:create()'");
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(['examples/hello.js', 'tsgi.config.mjs']));
    expect(startsServer('TSGI_WORKERS=8 tsgi -c tsgi.config.mjs app:app')).toBe(true);
    expect(startsServer('tsgi --check-config app:app && kill -HUP "$(cat tsgi.pid)"')).toBe(false);
    expect(signalsSent('tsgi --check-config app:app && kill -HUP "$(cat tsgi.pid)"')).toEqual([{ signal: 'HUP', pidFile: 'tsgi.pid' }]);
    for (const host of ['sudo systemctl reload tsgi', 'docker run -p 8000:8000 app', 'kubectl apply -f k8s.yaml']) expect(HOST_TOOLS.test(host), host).toBe(true);
    expect(HOST_TOOLS.test('tsgi --reload app:app')).toBe(false);
  });
});
