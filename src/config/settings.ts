/**
 * Every tsgi setting, in one table. The command line, `TSGI_*` environment variables, config
 * files, `--print-config`, `Config` and docs/settings.md are all derived from it.
 *
 * To add a setting, append an entry built with one of the helpers in setting.ts, then run
 * `npm run docs:settings`. Names are camelCase; flags follow Gunicorn's where Gunicorn has one.
 */
import { validBindList, validMetricsBind, validStatsdHost } from './bind.js';
import { DEFAULT_ACCESS_LOG_FORMAT } from './access-log-format.js';
import { ConfigError } from './errors.js';
import { addressEntryProblem } from '../http/addresses.js';
import { TOKEN } from '../http/grammar.js';
import {
  boolSetting,
  choiceSetting,
  floatSetting,
  hookSetting,
  intSetting,
  listSetting,
  mapSetting,
  optionalStringSetting,
  stringSetting,
  type SettingValue,
} from './setting.js';
import { atLeast, between, eachNonEmpty, existingDirectory, modeMask, nonEmpty, parseMode, rootPath, userOrId } from './validators.js';

/** Gunicorn's caps: a request line longer than 8190 bytes is never accepted, nor more than 32768 fields. */
export const MAX_REQUEST_LINE = 8190;
export const MAX_REQUEST_FIELDS = 32768;

/**
 * A list of trusted addresses and networks (Gunicorn's `forwarded_allow_ips`, `proxy_allow_ips`):
 * comma-separated on the command line and in the environment, as Gunicorn writes it, and each
 * entry checked as Gunicorn checks it.
 */
function addressListSetting<const N extends string>(spec: Parameters<typeof listSetting<N>>[0]) {
  const setting = listSetting({ ...spec, validate: validAddressList });
  return {
    ...setting,
    coerce: (raw: unknown): string[] => setting.coerce(raw).flatMap((item) => item.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')),
  };
}

function validAddressList(entries: readonly string[]): void {
  for (const entry of entries) {
    const problem = addressEntryProblem(entry);
    if (problem !== null) throw new ConfigError(problem);
  }
}

/** Gunicorn's default `secure_scheme_headers`. */
export const DEFAULT_SECURE_SCHEME_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'X-FORWARDED-PROTOCOL': 'ssl',
  'X-FORWARDED-PROTO': 'https',
  'X-FORWARDED-SSL': 'on',
});

/** The modes of --proxy-protocol; Gunicorn 23's boolean `proxy_protocol = True` reads as auto. */
const PROXY_PROTOCOL_MODES = ['off', 'v1', 'v2', 'auto'] as const;

/** ssl.CERT_NONE, CERT_OPTIONAL and CERT_REQUIRED, as Gunicorn's --cert-reqs takes them. */
const CERT_REQS: Record<string, number> = { none: 0, optional: 1, required: 2, cert_none: 0, cert_optional: 1, cert_required: 2 };

/** How tsgi calls a hook: awaited (startup and shutdown steps), or not (events, per request). */
type HookTiming = 'awaited' | 'not awaited' | 'per request';

const TIMING_TEXT: Record<HookTiming, string> = {
  awaited: 'may be async, and tsgi awaits it before going on',
  'not awaited': 'it is not awaited (a returned promise runs on its own)',
  'per request': 'it runs for every request and is not awaited (a returned promise runs on its own)',
};

/** A server hook (Gunicorn's): a function from the config file, run in `where` at one moment. */
function serverHook<const N extends string>(name: N, arity: number, where: 'master' | 'worker', timing: HookTiming, help: string) {
  return hookSetting<N, (...args: never[]) => unknown>({
    name,
    section: 'Server Hooks',
    arity,
    help,
    desc: `
Runs in the ${where} process; ${TIMING_TEXT[timing]}. A hook that throws is logged with its name and
does not stop the server. Config file only; docs/hooks.md describes the arguments.`,
  });
}

export const SETTINGS = [
  // ── Config File ────────────────────────────────────────────────────────────────────────────
  optionalStringSetting({
    name: 'config',
    section: 'Config File',
    cli: ['-c', '--config'],
    meta: 'FILE',
    default: null,
    validate: nonEmpty,
    help: 'Read settings from this file (.js, .mjs, .cjs or .json).',
    desc: `
A config file sets any setting by its name, e.g. \`export default { workers: 4, bind: ['0.0.0.0:8000'] }\`.
A \`.js\`/\`.mjs\`/\`.cjs\` file may use a default export or named exports; a \`.json\` file holds one
object. A key that is not a setting is an error that names the closest setting. Relative paths are
taken from the directory tsgi started in.

Precedence, highest first: command line, environment (\`TSGI_CMD_ARGS\`, then \`TSGI_<FLAG>\`),
config file, defaults.`,
  }),
  optionalStringSetting({
    name: 'app',
    section: 'Config File',
    positional: true,
    meta: 'MODULE[:ATTR]',
    default: null,
    validate: nonEmpty,
    help: 'The TSGI app to serve, as MODULE[:ATTR].',
    desc: `
The positional argument: \`tsgi examples/hello:app\`. \`MODULE\` is a path relative to the
working directory, with or without its extension (\`.js\`, \`.mjs\`, \`.cjs\`, then \`.ts\`, \`.mts\`, \`.cts\`).
\`ATTR\` is an export name or a dotted path into one, and defaults to the default export. \`ATTR\` may
call a factory with string arguments: \`app:create()\` or \`app:create('prod')\`; a factory may be async.
A config file may set it as \`app\`.`,
  }),
  choiceSetting({
    name: 'interface',
    section: 'Config File',
    cli: ['--interface'],
    meta: 'INTERFACE',
    choices: ['auto', 'tsgi', 'fetch', 'node'],
    default: 'auto',
    help: 'Which interface the app speaks: TSGI, fetch (Request => Response) or node (req, res).',
    desc: `
\`auto\` recognises the app and logs what it chose and why: an object with a \`fetch()\` method (Hono,
h3, itty-router, \`export default { fetch }\`) is a fetch app; an Express, connect, Koa or Fastify app
is a node app; any other function is a TSGI app. A plain \`(request) => Response\` function needs
\`fetch\`, a plain \`(req, res)\` function needs \`node\`: their shape cannot be told from a TSGI
app's. docs/interfaces.md has the rules and the adapters behind them.`,
  }),

  // ── Server Socket ──────────────────────────────────────────────────────────────────────────
  listSetting({
    name: 'bind',
    section: 'Server Socket',
    cli: ['-b', '--bind'],
    meta: 'ADDRESS',
    default: ['127.0.0.1:8000'],
    defaultText: "['127.0.0.1:8000'], or ['0.0.0.0:$PORT'] when PORT is set",
    fallbackEnv: { name: 'PORT', toText: (port) => `0.0.0.0:${port}` },
    validate: validBindList,
    help: 'Socket to listen on; repeat to listen on several.',
    desc: `
\`HOST:PORT\`, \`[IPv6]:PORT\`, \`HOST\` (port 8000) or \`unix:PATH\`. Repeat the flag to listen on several
sockets: \`-b 127.0.0.1:8000 -b '[::1]:8000'\`. In \`TSGI_BIND\`, separate addresses with commas.
When the \`PORT\` environment variable is set (as on Heroku and Cloud Run), the default is
\`0.0.0.0:$PORT\`.`,
  }),
  intSetting({
    name: 'backlog',
    section: 'Server Socket',
    cli: ['--backlog'],
    default: 2048,
    validate: atLeast(1),
    help: 'Most connections waiting to be accepted.',
    desc: `
The \`listen(2)\` backlog. The kernel also caps it (\`net.core.somaxconn\` on Linux). Raise it for
bursts of new connections; clients beyond it are refused or time out.`,
  }),

  // ── Worker Processes ───────────────────────────────────────────────────────────────────────
  intSetting({
    name: 'workers',
    section: 'Worker Processes',
    cli: ['-w', '--workers'],
    default: 1,
    defaultText: '1, or $WEB_CONCURRENCY when set',
    fallbackEnv: { name: 'WEB_CONCURRENCY', toText: (count) => count },
    validate: atLeast(1),
    help: 'Number of worker processes.',
    desc: `
Each worker is a process with its own event loop, so one worker uses at most one core. Start with
one to two per core and measure. The \`WEB_CONCURRENCY\` environment variable sets the default.`,
  }),
  choiceSetting({
    name: 'http',
    section: 'Worker Processes',
    cli: ['--http'],
    meta: 'ENGINE',
    choices: ['tsgi', 'node'],
    default: 'tsgi',
    help: 'Which HTTP/1.1 engine parses requests.',
    desc: `
\`tsgi\` is tsgi's own strict HTTP/1.1 parser (request-smuggling hardening, Gunicorn's limits).
\`node\` uses \`node:http\` (llhttp) with tsgi's checks on what it parsed, and hands a connection to
tsgi's parser from the first request llhttp may have read otherwise (docs/engines.md): both
engines answer the same requests the same way, with the request limits below and their statuses.`,
  }),
  floatSetting({
    name: 'timeout',
    section: 'Worker Processes',
    cli: ['-t', '--timeout'],
    meta: 'SECONDS',
    default: 30,
    validate: atLeast(0),
    help: 'Restart a worker that has not reported to the master for this long (0 disables).',
    desc: `
Workers send the master a heartbeat from their event loop. A worker silent for longer than this
(its loop blocked by synchronous work, or the process hung) is killed and replaced. This is not a
per-request limit: a slow \`await\` does not block the loop. See \`requestTimeout\` for that.`,
  }),
  floatSetting({
    name: 'gracefulTimeout',
    section: 'Worker Processes',
    cli: ['--graceful-timeout'],
    meta: 'SECONDS',
    default: 30,
    validate: atLeast(0),
    help: 'On shutdown or reload, how long workers may finish their requests before being killed.',
    desc: `
After SIGTERM or SIGHUP, a worker stops accepting connections and finishes the requests it has.
Workers still running after this many seconds are killed.`,
  }),
  floatSetting({
    name: 'keepalive',
    section: 'Worker Processes',
    cli: ['--keep-alive'],
    meta: 'SECONDS',
    default: 5,
    validate: atLeast(0),
    help: 'How long an idle keep-alive connection waits for its next request (0 closes after each response).',
    desc: `
Gunicorn's default is 2 seconds; tsgi uses 5 like \`node:http\`. Behind a load balancer or reverse
proxy, set it higher than the proxy's idle timeout for upstream connections (e.g. AWS ALB: 60 s),
so the proxy, not tsgi, closes idle connections; otherwise a request can race the close and fail
with a 502.`,
  }),
  floatSetting({
    name: 'requestTimeout',
    section: 'Worker Processes',
    cli: ['--request-timeout'],
    meta: 'SECONDS',
    default: 0,
    validate: atLeast(0),
    help: 'Longest time a request may take, from its first byte to the end of the response (0 = no limit).',
    desc: `
A request still running after this many seconds gets a 504 if nothing has been sent yet; otherwise
its connection is aborted. The worker goes on serving everyone else. Unlike \`timeout\`, this covers
time spent awaiting I/O.`,
  }),
  floatSetting({
    name: 'headerTimeout',
    section: 'Worker Processes',
    cli: ['--header-timeout'],
    meta: 'SECONDS',
    default: 30,
    validate: atLeast(0),
    help: 'Longest time a request head may take to arrive, from its first byte; past it, 408 and close (0 = no limit).',
    desc: `
A deadline, not an idle timer: a client trickling its head a byte at a time is cut off when it runs
out, whatever it sends. The first request of a connection counts from the connection's start (its
accept, so a PROXY protocol header and a TLS handshake count too), so a connection that never sends a
byte is closed too. Between requests, \`keepalive\` applies until the next head's first byte arrives.
Refusals are logged once a second, with how many there were.`,
  }),
  floatSetting({
    name: 'bodyTimeout',
    section: 'Worker Processes',
    cli: ['--body-timeout'],
    meta: 'SECONDS',
    default: 60,
    validate: atLeast(0),
    help: 'Longest time a request body may make no progress while the app waits for it (0 = no limit).',
    desc: `
The request is abandoned: 408 if nothing of the response was sent, otherwise the connection is
closed; the app's read rejects with \`TSGI_ERR_BODY_TIMEOUT\` and \`tsgi.signal\` aborts. An app
that does not read (the worker then stops reading too) is not timed out by this.`,
  }),
  intSetting({
    name: 'workerConnections',
    section: 'Worker Processes',
    cli: ['--worker-connections'],
    meta: 'COUNT',
    default: 1000,
    validate: atLeast(0, ' (0 = no limit)'),
    help: 'Most connections one worker holds; more are closed as soon as they are accepted (0 = no limit).',
    desc: `
Gunicorn's name and default. Each connection costs a file descriptor and some memory; this bounds
both. Closed connections are logged once a second at most. Behind a proxy that keeps a pool of
upstream connections, size it above the pool.`,
  }),
  intSetting({
    name: 'limitConcurrency',
    section: 'Worker Processes',
    cli: ['--limit-concurrency'],
    meta: 'COUNT',
    default: 0,
    validate: atLeast(0, ' (0 = no limit)'),
    help: "Most requests one worker answers at once; more get 503 (0 = no limit; uvicorn's name).",
    desc: `
Sheds load instead of queueing it: a request past the limit is answered 503 at once and its
connection closed, so a proxy or client can retry elsewhere.`,
  }),
  intSetting({
    name: 'maxRequests',
    section: 'Worker Processes',
    cli: ['--max-requests'],
    default: 0,
    validate: atLeast(0),
    help: 'Restart a worker after it has served this many requests (0 = never).',
    desc: `
A simple way to contain memory leaks: the master starts a fresh worker, and once it is ready the old
one finishes its current requests and exits (a rolling replacement, \`reloadBatch\` at a time). Combine with \`maxRequestsJitter\` so workers do not all restart at once.`,
  }),
  intSetting({
    name: 'maxRequestsJitter',
    section: 'Worker Processes',
    cli: ['--max-requests-jitter'],
    default: 0,
    validate: atLeast(0),
    help: 'Add a random 0..N to maxRequests for each worker.',
    desc: `
Each worker draws its own limit of \`maxRequests + random(0, maxRequestsJitter)\`, spreading restarts
over time.`,
  }),
  intSetting({
    name: 'maxWorkerMemory',
    section: 'Worker Processes',
    cli: ['--max-worker-memory'],
    meta: 'MB',
    default: 0,
    validate: atLeast(0),
    help: 'Replace a worker whose resident memory (RSS) passes this many MiB (0 disables).',
    desc: `
Workers report their RSS with every heartbeat. A worker above the limit is replaced gracefully: a
new worker starts, and once it is ready the old one stops accepting, finishes its requests and
exits. Replacements roll \`reloadBatch\` at a time, so capacity never drops by more than that.
Gunicorn has no such setting; it is the usual cure for slow leaks.`,
  }),

  // ── Security ───────────────────────────────────────────────────────────────────────────────
  intSetting({
    name: 'limitRequestLine',
    section: 'Security',
    cli: ['--limit-request-line'],
    meta: 'BYTES',
    default: 4094,
    validate: between(0, MAX_REQUEST_LINE, ' (0 = no limit)'),
    help: `Longest request line in bytes; longer gets 414 (0 = no limit; at most ${MAX_REQUEST_LINE}).`,
    desc: `
The request line is the method, the target (path and query) and the version, so this bounds the URL
length a client can send. As in Gunicorn, a limit cannot exceed ${MAX_REQUEST_LINE} bytes, and 0
turns the check off.`,
  }),
  intSetting({
    name: 'limitRequestFields',
    section: 'Security',
    cli: ['--limit-request-fields'],
    meta: 'COUNT',
    default: 100,
    validate: between(0, MAX_REQUEST_FIELDS, ' (0 = the maximum)'),
    help: `Most header fields in a request; more gets 431 (0 = the maximum, ${MAX_REQUEST_FIELDS}).`,
    desc: `
Bounds the work and memory a single request head can cost. As in Gunicorn, it cannot exceed
${MAX_REQUEST_FIELDS}.`,
  }),
  intSetting({
    name: 'limitRequestFieldSize',
    section: 'Security',
    cli: ['--limit-request-field-size'],
    meta: 'BYTES',
    default: 8190,
    validate: atLeast(0, ' (0 = no limit)'),
    help: 'Longest header field line in bytes, counted with its CRLF as Gunicorn counts it; longer gets 431 (0 = no limit).',
    desc: `
A field line is the name, the colon, the value with the spaces around it, and the CRLF that ends it,
so \`X-Token: abc\` costs 14 bytes; the same value means the same bytes as in Gunicorn. The same limit
applies to each trailer field of a chunked body. Gunicorn 23 reads 0 as "no limit" (newer Gunicorn
code uses the default instead); tsgi reads it as no limit. Large cookies or tokens may need more than
the default.`,
  }),

  // ── Logging ────────────────────────────────────────────────────────────────────────────────
  choiceSetting({
    name: 'logLevel',
    section: 'Logging',
    cli: ['--log-level'],
    meta: 'LEVEL',
    choices: ['debug', 'info', 'warning', 'error', 'critical'],
    default: 'info',
    help: 'Least severe message the error log shows.',
    desc: `
The error log carries tsgi's own messages (workers starting, timeouts, app errors). The access log
is not affected.`,
  }),
  optionalStringSetting({
    name: 'accessLog',
    section: 'Logging',
    cli: ['--access-logfile'],
    meta: 'FILE',
    default: null,
    validate: nonEmpty,
    help: "Write one line per request to this file ('-' = stdout); off by default.",
    desc: `
Off unless set, as in Gunicorn. \`-\` writes to standard output. Each worker appends one line per
request (refusals and timeouts included) in \`accessLogFormat\` (default: "combined" and the
request time in seconds) or as JSON (\`accessLogJson\`), as the request ends; files are reopened
on SIGUSR1, for log rotation.`,
  }),
  stringSetting({
    name: 'errorLog',
    section: 'Logging',
    cli: ['--error-logfile'],
    meta: 'FILE',
    default: '-',
    validate: nonEmpty,
    help: "Write the error log to this file ('-' = stderr).",
    desc: `
\`-\` (the default) writes to standard error. Files are opened for appending and reopened on SIGUSR1.`,
  }),
  choiceSetting({
    name: 'logFormat',
    section: 'Logging',
    cli: ['--log-format'],
    meta: 'FORMAT',
    choices: ['auto', 'json', 'pretty'],
    default: 'auto',
    help: 'Log line format; auto means pretty on a terminal and json otherwise.',
    desc: `
\`json\` writes one JSON object per line (pino's format), for log collectors. \`pretty\` is for people.
\`auto\` picks \`pretty\` when the log goes to a terminal and \`json\` otherwise.`,
  }),

  // ── Process Naming ─────────────────────────────────────────────────────────────────────────
  optionalStringSetting({
    name: 'name',
    section: 'Process Naming',
    cli: ['-n', '--name'],
    meta: 'STRING',
    default: null,
    validate: nonEmpty,
    help: 'A name added to the process titles, to tell several tsgi servers apart in ps and top.',
    desc: `
Process titles read \`tsgi: master [NAME]\` and \`tsgi: worker [NAME]\`. Unset, they carry the app spec.`,
  }),

  // ── Debugging ──────────────────────────────────────────────────────────────────────────────
  boolSetting({
    name: 'reload',
    section: 'Debugging',
    cli: ['--reload'],
    default: false,
    help: 'Restart workers when the app source changes (development only).',
    desc: `
Watches the app's directory tree (narrowed by \`reloadInclude\`/\`reloadExclude\`, plus
\`reloadExtraFile\`) and, when a file changes, replaces the workers as HUP does: new workers load
the new code and only then do the old ones stop, so requests in flight finish. A save that does not
load leaves the old workers serving and logs why; if nothing has loaded yet, workers answer 500 with
the error until a save fixes it. For development only: the error page shows paths and source.`,
  }),
  intSetting({
    name: 'reloadBatch',
    section: 'Debugging',
    cli: ['--reload-batch'],
    meta: 'COUNT',
    default: 1,
    validate: atLeast(1),
    help: 'How many workers a reload replaces at a time.',
    desc: `
On a reload, tsgi starts this many new workers, waits until they are ready, then stops as many old
ones, and repeats until every worker is new. 1 keeps the most capacity during the reload; a
larger batch finishes sooner.`,
  }),
  listSetting({
    name: 'reloadExtraFile',
    section: 'Debugging',
    cli: ['--reload-extra-file'],
    meta: 'FILE',
    default: [],
    validate: eachNonEmpty,
    help: 'With --reload, also reload when this file changes; repeat for several.',
    desc: `
For files outside the app's directory, or inside a directory that is never watched (such as
\`node_modules\`): a config file, a linked package under development. A change to one always
reloads, whatever \`reloadInclude\` and \`reloadExclude\` say. Relative paths are taken from the
directory tsgi started in. In \`TSGI_RELOAD_EXTRA_FILE\`, separate files with commas.`,
  }),
  listSetting({
    name: 'reloadInclude',
    section: 'Debugging',
    cli: ['--reload-include'],
    meta: 'GLOB',
    default: [],
    validate: eachNonEmpty,
    help: 'With --reload, only files matching one of these globs reload; repeat for several.',
    desc: `
Unset, any file in the app's directory reloads (except what is excluded). A pattern without \`/\` is
matched against file and directory names at any depth (\`*.ts\`, \`*.{ts,json}\`); one with \`/\`
against the path from the app's directory (\`src/**\`, \`views/*.html\`). A pattern naming a
directory covers what is in it. Globs know \`*\`, \`?\`, \`**\`, \`{a,b}\` and \`[abc]\`; quote them
so the shell does not expand them.`,
  }),
  listSetting({
    name: 'reloadExclude',
    section: 'Debugging',
    cli: ['--reload-exclude'],
    meta: 'GLOB',
    default: [],
    validate: eachNonEmpty,
    help: 'With --reload, files matching one of these globs never reload; repeat for several.',
    desc: `
Patterns are written as for \`reloadInclude\`, and win over it. Always excluded, on top of these:
\`node_modules\`, \`.git\`, \`dist\`, \`build\`, \`coverage\`, \`.tsgi*\`, and the files editors write while
saving (\`*.swp\`, \`*.swx\`, \`*~\`, \`.#*\`, \`4913\`). Exclude what the app itself writes into its
directory (logs, uploads, a SQLite database), or every write would restart the workers.`,
  }),
  boolSetting({
    name: 'reloadPoll',
    section: 'Debugging',
    cli: ['--reload-poll'],
    default: false,
    help: 'With --reload, look for changes by polling instead of file system events.',
    desc: `
File system events do not cross some boundaries: Docker bind mounts from macOS or Windows hosts,
network file systems, some VMs. Polling checks each watched file about every 100 ms, which costs CPU
in a large tree; exclude what you can.`,
  }),
  floatSetting({
    name: 'reloadDelay',
    section: 'Debugging',
    cli: ['--reload-delay'],
    meta: 'SECONDS',
    default: 0.1,
    validate: atLeast(0),
    help: 'With --reload, wait this long after the last change before reloading.',
    desc: `
Saving a file is often several writes (a temporary file, a rename, a permission change), and a
formatter or \`git checkout\` touches many files at once; changes closer together than this make
one reload. Raise it when a tool writes in slower bursts.`,
  }),
  boolSetting({
    name: 'checkConfig',
    section: 'Debugging',
    cli: ['--check-config'],
    default: false,
    help: 'Check the configuration and that the app loads, then exit (0 = fine, 2 = bad configuration, 4 = the app does not load).',
    desc: `
Useful before a reload in production: run \`tsgi --check-config\` with the same arguments first.`,
  }),
  boolSetting({
    name: 'printConfig',
    section: 'Debugging',
    cli: ['--print-config'],
    default: false,
    help: 'Print every setting with its final value, then exit.',
    desc: `
One \`name = value\` line per setting, sorted by name. Shows what the command line, environment,
config file and defaults add up to.`,
  }),

  // ── Server Mechanics ───────────────────────────────────────────────────────────────────────
  stringSetting({
    name: 'chdir',
    section: 'Server Mechanics',
    cli: ['--chdir'],
    meta: 'DIR',
    default: (ctx) => ctx.cwd,
    defaultText: 'the current directory',
    validate: existingDirectory,
    help: 'Change to this directory before loading the app.',
    desc: `
The app spec and relative paths in it are resolved from here. The directory must exist.`,
  }),
  stringSetting({
    name: 'rootPath',
    section: 'Server Mechanics',
    cli: ['--root-path'],
    meta: 'PATH',
    default: '',
    defaultText: "'', or $SCRIPT_NAME when set",
    // Gunicorn reads SCRIPT_NAME from the environment; a trailing slash names the same prefix.
    fallbackEnv: { name: 'SCRIPT_NAME', toText: (value) => value.replace(/\/+$/, '') },
    validate: rootPath,
    help: 'The path prefix the app is mounted at: SCRIPT_NAME, taken off PATH_INFO.',
    desc: `
For an app served under a prefix by a proxy that passes the full path (\`location /app/\` without
a rewrite): \`--root-path /app\` gives \`SCRIPT_NAME=/app\` and \`PATH_INFO\` the rest, so the app
builds its URLs under the prefix. A request whose path is not under it is answered 404 without
calling the app. As with Gunicorn, the \`SCRIPT_NAME\` environment variable sets the default.`,
  }),
  optionalStringSetting({
    name: 'pid',
    section: 'Server Mechanics',
    cli: ['-p', '--pid'],
    meta: 'FILE',
    default: null,
    validate: nonEmpty,
    help: "Write the master's process id to this file.",
    desc: `
For init systems and scripts that signal the master. The file is removed when the master exits.`,
  }),
  optionalStringSetting({
    name: 'user',
    section: 'Server Mechanics',
    cli: ['-u', '--user'],
    meta: 'USER',
    default: null,
    validate: userOrId,
    help: 'Run workers as this user (name or numeric id); needs root.',
    desc: `
The master starts as root (to bind ports below 1024, say) and workers switch to this user. Unset,
workers run as the user that started tsgi.`,
  }),
  optionalStringSetting({
    name: 'group',
    section: 'Server Mechanics',
    cli: ['-g', '--group'],
    meta: 'GROUP',
    default: null,
    validate: userOrId,
    help: 'Run workers as this group (name or numeric id); needs root.',
    desc: `
Unset, workers keep the group of the user that started tsgi.`,
  }),
  intSetting({
    name: 'umask',
    section: 'Server Mechanics',
    cli: ['-m', '--umask'],
    meta: 'MODE',
    default: 0,
    parse: parseMode,
    validate: modeMask,
    help: 'umask for the unix sockets tsgi creates (octal, e.g. 007); the default 0 lets any user connect.',
    desc: `
Written as in a shell: \`007\` and \`0o007\` are octal. A config file can use a number (\`0o007\`).
As in Gunicorn, it applies while tsgi creates its \`unix:\` sockets, so it decides who may connect:
with the default 0 any user can (an Nginx running as \`www-data\`, say); \`007\` leaves only the
socket's owner and group. When the master runs as root with \`user\`/\`group\`, the sockets
belong to that user and group. The pid file is always 0644. Workers, and the files the app writes,
keep the umask tsgi was started with.`,
  }),

  // ── Access log format, metrics and health ─────────────────────────────────────────────────
  optionalStringSetting({
    name: 'accessLogFormat',
    section: 'Logging',
    cli: ['--access-logformat'],
    meta: 'FORMAT',
    default: null,
    defaultText: `'${DEFAULT_ACCESS_LOG_FORMAT}'`,
    validate: nonEmpty,
    help: "The access log line, in Gunicorn's atoms: %(h)s %(t)s \"%(r)s\" %(s)s %(b)s %(D)s ...",
    desc: `
Gunicorn's \`access_log_format\`: \`%(NAME)s\` is replaced per request. \`h\` client address, \`l\` \`-\`,
\`u\` user (HTTP Basic), \`t\` date (\`[10/Oct/2000:13:55:36 +0000]\`), \`r\` request line, \`m\` method,
\`U\` path, \`q\` query string, \`H\` protocol, \`s\` status, \`B\` bytes sent, \`b\` bytes sent or \`-\`,
\`f\` Referer, \`a\` User-Agent, \`T\` seconds, \`M\` milliseconds, \`D\` microseconds, \`L\` decimal
seconds, \`p\` worker pid, \`{Header}i\` a request header, \`{Header}o\` a response header, \`{NAME}e\` an
environment variable. Unknown atoms print \`-\`. Values the client controls are escaped (\`"\`, \`\\\`,
control and non-ASCII bytes become \`\\xHH\`), so no request can forge a line. The default is the
"combined" format followed by the request time in seconds.`,
  }),
  boolSetting({
    name: 'accessLogJson',
    section: 'Logging',
    cli: ['--access-log-json'],
    default: false,
    help: 'Write the access log as one JSON object per request instead of --access-logformat.',
    desc: `
Fields: \`time\` (ISO 8601), \`remote_addr\`, \`method\`, \`target\`, \`path\`, \`query\`, \`protocol\`,
\`status\` (0 when no response was sent), \`bytes_sent\`, \`bytes_received\`, \`duration_ms\`, \`referer\`,
\`user_agent\`, \`user\`, \`outcome\` (\`ok\`, \`refused\`, \`app-error\`, \`timeout\`, \`client-gone\`) and
\`pid\`. Every value is JSON-escaped, so a line is always one valid object.`,
  }),
  optionalStringSetting({
    name: 'metricsBind',
    section: 'Metrics',
    cli: ['--metrics-bind'],
    meta: 'HOST:PORT',
    default: null,
    validate: validMetricsBind,
    help: 'Serve Prometheus metrics (/metrics) and health checks (/healthz, /readyz) from the master on this address.',
    desc: `
Off by default. The master answers, on its own port, \`/metrics\` (Prometheus text, aggregated over
every worker; counters keep what replaced workers had counted), \`/healthz\` (200 while the master's
loop runs and at least one worker sends heartbeats) and \`/readyz\` (200 while at least one worker
accepts; 503 from the moment a stop begins). Workers keep a few counters per request and report
them over IPC; docs/metrics.md lists every metric. Bind it where only your scraper and probes reach
it (\`0.0.0.0:9191\` inside a container).`,
  }),
  optionalStringSetting({
    name: 'statsdHost',
    section: 'Metrics',
    cli: ['--statsd-host'],
    meta: 'HOST:PORT',
    default: null,
    validate: validStatsdHost,
    help: 'Push metrics to this StatsD server (UDP) every second, with Gunicorn\'s metric names.',
    desc: `
Off by default. The master sends \`tsgi.requests\` (c), \`tsgi.request.status.<code>\` (c),
\`tsgi.request.duration\` (ms, sampled), \`tsgi.workers\` (g) and \`tsgi.backlog\` (g), as Gunicorn
sends \`gunicorn.*\`, each prefixed by \`statsdPrefix\`. The port defaults to 8125.`,
  }),
  stringSetting({
    name: 'statsdPrefix',
    section: 'Metrics',
    cli: ['--statsd-prefix'],
    meta: 'PREFIX',
    default: '',
    help: 'Prefix for every StatsD metric name (a dot is added when missing).',
    desc: `
\`--statsd-prefix app\` sends \`app.tsgi.requests\`.`,
  }),

  // ── Proxies ────────────────────────────────────────────────────────────────────────────────
  // docs/proxies.md explains how they work together.
  addressListSetting({
    name: 'forwardedAllowIps',
    section: 'Proxies',
    cli: ['--forwarded-allow-ips'],
    meta: 'ADDRESSES',
    default: ['127.0.0.1', '::1'],
    defaultText: "['127.0.0.1', '::1'], or $FORWARDED_ALLOW_IPS when set",
    fallbackEnv: { name: 'FORWARDED_ALLOW_IPS', toText: (value) => value },
    help: 'Proxies whose X-Forwarded-*, Forwarded and secure scheme headers are believed: addresses, CIDR networks, or *.',
    desc: `
Comma-separated, as in Gunicorn: \`--forwarded-allow-ips '10.0.0.0/8,fd00::/8'\`. From a peer in this
list (and from any unix-socket peer, as in Gunicorn), \`X-Forwarded-For\` sets \`REMOTE_ADDR\` (the
right-most hop that is not itself in the list), the secure scheme headers set \`tsgi.url_scheme\`,
\`X-Forwarded-Host\` and \`X-Forwarded-Port\` set \`HTTP_HOST\`, \`SERVER_NAME\` and \`SERVER_PORT\`, and so
does RFC 7239 \`Forwarded\`. From any other peer they are plain headers. \`*\` trusts every peer: use it
only when nothing but the proxy can reach tsgi. A network must be written with its host bits
clear (\`10.0.0.0/8\`, not \`10.0.0.1/8\`), as Gunicorn requires. The \`FORWARDED_ALLOW_IPS\`
environment variable sets the default, as in Gunicorn. See docs/proxies.md.`,
  }),
  mapSetting({
    name: 'secureSchemeHeaders',
    section: 'Proxies',
    cli: ['--secure-scheme-headers'],
    default: DEFAULT_SECURE_SCHEME_HEADERS,
    validate: (map) => {
      for (const [name, value] of Object.entries(map)) {
        if (!TOKEN.test(name)) throw new ConfigError(`${JSON.stringify(name)} is not a header name`);
        if (value === '') throw new ConfigError(`the value for ${name} is empty; give the value that means https`);
      }
    },
    help: 'Headers from a trusted proxy that say the request came over https, with the value that means so.',
    desc: `
Gunicorn's \`secure_scheme_headers\`, with its default. In a config file an object
(\`{ 'X-Forwarded-Proto': 'https' }\`); on the command line and in \`TSGI_SECURE_SCHEME_HEADERS\`,
\`NAME=VALUE\` pairs separated by commas; an empty string turns them all off. Names match in any case;
values match exactly (\`https\`, not \`HTTPS\`). Each header present from a peer in
\`forwardedAllowIps\` sets \`tsgi.url_scheme\` to \`https\` when its value matches, \`http\` otherwise;
two that disagree get 400 (\`TSGI_ERR_FORWARDED_CONFLICT\`), as in Gunicorn 22 and later.`,
  }),
  (() => {
    const setting = choiceSetting({
      name: 'proxyProtocol',
      section: 'Proxies',
      cli: ['--proxy-protocol'],
      meta: 'MODE',
      choices: PROXY_PROTOCOL_MODES,
      default: 'off',
      help: 'Read a PROXY protocol header (HAProxy, AWS NLB) at the start of each connection from --proxy-allow-from.',
      desc: `
\`v1\` (text), \`v2\` (binary) or \`auto\` (either), as in Gunicorn 24.1 and later; Gunicorn 23's
\`proxy_protocol = True\` reads as \`auto\`. A connection from a peer in \`proxyAllowIps\` must then start
with a header of that version: its source address and port become \`REMOTE_ADDR\` and \`REMOTE_PORT\`
(and the peer that \`forwardedAllowIps\` judges). A missing or malformed header, or a PROXY header from
any other peer, closes the connection and is logged once. \`LOCAL\` and \`UNKNOWN\` headers (health
checks) keep the connection's own addresses.`,
    });
    return {
      ...setting,
      coerce: (raw: unknown): (typeof PROXY_PROTOCOL_MODES)[number] => (raw === true ? 'auto' : raw === false ? 'off' : setting.coerce(raw)),
    };
  })(),
  addressListSetting({
    name: 'proxyAllowIps',
    section: 'Proxies',
    cli: ['--proxy-allow-from'],
    meta: 'ADDRESSES',
    default: ['127.0.0.1', '::1'],
    help: 'Peers allowed to send a PROXY protocol header: addresses, CIDR networks, or *.',
    desc: `
Gunicorn's \`proxy_allow_ips\` (flag \`--proxy-allow-from\`): comma-separated addresses and CIDR
networks, or \`*\`. Used only with \`proxyProtocol\`. Unix-socket peers are allowed, as in Gunicorn.`,
  }),

  // ── SSL ────────────────────────────────────────────────────────────────────────────────────
  optionalStringSetting({
    name: 'certfile',
    section: 'SSL',
    cli: ['--certfile'],
    meta: 'FILE',
    default: null,
    validate: nonEmpty,
    help: 'PEM certificate (chain) to serve TLS with; tsgi serves https when it is set.',
    desc: `
The server certificate, followed by any intermediate certificates, in PEM. With \`keyfile\` unset, the
private key is read from this file too. The master checks the files before it binds or forks, and
each worker reads them before it drops privileges (\`user\`), so \`kill -HUP\` serves a renewed
certificate from the new workers; a certificate or key that cannot be used at a reload keeps the old
workers serving (the error is logged once). \`tsgi --check-config\` checks them without serving. Both
engines serve TLS; ALPN offers \`http/1.1\`. See docs/proxies.md.`,
  }),
  optionalStringSetting({
    name: 'keyfile',
    section: 'SSL',
    cli: ['--keyfile'],
    meta: 'FILE',
    default: null,
    validate: nonEmpty,
    help: 'PEM private key of the certificate (unencrypted).',
    desc: `
Must match \`certfile\`; a mismatch is reported by \`--check-config\` and at start
(\`TSGI_ERR_TLS\`).`,
  }),
  optionalStringSetting({
    name: 'caCerts',
    section: 'SSL',
    cli: ['--ca-certs'],
    meta: 'FILE',
    default: null,
    validate: nonEmpty,
    help: 'PEM certificates of the authorities that sign client certificates.',
    desc: `
Needed when \`certReqs\` asks for client certificates. The verified client certificate is in the
environ as \`tsgi.peer_certificate\` (subject, issuer, subjectAltName, serialNumber, fingerprint256,
validFrom, validTo, pem; spec §3.7).`,
  }),
  intSetting({
    name: 'certReqs',
    section: 'SSL',
    cli: ['--cert-reqs'],
    meta: 'MODE',
    default: 0,
    parse: (text) => {
      const mode = /^[0-2]$/.test(text) ? Number(text) : CERT_REQS[text.toLowerCase()];
      if (mode === undefined) throw new ConfigError(`expected 0, 1, 2, none, optional or required, got ${JSON.stringify(text)}`);
      return mode;
    },
    validate: between(0, 2, ' (0 none, 1 optional, 2 required)'),
    help: 'Whether clients must present a certificate: 0 (none), 1 (optional) or 2 (required).',
    desc: `
Gunicorn's values (\`ssl.CERT_NONE\`, \`CERT_OPTIONAL\`, \`CERT_REQUIRED\`); \`none\`, \`optional\` and
\`required\` are accepted too. With 1, a client may send a certificate, and a certificate that does not
verify against \`caCerts\` fails the handshake; with 2, a client without one is refused in the
handshake.`,
  }),
  optionalStringSetting({
    name: 'ciphers',
    section: 'SSL',
    cli: ['--ciphers'],
    meta: 'CIPHERS',
    default: null,
    validate: nonEmpty,
    help: "OpenSSL cipher list for TLS 1.2 and below (default: Node's).",
    desc: `
An OpenSSL cipher string such as \`ECDHE+AESGCM:ECDHE+CHACHA20\`. TLS 1.3 suites are not chosen here
(OpenSSL configures them apart). A list that matches no cipher is reported by \`--check-config\`.`,
  }),
  choiceSetting({
    name: 'sslMinVersion',
    section: 'SSL',
    cli: ['--ssl-min-version'],
    meta: 'VERSION',
    choices: ['TLSv1.2', 'TLSv1.3'],
    default: 'TLSv1.2',
    help: 'Oldest TLS version a client may use.',
    desc: `
Gunicorn has no such setting (its \`ssl_version\` is deprecated and ignored); this is the one knob
left that matters. TLS 1.0 and 1.1 are not offered (RFC 8996 deprecates them).`,
  }),

  // ── Server Hooks ───────────────────────────────────────────────────────────────────────────
  // Config file only; docs/hooks.md describes each one's arguments.
  serverHook('onStarting', 1, 'master', 'awaited', 'Called just before the master binds its sockets: onStarting(server).'),
  serverHook('onReload', 1, 'master', 'awaited', 'Called when a reload (HUP or a file change) starts, after the configuration was re-read: onReload(server).'),
  serverHook('whenReady', 1, 'master', 'not awaited', 'Called once the first generation of workers is ready: whenReady(server).'),
  serverHook('preFork', 2, 'master', 'not awaited', 'Called just before a worker is forked: preFork(server, { age, generation }).'),
  serverHook('postFork', 2, 'worker', 'awaited', 'Called in the new worker, before it loads the app: postFork(null, worker).'),
  serverHook('postWorkerInit', 1, 'worker', 'awaited', 'Called in the worker, after the app is loaded and before it takes traffic: postWorkerInit(worker).'),
  serverHook('workerInt', 1, 'worker', 'awaited', 'Called in the worker when it receives INT or QUIT: workerInt(worker).'),
  serverHook('workerAbort', 1, 'master', 'not awaited', "Called in the master when it aborts a worker that missed its heartbeat (that worker's event loop is blocked, so unlike Gunicorn the hook cannot run inside it): workerAbort(worker)."),
  serverHook('preRequest', 2, 'worker', 'per request', 'Called in the worker before the app is called for a request: preRequest(worker, environ).'),
  serverHook('postRequest', 3, 'worker', 'per request', 'Called in the worker after a response is complete: postRequest(worker, environ, status).'),
  serverHook('childExit', 2, 'master', 'not awaited', 'Called in the master after a worker has exited: childExit(server, worker).'),
  serverHook('workerExit', 2, 'worker', 'awaited', 'Called in the worker just before it exits: workerExit(null, worker).'),
  serverHook('nworkersChanged', 3, 'master', 'not awaited', 'Called when the number of workers changes (TTIN/TTOU, reload): nworkersChanged(server, newValue, oldValue).'),
  serverHook('onExit', 1, 'master', 'awaited', 'Called just before the master exits: onExit(server).'),
] as const;

/** Every setting by name, with its value type: what `loadConfig` returns. */
export type Config = { -readonly [S in (typeof SETTINGS)[number] as S['name']]: SettingValue<S> };

export type SettingName = keyof Config;
