// Readers for the Linux /proc files the benchmark measures with. Every reader is synchronous and
// cheap (a few small files), so a snapshot taken right before and right after a run brackets the
// run tightly.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second, the unit of utime/stime in /proc/PID/stat. */
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

function readOrNull(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Parses /proc/PID/stat. The command name (field 2) may contain spaces and parentheses, so the
 * fields are counted from the last ')'. proc(5): field 3 state, 14 utime, 15 stime, 22 starttime.
 * cutime/cstime (16, 17) are left out on purpose: they hold CPU of children the process has
 * already reaped, which would count a dead worker twice.
 */
export function readPidStat(pid) {
  const text = readOrNull(`/proc/${pid}/stat`);
  if (text === null) return null;
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3, so field N is rest[N - 3].
  return {
    pid,
    state: rest[0],
    ppid: Number(rest[1]),
    cpuTicks: Number(rest[11]) + Number(rest[12]),
    startTime: Number(rest[19]),
  };
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid, startTime) {
  const stat = readPidStat(pid);
  if (stat === null || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.startTime === startTime;
}

/** Direct children of a process (needs CONFIG_PROC_CHILDREN; falls back to scanning /proc). */
export function childPids(pid) {
  const listed = readOrNull(`/proc/${pid}/task/${pid}/children`);
  if (listed !== null) {
    return listed.trim() === '' ? [] : listed.trim().split(/\s+/).map(Number);
  }
  const found = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readPidStat(Number(name));
    if (stat !== null && stat.ppid === pid) found.push(stat.pid);
  }
  return found;
}

/** Kernel-wide TCP counters from /proc/net/snmp (RFC 4022 tcpPassiveOpens / tcpActiveOpens). */
export function readTcpCounters() {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0].trim().split(/\s+/);
  const values = lines[1].trim().split(/\s+/);
  const get = (name) => Number(values[names.indexOf(name)]);
  return { passiveOpens: get('PassiveOpens'), activeOpens: get('ActiveOpens'), estabResets: get('EstabResets') };
}

/** Sockets in TIME_WAIT right now (/proc/net/sockstat "TCP: ... tw N"). */
export function readTimeWait() {
  const match = /^TCP:.*\btw (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'));
  return match ? Number(match[1]) : null;
}

/** Whole-machine CPU ticks from the first line of /proc/stat. */
export function readMachineTicks() {
  const first = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = first.trim().split(/\s+/).slice(1).map(Number);
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { total, idle: idle + iowait, steal, softirq };
}
