// Renders a results object (as written to bench/results/*.json) for the terminal and as
// docs/benchmarks.md. Everything shown is computed from the runs in that object.
import { FULL_RUN } from './config.js';
import { range } from './stats.js';
import { summarise } from './summary.js';

const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '-');
const fixed = (v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const times = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '-');
const spanOf = (r, f = int) => (r ? `${f(r.min)} - ${f(r.max)}` : '-');
const timesSpan = (r) => (r ? `${r.min.toFixed(2)} - ${r.max.toFixed(2)}` : '-');

function labelOf(results, serverId) {
  return results.servers.find((s) => s.id === serverId)?.label ?? serverId;
}

export function isSmokeRun(knobs) {
  return knobs.rounds < FULL_RUN.rounds || knobs.durationS < FULL_RUN.durationS || knobs.warmupS < FULL_RUN.warmupS;
}

function table(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** A plain-text table with padded columns for the terminal. */
function textTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatRunLine(results, run) {
  const mode = results.modes.find((m) => m.id === run.mode)?.label ?? run.mode;
  const where = run.round === 0 ? 'warm-up  ' : `round ${run.round}/${results.knobs.rounds}`;
  return (
    `[${where}] ${mode.padEnd(17)} ${labelOf(results, run.server).padEnd(34)} ` +
    `${int(run.rps).padStart(7)} req/s  p99 ${String(run.latencyMs.p99).padStart(3)} ms  ` +
    `server ${fixed(run.serverCpuUsPerRequest).padStart(6)} us/req ${fixed(run.serverCores, 2)} cores  ` +
    `load-gen ${fixed(run.loadgen.cores, 2)} cores  conns/req ${fixed(run.tcp.connectionsPerRequest, 3)}  ` +
    `errors ${run.errors} non-2xx ${run.non2xx}${run.workersChanged ? '  WORKERS CHANGED' : ''}`
  );
}

export function renderConsole(results) {
  const summary = summarise(results);
  const out = [];
  for (const mode of results.modes) {
    const rows = summary
      .filter((s) => s.mode === mode.id)
      .map((s) => [
        labelOf(results, s.server),
        int(s.rpsMedian),
        spanOf(s.rpsRange),
        fixed(s.p99MsMedian, 0),
        `${s.errors}/${s.non2xx}`,
        fixed(s.serverCpuUsPerRequestMedian),
        int(s.requestsPerServerCpuSMedian),
        fixed(s.serverCoresMedian, 2),
        fixed(s.loadgenCoresMedian, 2),
        fixed(s.connectionsPerRequestMedian, 3),
        times(s.vsBaseline?.throughput),
        times(s.vsBaseline?.requestsPerServerCpuS),
      ]);
    out.push(`\n${mode.label} (${results.knobs.connections} connections, medians of ${results.knobs.rounds} x ${results.knobs.durationS} s)`);
    out.push(
      textTable(
        ['server', 'req/s', 'min - max', 'p99 ms', 'err/non2xx', 'srv us/req', 'req/srv-CPU-s', 'srv cores', 'gen cores', 'conns/req', 'x req/s', 'x req/CPU-s'],
        rows,
      ),
    );
  }
  out.push(`\nRatios (x) are against "${labelOf(results, results.baselineId)}" in the same mode and run.`);
  return out.join('\n');
}

function machineSection(m) {
  return [
    `- ${m.nproc} CPUs: ${m.cpuModel}; ${m.memTotalGiB} GiB RAM`,
    `- ${m.os ?? 'unknown OS'}, kernel ${m.kernel}`,
    `- Node ${m.node}, autocannon ${m.autocannon}, tsgi ${m.tsgi}${m.gitCommit ? ` at ${m.gitCommit}` : ''}`,
    `- sysctl: ip_local_port_range ${m.sysctl.ip_local_port_range}, tcp_tw_reuse ${m.sysctl.tcp_tw_reuse}, somaxconn ${m.sysctl.somaxconn}, tcp_max_tw_buckets ${m.sysctl.tcp_max_tw_buckets}`,
    `- load average when the bench started: ${m.loadAverageAtStart.join(', ')}; CLK_TCK ${m.clkTck}`,
  ].join('\n');
}

function commandOf(server) {
  const env = Object.entries(server.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const argv = server.command.map((part, i) => (i === 0 ? 'node' : part));
  return [...env, ...argv].join(' ');
}

function resultsTable(results, summary, mode) {
  const rows = summary
    .filter((s) => s.mode === mode.id)
    .map((s) => [
      labelOf(results, s.server),
      `**${int(s.rpsMedian)}**`,
      spanOf(s.rpsRange),
      fixed(s.p50MsMedian, 0),
      fixed(s.p99MsMedian, 0),
      String(s.errors),
      String(s.non2xx),
      `**${fixed(s.serverCpuUsPerRequestMedian)}**`,
      int(s.requestsPerServerCpuSMedian),
      times(s.vsBaseline?.throughput),
      times(s.vsBaseline?.requestsPerServerCpuS),
    ]);
  return table(
    ['server', 'req/s median', 'min - max', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'server CPU us/req', 'req per server CPU-s', 'x req/s', 'x req per CPU-s'],
    rows,
  );
}

function cpuTable(results, summary) {
  const rows = summary.map((s) => [
    labelOf(results, s.server),
    results.modes.find((m) => m.id === s.mode).label,
    fixed(s.serverCoresMedian, 2),
    fixed(s.loadgenCoresMedian, 2),
    fixed(s.loadgenCpuUsPerRequestMedian),
    fixed(s.otherCoresMedian, 2),
    fixed(s.machineBusyCoresMedian, 2),
    fixed(s.masterCpuSMedian, 2),
    `${fixed(s.connectionsPerRequestMedian, 3)} (${spanOf(s.connectionsPerRequestRange, (v) => fixed(v, 3))})`,
    fixed(s.bytesPerResponseMedian, 0),
  ]);
  return table(
    ['server', 'mode', 'server cores', 'load-gen cores', 'load-gen CPU us/req', 'other cores', 'machine busy cores', `master CPU s per ${results.knobs.durationS} s run`, 'new connections per request sent', 'bytes per response'],
    rows,
  );
}

function ratioTable(results, summary) {
  const rows = summary
    .filter((s) => s.server !== results.baselineId && s.vsBaseline)
    .map((s) => [
      labelOf(results, s.server),
      results.modes.find((m) => m.id === s.mode).label,
      `**${times(s.vsBaseline.throughput)}**`,
      timesSpan(s.vsBaseline.throughputPairedRange),
      `**${times(s.vsBaseline.requestsPerServerCpuS)}**`,
      timesSpan(s.vsBaseline.requestsPerServerCpuSPairedRange),
    ]);
  return table(['server', 'mode', 'throughput ratio', 'per-round range', 'requests per server CPU-second ratio', 'per-round range'], rows);
}

function perRunTable(results) {
  const rows = [];
  for (const mode of results.modes) {
    for (const serverId of mode.servers) {
      const runs = results.runs.filter((r) => r.mode === mode.id && r.server === serverId).sort((a, b) => a.round - b.round);
      if (runs.length === 0) continue;
      rows.push([labelOf(results, serverId), mode.label, runs.map((r) => int(r.rps)).join(', '), runs.map((r) => fixed(r.serverCpuUsPerRequest)).join(', ')]);
    }
  }
  return table(['server', 'mode', 'req/s per round', 'server CPU us/req per round'], rows);
}

function responsesTable(results) {
  const rows = results.servers.map((s) => [
    labelOf(results, s.id),
    String(s.probe.keepalive.bytes),
    s.probe.keepalive.headerNames.join(', '),
    String(s.probe.close.bytes),
    s.probe.close.headerNames.join(', '),
  ]);
  return table(['server', 'keep-alive bytes', 'keep-alive header fields', 'close bytes', 'close header fields'], rows);
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function renderMarkdown(results, { jsonPath }) {
  const summary = summarise(results);
  const k = results.knobs;
  const baseline = labelOf(results, results.baselineId);
  const smoke = isSmokeRun(k);
  const envLine = `ROUNDS=${k.rounds} DURATION=${k.durationS} WARMUP=${k.warmupS} PAUSE=${k.pauseS}${k.connections !== 64 ? ` CONNECTIONS=${k.connections}` : ''}`;
  const keyRatios = summary
    .filter((s) => s.server !== results.baselineId && s.vsBaseline)
    .map((s) => `- ${results.modes.find((m) => m.id === s.mode).label}, ${labelOf(results, s.server)}: ${times(s.vsBaseline.throughput)} the throughput, ${times(s.vsBaseline.requestsPerServerCpuS)} the requests per server CPU-second (${fixed(s.serverCpuUsPerRequestMedian)} vs ${fixed(summary.find((b) => b.mode === s.mode && b.server === results.baselineId)?.serverCpuUsPerRequestMedian)} us per request).`);
  const anyWorkerChange = results.runs.some((r) => r.workersChanged);
  const clientBound = summary
    .filter((s) => s.loadgenCoresMedian >= 0.9)
    .map((s) => `${labelOf(results, s.server)}, ${results.modes.find((m) => m.id === s.mode).label} (${fixed(s.loadgenCoresMedian, 2)})`);
  const anyErrors = results.runs.some((r) => r.errors > 0 || r.non2xx > 0);

  return `# Benchmarks

<!-- Generated by \`node bench/run.js --write-docs\` from ${jsonPath}. Edit bench/lib/report.js, not this file. -->

Measured ${results.startedAt} (machine clock). tsgi against plain node:http behind node:cluster, all with
${results.workers} workers, all answering \`GET /\` with the 13-byte \`Hello, World!\` as text/plain.
${
  smoke
    ? `
> **Smoke run (${plural(k.rounds, 'round')} of ${k.durationS} s, ${k.warmupS} s warm-up): these numbers only show that the
> harness works. Run \`${`ROUNDS=${FULL_RUN.rounds} DURATION=${FULL_RUN.durationS} WARMUP=${FULL_RUN.warmupS}`} npm run bench -- --write-docs\` on a quiet machine for figures to quote.**
`
    : ''
}
**The load generator runs on the same ${results.machine.nproc} cores as the server.** Every req/s figure below is
"server plus autocannon on ${results.machine.nproc} cores", so a server that leaves more CPU to the load generator
looks faster. Server CPU time per request (and its inverse, requests per server CPU-second) is the
figure least affected by that, and the fairer one to compare.

## Key ratios (against ${baseline}, same mode, same run)

${keyRatios.join('\n')}

## Machine

${machineSection(results.machine)}

## Method

- Each server is started once and stays up for the whole bench; the idle ones cost
  ${fixed(Math.max(...results.runs.map((r) => r.machine.neighbourServersCpuS)), 2)} CPU-s per run at most.
- ${k.warmupS > 0 ? `Each (server, mode) pair gets a ${k.warmupS} s warm-up run (discarded).` : 'No warm-up runs.'} Then ${plural(k.rounds, 'round')}; each round runs every
  pair once, in a fixed interleaved order (${results.modes.map((m) => `${m.label}: ${m.servers.map((id) => labelOf(results, id)).join(', ')}`).join('; then ')}), with ${k.pauseS} s idle between runs.
  Slow drift of the machine (neighbours, thermal, page cache) then hits every server alike. Tables show
  medians over the rounds.
- Load: autocannon ${results.machine.autocannon} through its programmatic API, ${k.connections} connections, pipelining 1,
  ${k.durationS} s per run, in one long-lived child process (\`bench/lib/load-child.js\`) so its CPU can be
  measured apart from the bench's bookkeeping. req/s = responses / autocannon's measured duration.
- Server CPU = utime + stime from \`/proc/PID/stat\` (CLK_TCK ${results.machine.clkTck}) of the master and every worker, read
  right before and right after each run; divided by the responses autocannon counted. Load-generator CPU
  is \`process.cpuUsage()\` of the child over the run. "Other cores" is the whole machine's busy time from
  \`/proc/stat\` minus both: softirq time charged to no process, the bench itself, neighbours.
- Connection: close: every request carries \`Connection: close\` and goes on a new connection (see the
  caveat on autocannon below). "New connections per request sent" is the kernel's TCP PassiveOpens counter
  (\`/proc/net/snmp\`) over the run divided by the requests autocannon wrote: ${k.connections} / requests with
  keep-alive, 1.0 when every request had its own connection.
- Latency is autocannon's, in whole milliseconds, closed loop: p50/p99 of one ${k.durationS} s run, median over rounds.

## Commands

\`\`\`
npx tsc -p tsconfig.json
${envLine} node bench/run.js --write-docs
\`\`\`

Servers, as started by the bench (cwd = repository root; port 0 = ephemeral, the bench reads the port
from the "Listening at" log line; TSGI_*, PORT, WEB_CONCURRENCY, NODE_OPTIONS and NODE_CLUSTER_SCHED_POLICY
are removed from their environment):

\`\`\`
${results.servers.map((s) => `# ${s.label}\n${commandOf(s)}`).join('\n')}
\`\`\`

Load, per run (\`bench/lib/load-child.js\`):

\`\`\`
autocannon({ url, connections: ${k.connections}, pipelining: 1, duration: ${k.durationS}, timeout: ${k.timeoutS} })                      // keep-alive
autocannon({ ..., headers: { connection: 'close' }, setupClient: oneRequestPerConnection })   // Connection: close
\`\`\`

## Results

### Keep-alive

${resultsTable(results, summary, results.modes[0])}

### Connection: close (a new connection per request)

${resultsTable(results, summary, results.modes[1])}

"x" columns: ratio to ${baseline} in the same mode. Errors are autocannon's socket errors plus timeouts,
summed over the rounds.${anyErrors ? ' **Some runs had errors or non-2xx responses; see the JSON.**' : ''}${anyWorkerChange ? ' **A worker was replaced during at least one run; see `workersChanged` in the JSON.**' : ''}

### Ratios against ${baseline}

${ratioTable(results, summary)}

The ratio columns divide medians; "per-round range" is the same ratio taken within each round (the two
runs minutes apart, or less), lowest to highest.

### Where the CPU went (medians)

${cpuTable(results, summary)}

### Per-round values

${perRunTable(results)}

### Responses

${responsesTable(results)}

Each is one \`GET /\` answered before the load started (without, then with \`Connection: close\` in the
request). The "bytes per response" column further up is what autocannon received under load.

## Caveats

- **Shared cores.** autocannon used ${spanOf(range(summary.map((s) => s.loadgenCoresMedian)), (v) => fixed(v, 2))} cores (medians per row). With ${results.machine.nproc} cores in
  total, req/s is a property of server plus client; compare server CPU per request first.
  autocannon is one JavaScript thread, so near 1.0 load-gen cores it cannot send faster: those rows'
  req/s is bounded by the client, not the server.${clientBound.length > 0 ? ` Rows at 0.9 or more here: ${clientBound.join('; ')}.` : ''}
- **autocannon and Connection: close.** autocannon ${results.machine.autocannon} has no working one-request-per-connection
  mode. With only the header, each client writes its next request on the closing socket; that request is
  lost, its entry stays in autocannon's queue, and every later latency is measured from an ever older start
  (p99 near a second against a server answering in milliseconds); half the requests written are wasted. With
  \`reconnectRate: 1\` it reconnects per request but never counts a response. The bench therefore sends the
  header and installs a \`setupClient\` hook (\`bench/lib/one-request-per-connection.js\`) that writes a request
  only on an unused connection and clears the stale queue when autocannon reconnects (it reconnects when the
  server closes). The connections-per-request column checks the result from the kernel's side.
- **Kernel counter scope.** PassiveOpens counts every TCP connection accepted in this network namespace, so
  anything else on the machine opening connections during a run shows up as a little over 1.0 (or over 0).
- **Accept model.** tsgi's master binds the socket and hands it to the workers, which accept on it
  themselves, as node:cluster does with SCHED_NONE. Node's default (RR) makes the primary accept every
  connection and pass it to a worker, which costs a lot with Connection: close; the SCHED_NONE row shows how
  much of a difference is just that.
- **Response size.** The servers do not send identical headers (Responses table); fewer bytes is a real
  saving but also part of each difference.
- Latency is closed-loop (${k.connections} clients each waiting for the previous response), 1 ms resolution.
`;
}
