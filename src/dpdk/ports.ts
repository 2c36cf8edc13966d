// The ports of a running DPDK process, read from its own tables through
// /proc/PID/mem (read-only: no ptrace, no write, the process does not notice):
//
//  * rte_eth_fp_ops[] (21.11+): per port, the rx/tx burst functions and the
//    queue arrays the inline rte_eth_rx_burst()/rte_eth_tx_burst() use. An
//    entry holds ethdev's dummy functions until rte_eth_dev_start() and again
//    after rte_eth_dev_stop();
//  * rte_eth_devices[]: per port its state (unused or not), the burst
//    functions before 21.11, and the pointer to the shared rte_eth_dev_data
//    (name, queue counts and arrays, started flag) and to the rte_device
//    (driver name).
//
// The tables are found by symbol in whichever mapped object the dynamic
// linker resolves them to: the executable first (a PIE that uses
// rte_eth_fp_ops directly holds a copy of it, an R_X86_64_COPY relocation,
// and every library then uses that copy), then librte_ethdev, then the rest.
// Offsets come from ethdev-layout.ts; RTE_MAX_ETHPORTS and
// RTE_MAX_QUEUES_PER_PORT from the symbols' sizes.
import * as path from 'node:path';
import { UserError } from '../errors';
import { openElf, type ElfFile, type ElfSymbol } from '../elf/elf-file';
import { loadBias } from '../proc/addresses';
import { ProcessMemory } from '../proc/memory';
import { exePath, mappedObjects, type MappedObject } from '../proc/process';
import { DEFAULT_QUEUES_PER_PORT, ETH_DEV_BYTES_PER_QUEUE, ethDevStateOffset, ethDevStride, ethdevLayout, type EthdevLayout } from './ethdev-layout';

export interface DpdkPort {
  id: number;
  /** rte_eth_dev_data.name ('net_af_packet0', a PCI address, ...). */
  name: string;
  /** The driver's name ('net_af_packet'), when the release has rte_eth_dev.device. */
  driver?: string;
  /** rte_eth_dev.state: 'attached', 'deferred' or 'removed'. */
  state: string;
  /** rte_eth_dev_data.dev_started. */
  started: boolean;
  /** Queue pointers by queue id: what the burst function gets as its first argument. */
  rxQueues: bigint[];
  txQueues: bigint[];
  /** The functions the inline burst calls reach now. */
  rxBurst: bigint;
  txBurst: bigint;
  /** The burst functions are ethdev's placeholders (a port not started, 21.11+): nothing to probe. */
  dummy: boolean;
}

export interface EthdevTables {
  release: string;
  layout: EthdevLayout;
  /** The table the burst functions were read from. */
  source: 'rte_eth_fp_ops' | 'rte_eth_devices';
  /** The objects whose copies of the tables the process uses ('rte_eth_fp_ops' only from 21.11). */
  objects: { rte_eth_devices: string; rte_eth_fp_ops?: string };
  maxPorts: number;
  queuesPerPort: number;
  /** Ports that exist (state not UNUSED), by id. */
  ports: DpdkPort[];
}

interface Located {
  address: bigint;
  size: number;
  object: string;
}

const STATE_NAMES = ['unused', 'attached', 'deferred', 'removed'];
/** Bytes read for a driver name (they are short identifiers such as 'net_af_packet'). */
const DRIVER_NAME_MAX = 64;

/** Mapped objects in the dynamic linker's lookup order as far as it matters here: executable, librte_ethdev, the rest. */
function lookupOrder(pid: number): MappedObject[] {
  const objects = mappedObjects(pid);
  const exe = exePath(pid);
  const rank = (o: MappedObject) => (o.path === exe ? 0 : /\/librte_ethdev\.so/.test(o.path) ? 1 : 2);
  return [...objects].sort((a, b) => rank(a) - rank(b));
}

/** Where `name` lives in the process: the first object in lookup order defining it. */
function locate(objects: MappedObject[], elves: Map<string, ElfFile | null>, name: string): Located | undefined {
  for (const o of objects) {
    let elf = elves.get(o.openPath);
    if (elf === undefined) {
      try {
        elf = openElf(o.openPath);
      } catch {
        elf = null; // not ELF
      }
      elves.set(o.openPath, elf);
    }
    if (!elf) continue;
    const sym: ElfSymbol | undefined = elf.findDataObject(name);
    if (!sym) continue;
    const bias = loadBias(o, elf);
    if (bias === undefined) continue;
    return { address: bias + BigInt(sym.vaddr), size: sym.size, object: o.path };
  }
  return undefined;
}

/** RTE_MAX_QUEUES_PER_PORT values tried when no rte_eth_fp_ops gives the port count (the default first). */
const QUEUE_CANDIDATES = [DEFAULT_QUEUES_PER_PORT, 256, 512, 2048, 4096, 128, 64, 32, 16, 8192, 16384, 65536];

/** RTE_MAX_ETHPORTS and RTE_MAX_QUEUES_PER_PORT of the build, from the tables' sizes. */
function buildLimits(layout: EthdevLayout, devices: Located, fpOps: Located | undefined): { maxPorts: number; queuesPerPort: number } | undefined {
  if (fpOps && layout.fpOps) {
    const maxPorts = fpOps.size / layout.fpOps.size;
    const stride = devices.size / maxPorts;
    const queuesPerPort = DEFAULT_QUEUES_PER_PORT + (stride - layout.dev.size) / ETH_DEV_BYTES_PER_QUEUE;
    if (Number.isInteger(maxPorts) && Number.isInteger(queuesPerPort) && queuesPerPort > 0) return { maxPorts, queuesPerPort };
    return undefined;
  }
  for (const queuesPerPort of QUEUE_CANDIDATES) {
    const stride = ethDevStride(layout.dev, queuesPerPort);
    if (devices.size % stride === 0) return { maxPorts: devices.size / stride, queuesPerPort };
  }
  return undefined;
}

export class EthdevReader {
  private constructor(
    readonly pid: number,
    readonly layout: EthdevLayout,
    private readonly memory: ProcessMemory,
    private readonly devices: Located,
    private readonly fpOps: Located | undefined,
    readonly maxPorts: number,
    readonly queuesPerPort: number,
  ) {}

  /**
   * Finds the tables of process `pid` running DPDK `release` ('YY.MM', or its layout); UserError when
   * it has none (not DPDK, or a stripped static build), when the release is
   * outside the known layouts, or when its memory may not be read.
   */
  static open(pid: number, release: string | EthdevLayout): EthdevReader {
    // A layout is given by tests: 22.11's without rte_eth_fp_ops reads a live process the way releases before 21.11 are read.
    const layout = typeof release === 'string' ? ethdevLayout(release) : release;
    const objects = lookupOrder(pid);
    const elves = new Map<string, ElfFile | null>();
    const devices = locate(objects, elves, 'rte_eth_devices');
    const fpOps = layout.fpOps ? locate(objects, elves, 'rte_eth_fp_ops') : undefined;
    if (!devices || (layout.fpOps && !fpOps)) {
      const missing = [!devices && 'rte_eth_devices', layout.fpOps && !fpOps && 'rte_eth_fp_ops'].filter(Boolean).join(' and ');
      throw new UserError(
        `process ${pid} has no ${missing}: looked in ${objects.map((o) => path.basename(o.path)).join(', ') || 'no mapped object'}`,
        'port: points need a DPDK application with ethdev ports, linked to librte_ethdev or statically with its symbols; for a stripped static build probe its functions (func@N) instead',
      );
    }
    const limits = buildLimits(layout, devices, fpOps);
    if (!limits) {
      throw new UserError(
        `the ethdev tables of process ${pid} do not have DPDK ${layout.release}'s sizes (rte_eth_devices is ${devices.size} bytes${fpOps ? `, rte_eth_fp_ops ${fpOps.size}` : ''})`,
        'check the release (--dpdk-version YY.MM); a build with unusual RTE_MAX_QUEUES_PER_PORT or 32-bit pointers is not supported',
      );
    }
    const memory = ProcessMemory.open(pid);
    return new EthdevReader(pid, layout, memory, devices, fpOps, limits.maxPorts, limits.queuesPerPort);
  }

  /** Reads every port now. Throws UnmappedRead or UserError (the process exited) when the memory is gone. */
  read(): EthdevTables {
    const l = this.layout;
    const m = this.memory;
    const stride = BigInt(ethDevStride(l.dev, this.queuesPerPort));
    const stateOffset = BigInt(ethDevStateOffset(l.dev, this.queuesPerPort));
    const fpEntry = (id: number) => this.fpOps!.address + BigInt(id * l.fpOps!.size);
    const ports: DpdkPort[] = [];
    let dummy: { rx: bigint; tx: bigint } | undefined;
    for (let id = 0; id < this.maxPorts; id++) {
      const dev = this.devices.address + BigInt(id) * stride;
      const state = m.unsigned(dev + stateOffset, l.dev.state.size);
      if (state === 0) {
        // An unused entry of rte_eth_fp_ops holds the placeholders a stopped port gets too.
        if (l.fpOps && !dummy) dummy = { rx: m.u64(fpEntry(id) + BigInt(l.fpOps.rxPktBurst)), tx: m.u64(fpEntry(id) + BigInt(l.fpOps.txPktBurst)) };
        continue;
      }
      const data = m.u64(dev + BigInt(l.dev.data));
      const portId = m.unsigned(data + BigInt(l.data.portId.offset), l.data.portId.size);
      if (portId !== id) {
        throw new UserError(
          `the ethdev tables of process ${this.pid} do not match DPDK ${l.release}'s layout (rte_eth_devices[${id}] names port ${portId})`,
          'check the release (--dpdk-version YY.MM)',
        );
      }
      const started = (m.u8(data + BigInt(l.data.devStarted.byte)) & l.data.devStarted.mask) !== 0;
      let rxBurst = m.u64(dev + BigInt(l.dev.rxPktBurst));
      let txBurst = m.u64(dev + BigInt(l.dev.txPktBurst));
      let rxArray = m.u64(data + BigInt(l.data.rxQueues));
      let txArray = m.u64(data + BigInt(l.data.txQueues));
      if (l.fpOps) {
        const fp = fpEntry(id);
        rxBurst = m.u64(fp + BigInt(l.fpOps.rxPktBurst));
        txBurst = m.u64(fp + BigInt(l.fpOps.txPktBurst));
        // What the inline calls index, once the port is started (before, a placeholder array).
        if (started) {
          rxArray = m.u64(fp + BigInt(l.fpOps.rxqData));
          txArray = m.u64(fp + BigInt(l.fpOps.txqData));
        }
      }
      const queues = (array: bigint, count: number): bigint[] => {
        if (array === 0n || count === 0) return [];
        const b = m.read(array, 8 * count);
        return Array.from({ length: count }, (_, q) => b.readBigUInt64LE(8 * q));
      };
      const name = m.cString(data + BigInt(l.data.name.offset), l.data.name.size);
      ports.push({
        id,
        name,
        ...this.driverName(dev),
        state: STATE_NAMES[state] ?? `state ${state}`,
        started,
        rxQueues: queues(rxArray, m.u16(data + BigInt(l.data.nbRxQueues))),
        txQueues: queues(txArray, m.u16(data + BigInt(l.data.nbTxQueues))),
        rxBurst,
        txBurst,
        dummy: false,
      });
    }
    for (const p of ports) p.dummy = l.fpOps !== undefined && (!p.started || (dummy !== undefined && p.rxBurst === dummy.rx && p.txBurst === dummy.tx));
    return {
      release: l.release,
      layout: l,
      source: l.fpOps ? 'rte_eth_fp_ops' : 'rte_eth_devices',
      objects: { rte_eth_devices: this.devices.object, ...(this.fpOps ? { rte_eth_fp_ops: this.fpOps.object } : {}) },
      maxPorts: this.maxPorts,
      queuesPerPort: this.queuesPerPort,
      ports,
    };
  }

  /** rte_eth_dev.device->driver->name, when the release has it and the pointers are set. */
  private driverName(dev: bigint): { driver?: string } {
    const l = this.layout;
    if (l.dev.device === undefined || !l.device) return {};
    const device = this.memory.u64(dev + BigInt(l.dev.device));
    if (device === 0n) return {};
    const driver = this.memory.u64(device + BigInt(l.device.driver));
    if (driver === 0n) return {};
    const name = this.memory.u64(driver + BigInt(l.device.driverName));
    return name === 0n ? {} : { driver: this.memory.cString(name, DRIVER_NAME_MAX) };
  }

  close(): void {
    this.memory.close();
  }
}
