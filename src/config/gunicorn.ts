/**
 * Gunicorn's flags and setting names that tsgi does not have, and what to do instead. People
 * coming from Gunicorn type its flags; the answer to `--preload` must say that tsgi has no such
 * thing and why, not offer the nearest spelling (`--reload`, a development file watcher).
 *
 * Consulted only for a flag or config key tsgi does not know, so an entry whose flag tsgi gains
 * later is simply never reached. docs/gunicorn.md is the long form of this table.
 */

export interface GunicornOnly {
  /** Gunicorn's command-line flags for it (short first). */
  readonly flags: readonly string[];
  /** Its name in a Gunicorn config file. */
  readonly setting: string;
  /** What tsgi does instead, as the end of a sentence. */
  readonly instead: string;
}

const PROXY = "tsgi takes X-Forwarded-* and Forwarded from the peers in --forwarded-allow-ips (docs/proxies.md), and lets a proxy set no other environ key";
const LOGGING = 'tsgi logs through pino to standard error or --error-logfile; --log-format json is for log collectors';
const STATSD = 'tsgi sends plain StatsD (--statsd-host, --statsd-prefix) and serves Prometheus metrics (--metrics-bind), without this';
const TLS = 'tsgi terminates TLS with node:tls (--certfile, --keyfile, docs/proxies.md), which has no such option';
const PARSER = "tsgi's parser refuses what this would let through, and has no switch for it (docs/engines.md)";
const HTTP2 = 'tsgi serves HTTP/1.1; put a proxy in front for HTTP/2';
const ASGI = 'tsgi serves TSGI apps (docs/spec.md), not ASGI';
const DIRTY = 'tsgi has no dirty arbiters; run long jobs in a separate service';
const CONTROL = 'control tsgi with signals to the master (docs/signals.md)';
const PASTE = 'tsgi has no PasteDeploy; use a config file (-c)';
const EVENT_LOOP = 'every tsgi worker runs one event loop that serves many connections at once; use --workers for more processes';

export const GUNICORN_ONLY: readonly GunicornOnly[] = [
  { flags: ['--preload'], setting: 'preload_app', instead: 'each worker loads the app itself, so a reload (HUP) always loads new code; drop the flag' },
  { flags: ['-k', '--worker-class'], setting: 'worker_class', instead: EVENT_LOOP },
  { flags: ['--threads'], setting: 'threads', instead: EVENT_LOOP },
  { flags: ['-D', '--daemon'], setting: 'daemon', instead: 'tsgi runs in the foreground; start it from a supervisor (systemd, Docker, Kubernetes), see docs/signals.md' },
  { flags: ['-e', '--env'], setting: 'raw_env', instead: 'set variables in the environment that starts tsgi (KEY=VALUE tsgi ..., or Environment= in a systemd unit)' },
  { flags: ['--log-file'], setting: 'errorlog', instead: 'use --error-logfile' },
  { flags: ['--limit-request-field_size'], setting: 'limit_request_field_size', instead: 'use --limit-request-field-size (all dashes)' },
  { flags: ['--reload-engine'], setting: 'reload_engine', instead: 'use --reload-poll to poll; file system events are the default' },
  { flags: ['--http-parser'], setting: 'http_parser', instead: 'use --http tsgi (tsgi\'s own parser) or --http node (node:http)' },
  { flags: ['--worker-tmp-dir'], setting: 'worker_tmp_dir', instead: 'nothing is needed: the heartbeat goes over IPC, not through a file' },
  { flags: ['--capture-output'], setting: 'capture_output', instead: "the app's standard output and error go where tsgi's do; write diagnostics to environ['tsgi.errors']" },
  { flags: ['-R', '--enable-stdio-inheritance'], setting: 'enable_stdio_inheritance', instead: 'tsgi does not daemonize, so standard streams are always inherited' },
  { flags: ['--log-config'], setting: 'logconfig', instead: LOGGING },
  { flags: ['--log-config-json'], setting: 'logconfig_json', instead: LOGGING },
  { flags: ['--logger-class'], setting: 'logger_class', instead: LOGGING },
  { flags: ['--log-syslog'], setting: 'syslog', instead: `${LOGGING}; for syslog, let journald or logger(1) take standard error` },
  { flags: ['--log-syslog-to'], setting: 'syslog_addr', instead: LOGGING },
  { flags: ['--log-syslog-prefix'], setting: 'syslog_prefix', instead: LOGGING },
  { flags: ['--log-syslog-facility'], setting: 'syslog_facility', instead: LOGGING },
  { flags: ['--disable-redirect-access-to-syslog'], setting: 'disable_redirect_access_to_syslog', instead: LOGGING },
  { flags: ['--dogstatsd-tags'], setting: 'dogstatsd_tags', instead: STATSD },
  { flags: ['--enable-backlog-metric'], setting: 'enable_backlog_metric', instead: STATSD },
  { flags: ['--ssl-version'], setting: 'ssl_version', instead: 'use --ssl-min-version (Gunicorn ignores --ssl-version since 21.0)' },
  { flags: ['--suppress-ragged-eofs'], setting: 'suppress_ragged_eofs', instead: TLS },
  { flags: ['--do-handshake-on-connect'], setting: 'do_handshake_on_connect', instead: TLS },
  { flags: ['--forwarder-headers'], setting: 'forwarder_headers', instead: PROXY },
  { flags: ['--reuse-port'], setting: 'reuse_port', instead: "workers accept from the master's sockets; there is no SO_REUSEPORT mode" },
  { flags: ['--no-sendfile'], setting: 'sendfile', instead: 'tsgi does not use sendfile(2), so there is nothing to turn off' },
  { flags: ['--initgroups'], setting: 'initgroups', instead: '--user and --group set the user and the group only' },
  { flags: ['--spew'], setting: 'spew', instead: 'use node --inspect or --cpu-prof (NODE_OPTIONS) to see what runs' },
  { flags: ['--pythonpath'], setting: 'pythonpath', instead: 'use --chdir, or NODE_PATH' },
  { flags: ['--paste', '--paster'], setting: 'paste', instead: PASTE },
  { flags: ['--paste-global'], setting: 'raw_paste_global_conf', instead: PASTE },
  { flags: ['--permit-obsolete-folding'], setting: 'permit_obsolete_folding', instead: PARSER },
  { flags: ['--strip-header-spaces'], setting: 'strip_header_spaces', instead: PARSER },
  { flags: ['--permit-unconventional-http-method'], setting: 'permit_unconventional_http_method', instead: PARSER },
  { flags: ['--permit-unconventional-http-version'], setting: 'permit_unconventional_http_version', instead: PARSER },
  { flags: ['--casefold-http-method'], setting: 'casefold_http_method', instead: PARSER },
  { flags: ['--header-map'], setting: 'header_map', instead: PARSER },
  { flags: ['--http-protocols'], setting: 'http_protocols', instead: HTTP2 },
  { flags: ['--http2-cleartext'], setting: 'http2_cleartext', instead: HTTP2 },
  { flags: ['--http2-max-concurrent-streams'], setting: 'http2_max_concurrent_streams', instead: HTTP2 },
  { flags: ['--http2-initial-window-size'], setting: 'http2_initial_window_size', instead: HTTP2 },
  { flags: ['--http2-max-frame-size'], setting: 'http2_max_frame_size', instead: HTTP2 },
  { flags: ['--http2-max-header-list-size'], setting: 'http2_max_header_list_size', instead: HTTP2 },
  { flags: ['--asgi-loop'], setting: 'asgi_loop', instead: ASGI },
  { flags: ['--asgi-lifespan'], setting: 'asgi_lifespan', instead: `${ASGI}; an app's close() method runs at shutdown (spec §7.4)` },
  { flags: ['--asgi-disconnect-grace-period'], setting: 'asgi_disconnect_grace_period', instead: ASGI },
  { flags: ['--protocol'], setting: 'protocol', instead: 'tsgi speaks HTTP/1.1 only (no uwsgi protocol)' },
  { flags: ['--uwsgi-allow-from'], setting: 'uwsgi_allow_ips', instead: 'tsgi speaks HTTP/1.1 only (no uwsgi protocol)' },
  { flags: ['--dirty-app'], setting: 'dirty_apps', instead: DIRTY },
  { flags: ['--dirty-workers'], setting: 'dirty_workers', instead: DIRTY },
  { flags: ['--dirty-timeout'], setting: 'dirty_timeout', instead: DIRTY },
  { flags: ['--dirty-threads'], setting: 'dirty_threads', instead: DIRTY },
  { flags: ['--dirty-graceful-timeout'], setting: 'dirty_graceful_timeout', instead: DIRTY },
  { flags: ['--control-socket'], setting: 'control_socket', instead: CONTROL },
  { flags: ['--control-socket-mode'], setting: 'control_socket_mode', instead: CONTROL },
  { flags: ['--no-control-socket'], setting: 'control_socket_disable', instead: CONTROL },
];

/**
 * Gunicorn config-file names whose tsgi setting is not their spelling without `_` and case
 * (`graceful_timeout` is `gracefulTimeout` and `accesslog` is `accessLog` without help).
 */
export const GUNICORN_RENAMED: Readonly<Record<string, string>> = {
  pidfile: 'pid',
  proc_name: 'name',
  wsgi_app: 'app',
  reload_extra_files: 'reloadExtraFile',
};

const BY_FLAG = new Map(GUNICORN_ONLY.flatMap((entry) => entry.flags.map((flag) => [flag, entry] as const)));
const BY_SETTING = new Map(GUNICORN_ONLY.map((entry) => [entry.setting, entry] as const));

const SEE = "docs/gunicorn.md maps Gunicorn's flags and settings onto tsgi's";

/** The answer to a command-line flag tsgi does not know, if it is one of Gunicorn's. */
export function gunicornFlagMessage(flag: string): string | undefined {
  const entry = BY_FLAG.get(flag);
  return entry === undefined ? undefined : `${flag} is a Gunicorn flag that tsgi does not have: ${entry.instead}. ${SEE}`;
}

/**
 * The answer to a config-file key that is no tsgi setting and not a tsgi name spelt Gunicorn's
 * way, if it is one of Gunicorn's.
 */
export function gunicornSettingMessage(key: string): string | undefined {
  const entry = BY_SETTING.get(key);
  return entry === undefined ? undefined : `"${key}" is a Gunicorn setting that tsgi does not have: ${entry.instead}. ${SEE}`;
}
