// One measured run: a snapshot of the server's processes and the kernel counters right before
// the load starts and right after it ends, and the figures derived from the two.
import { CLK_TCK, readMachineTicks, readPidStat, readTcpCounters, readTimeWait } from './procfs.js';

function processTicks(server) {
  const { master, workers } = server.processes();
  const ticks = {};
  for (const pid of [master, ...workers]) {
    const stat = readPidStat(pid);
    if (stat !== null) ticks[pid] = stat.cpuTicks;
  }
  return { master, workers, ticks };
}

function totalTicks(servers) {
  let total = 0;
  for (const server of servers) for (const ticks of Object.values(processTicks(server).ticks)) total += ticks;
  return total;
}

export function snapshot(server, neighbours) {
  return {
    hr: process.hrtime.bigint(),
    server: processTicks(server),
    neighbourTicks: totalTicks(neighbours),
    tcp: readTcpCounters(),
    timeWait: readTimeWait(),
    machine: readMachineTicks(),
  };
}

const round = (value, digits) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null);

/**
 * Server CPU is utime+stime of the master and every worker, after minus before. A worker that
 * appeared during the run (a restart) is charged all its CPU; one that vanished cannot be charged
 * its last moments, so the run is flagged.
 */
export function deriveRun({ before, after, load, nproc }) {
  const { result } = load;
  const wallS = Number(after.hr - before.hr) / 1e9;
  const pidsBefore = Object.keys(before.server.ticks);
  const pidsAfter = Object.keys(after.server.ticks);
  const perPid = {};
  for (const pid of pidsAfter) perPid[pid] = (after.server.ticks[pid] - (before.server.ticks[pid] ?? 0)) / CLK_TCK;
  const masterCpuS = perPid[after.server.master] ?? 0;
  const serverCpuS = Object.values(perPid).reduce((a, b) => a + b, 0);
  const workersChanged = pidsBefore.join(',') !== pidsAfter.join(',');

  const machineTotal = after.machine.total - before.machine.total;
  const machineBusyCores = machineTotal > 0 ? ((machineTotal - (after.machine.idle - before.machine.idle)) / machineTotal) * nproc : null;
  const stealCores = machineTotal > 0 ? ((after.machine.steal - before.machine.steal) / machineTotal) * nproc : null;
  const serverCores = serverCpuS / wallS;
  const loadgenCores = load.cpuS / load.wallS;
  const passiveOpens = after.tcp.passiveOpens - before.tcp.passiveOpens;
  const requests = result.requests;

  return {
    requests,
    sent: result.sent,
    durationS: result.durationS,
    wallS: round(wallS, 3),
    rps: round(requests / result.durationS, 1),
    latencyMs: result.latencyMs,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
    bytesPerResponse: requests > 0 ? round(result.bytes / requests, 1) : null,
    serverCpuS: round(serverCpuS, 3),
    masterCpuS: round(masterCpuS, 3),
    perPidCpuS: Object.fromEntries(Object.entries(perPid).map(([pid, s]) => [pid, round(s, 3)])),
    workersChanged,
    serverCpuUsPerRequest: requests > 0 ? round((serverCpuS * 1e6) / requests, 2) : null,
    requestsPerServerCpuS: serverCpuS > 0 ? round(requests / serverCpuS, 0) : null,
    serverCores: round(serverCores, 3),
    loadgen: { cpuS: round(load.cpuS, 3), userS: round(load.cpuUserS, 3), systemS: round(load.cpuSystemS, 3), cores: round(loadgenCores, 3) },
    machine: {
      busyCores: round(machineBusyCores, 3),
      stealCores: round(stealCores, 3),
      // CPU the machine spent that neither the server's processes nor the load generator were
      // charged: softirq work charged elsewhere, the bench itself, idle neighbours, other users.
      otherCores: round(machineBusyCores - serverCores - loadgenCores, 3),
      neighbourServersCpuS: round((after.neighbourTicks - before.neighbourTicks) / CLK_TCK, 3),
    },
    tcp: {
      passiveOpens,
      activeOpens: after.tcp.activeOpens - before.tcp.activeOpens,
      estabResets: after.tcp.estabResets - before.tcp.estabResets,
      // Per request written, not per response: requests still in flight when the run stops had
      // their connection opened too. 1.0 means one connection per request.
      connectionsPerRequest: result.sent > 0 ? round(passiveOpens / result.sent, 4) : null,
      timeWaitBefore: before.timeWait,
    },
  };
}
