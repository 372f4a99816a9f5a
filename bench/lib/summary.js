// Medians per (mode, server) and the ratios against the baseline measured in the same run.
import { median, range, ratio, sum } from './stats.js';

function summariseRuns(runs) {
  const pick = (f) => runs.map(f);
  const rps = pick((r) => r.rps);
  return {
    runs: runs.length,
    rpsMedian: median(rps),
    rpsRange: range(rps),
    p50MsMedian: median(pick((r) => r.latencyMs.p50)),
    p99MsMedian: median(pick((r) => r.latencyMs.p99)),
    p99MsRange: range(pick((r) => r.latencyMs.p99)),
    errors: sum(pick((r) => r.errors)),
    timeouts: sum(pick((r) => r.timeouts)),
    non2xx: sum(pick((r) => r.non2xx)),
    serverCpuUsPerRequestMedian: median(pick((r) => r.serverCpuUsPerRequest)),
    serverCpuUsPerRequestRange: range(pick((r) => r.serverCpuUsPerRequest)),
    requestsPerServerCpuSMedian: median(pick((r) => r.requestsPerServerCpuS)),
    serverCoresMedian: median(pick((r) => r.serverCores)),
    loadgenCoresMedian: median(pick((r) => r.loadgen.cores)),
    loadgenCpuUsPerRequestMedian: median(pick((r) => (r.requests > 0 ? (r.loadgen.cpuS * 1e6) / r.requests : NaN))),
    masterCpuSMedian: median(pick((r) => r.masterCpuS)),
    machineBusyCoresMedian: median(pick((r) => r.machine.busyCores)),
    otherCoresMedian: median(pick((r) => r.machine.otherCores)),
    connectionsPerRequestMedian: median(pick((r) => r.tcp.connectionsPerRequest)),
    connectionsPerRequestRange: range(pick((r) => r.tcp.connectionsPerRequest)),
    bytesPerResponseMedian: median(pick((r) => r.bytesPerResponse)),
    runsWithWorkerChange: runs.filter((r) => r.workersChanged).length,
  };
}

/**
 * Ratios are medians of one server against the baseline's medians. Because rounds interleave the
 * servers, each round also gives a paired ratio (same minute, same machine state); their range
 * shows how steady the comparison is.
 */
function ratiosAgainst(mine, baseline, myRuns, baselineRuns) {
  const paired = (f) => {
    const values = [];
    for (const run of myRuns) {
      const partner = baselineRuns.find((b) => b.round === run.round);
      if (partner) values.push(ratio(f(run), f(partner)));
    }
    return values.filter((v) => v !== null);
  };
  const pairedThroughput = paired((r) => r.rps);
  const pairedEfficiency = paired((r) => r.requestsPerServerCpuS);
  return {
    throughput: ratio(mine.rpsMedian, baseline.rpsMedian),
    throughputPairedRange: range(pairedThroughput),
    requestsPerServerCpuS: ratio(mine.requestsPerServerCpuSMedian, baseline.requestsPerServerCpuSMedian),
    requestsPerServerCpuSPairedRange: range(pairedEfficiency),
  };
}

export function summarise(results) {
  const out = [];
  for (const mode of results.modes) {
    const runsOf = (serverId) => results.runs.filter((r) => r.mode === mode.id && r.server === serverId);
    const baselineRuns = runsOf(results.baselineId);
    const baseline = baselineRuns.length > 0 ? summariseRuns(baselineRuns) : null;
    for (const serverId of mode.servers) {
      const runs = runsOf(serverId);
      if (runs.length === 0) continue;
      const stats = summariseRuns(runs);
      out.push({
        mode: mode.id,
        server: serverId,
        ...stats,
        vsBaseline: baseline ? ratiosAgainst(stats, baseline, runs, baselineRuns) : null,
      });
    }
  }
  return out;
}
