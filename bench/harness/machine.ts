// A description of the machine the figures come from: they mean little
// without it (a 2-core VM and a 32-core server give different absolute
// numbers; the ratios to anchors measured in the same run travel better).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

function firstMatch(text: string, re: RegExp): string | undefined {
  return re.exec(text)?.[1]?.trim();
}

/** The first line a tool prints for its version, or "not installed". */
function toolVersion(argv: string[], pick: RegExp = /^(.*)$/m): string {
  try {
    const out = execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    return firstMatch(out.toString(), pick) ?? 'unknown';
  } catch (e) {
    // tcpdump --version exits 0, but some tools print their version on stderr
    const err = e as { stderr?: Buffer; code?: string };
    if (err.code === 'ENOENT') return 'not installed';
    return firstMatch(err.stderr?.toString() ?? '', pick) ?? 'unknown';
  }
}

function dpkgVersion(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'not installed';
  }
}

export interface MachineDescription {
  cpuModel: string;
  cpus: number;
  cpuMHz: string;
  memoryGiB: number;
  kernel: string;
  os: string;
  virtualization: string;
  tools: Record<string, string>;
}

export function describeMachine(): MachineDescription {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  let osName = 'unknown';
  try {
    osName = firstMatch(fs.readFileSync('/etc/os-release', 'utf8'), /^PRETTY_NAME="?([^"\n]*)"?$/m) ?? osName;
  } catch {
    // not every system has it
  }
  let virtualization = 'none detected';
  if (/^flags\s*:.*\bhypervisor\b/m.test(cpuinfo)) {
    virtualization = 'hypervisor flag set';
    try {
      virtualization += `; systemd-detect-virt: ${execFileSync('systemd-detect-virt', [], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()}`;
    } catch {
      // systemd-detect-virt missing or says none
    }
  }
  return {
    cpuModel: firstMatch(cpuinfo, /^model name\s*:\s*(.*)$/m) ?? os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    cpuMHz: firstMatch(cpuinfo, /^cpu MHz\s*:\s*(.*)$/m) ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    os: osName,
    virtualization,
    tools: {
      node: process.version,
      tcpdump: toolVersion(['tcpdump', '--version']),
      bpftrace: toolVersion(['bpftrace', '--version']),
      dpdk: dpkgVersion('libdpdk-dev'),
      'dpdk-dumpcap': toolVersion(['dpdk-dumpcap', '--version'], /(dpdk-dumpcap.*)$/m),
      libpcap: dpkgVersion('libpcap-dev'),
    },
  };
}

export function machineMarkdown(m: MachineDescription): string {
  return [
    `| | |`,
    `|---|---|`,
    `| CPU | ${m.cpuModel}, ${m.cpus} logical CPUs at ${m.cpuMHz} MHz |`,
    `| memory | ${m.memoryGiB} GiB |`,
    `| kernel | ${m.kernel} |`,
    `| OS | ${m.os} |`,
    `| virtualisation | ${m.virtualization} |`,
    ...Object.entries(m.tools).map(([k, v]) => `| ${k} | ${v} |`),
  ].join('\n');
}
