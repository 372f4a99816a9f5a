// What the numbers were measured on, for the report.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { CLK_TCK } from './procfs.js';

function read(path) {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function gitCommit(cwd) {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return null;
  }
}

export function describeMachine(root) {
  const cpuinfo = read('/proc/cpuinfo') ?? '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const memKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(read('/proc/meminfo') ?? '')?.[1] ?? NaN);
  const osRelease = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(read('/etc/os-release') ?? '')?.[1] ?? null;
  const require = createRequire(`${root}/package.json`);
  const versionOf = (name) => {
    try {
      return require(`${name}/package.json`).version;
    } catch {
      return null;
    }
  };
  return {
    nproc: os.availableParallelism(),
    cpuModel: model,
    memTotalGiB: Number.isFinite(memKiB) ? Math.round((memKiB / 1024 / 1024) * 10) / 10 : null,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    os: osRelease,
    clkTck: CLK_TCK,
    autocannon: versionOf('autocannon'),
    tsgi: JSON.parse(readFileSync(`${root}/package.json`, 'utf8')).version,
    gitCommit: gitCommit(root),
    sysctl: {
      ip_local_port_range: read('/proc/sys/net/ipv4/ip_local_port_range')?.replace(/\s+/g, '-') ?? null,
      tcp_tw_reuse: read('/proc/sys/net/ipv4/tcp_tw_reuse'),
      somaxconn: read('/proc/sys/net/core/somaxconn'),
      tcp_max_tw_buckets: read('/proc/sys/net/ipv4/tcp_max_tw_buckets'),
    },
    loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}
