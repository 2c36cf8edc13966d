// Where a DPDK process keeps its ports, as FACTS per release range (64-bit
// builds). Each range was checked by compiling the structs from DPDK's own
// headers at every release tag (v16.04 .. v26.07) with gcc and printing
// offsetof()/sizeof() (dev_started is a bit-field: the byte and bit that
// setting it changes), once with RTE_MAX_QUEUES_PER_PORT = 1024 (the
// default of every release) and once with 2048 to see which offsets move
// with it. test/dpdk/ethdev-layout.test.ts repeats the check against the
// installed headers.
//
//  * struct rte_eth_fp_ops (lib/ethdev/rte_ethdev_core.h), exported as
//    rte_eth_fp_ops[RTE_MAX_ETHPORTS] since 21.11: what the inline
//    rte_eth_rx_burst()/rte_eth_tx_burst() call. 128 bytes in every release;
//    21.11-23.07: rx_pkt_burst 0, rxq.data 24, tx_pkt_burst 64, txq.data 88;
//    23.11 put the queue data first: rxq.data 0, rx_pkt_burst 16, txq.data
//    64, tx_pkt_burst 80.
//  * struct rte_eth_dev, the entries of rte_eth_devices[RTE_MAX_ETHPORTS]
//    (every release): rx_pkt_burst at 0 and tx_pkt_burst at 8 always. Before
//    21.11 the inline burst calls used these; from 21.11 they are where the
//    PMD puts its functions and rte_eth_dev_start() copies them into
//    rte_eth_fp_ops. Its per-queue callback arrays make its size and the
//    offset of `state` grow by 16 bytes per RTE_MAX_QUEUES_PER_PORT.
//    16.04-17.02 have `uint8_t attached` instead of `enum state` and no
//    `device` pointer.
//  * struct rte_eth_dev_data (the shared port data, data->name is the port's
//    name): every field read here lies before the per-queue arrays, so none
//    moves with RTE_MAX_QUEUES_PER_PORT.
//  * struct rte_device / struct rte_driver: the driver's name
//    (rte_eth_dev.device->driver->name, what rte_eth_dev_info_get() reports).
import { UserError } from '../errors';
import { parseDpdkVersion } from './mbuf-layout';

export interface Field {
  offset: number;
  size: number;
}

/** struct rte_eth_fp_ops (21.11+). */
export interface FpOpsLayout {
  size: number;
  rxPktBurst: number;
  /** rxq.data: the array of queue pointers the rx burst function gets as its first argument. */
  rxqData: number;
  txPktBurst: number;
  txqData: number;
}

/** struct rte_eth_dev, at the default RTE_MAX_QUEUES_PER_PORT (1024); see ethDevStride(). */
export interface EthDevLayout {
  rxPktBurst: number;
  txPktBurst: number;
  data: number;
  /** struct rte_device *device (17.05+). */
  device?: number;
  /** `enum rte_eth_dev_state state` (17.05+; UNUSED = 0) or `uint8_t attached` (before), at 1024 queues per port. */
  state: Field & { kind: 'state' | 'attached' };
  /** sizeof(struct rte_eth_dev) at 1024 queues per port. */
  size: number;
}

/** struct rte_eth_dev_data. */
export interface EthDevDataLayout {
  name: Field;
  rxQueues: number;
  txQueues: number;
  nbRxQueues: number;
  nbTxQueues: number;
  portId: Field;
  /** The dev_started bit-field: its byte and the bit's mask. */
  devStarted: { byte: number; mask: number };
}

/** struct rte_device and struct rte_driver (17.05+). */
export interface DeviceLayout {
  name: number;
  driver: number;
  driverName: number;
}

export interface EthdevLayout {
  /** First release of the range ('22.11'). */
  since: string;
  release: string;
  /** Absent before 21.11: the burst pointers are then read from rte_eth_devices[]. */
  fpOps?: FpOpsLayout;
  dev: EthDevLayout;
  data: EthDevDataLayout;
  device?: DeviceLayout;
}

/** RTE_MAX_QUEUES_PER_PORT of the layouts above, and what each queue of it adds to struct rte_eth_dev (two callback pointers). */
export const DEFAULT_QUEUES_PER_PORT = 1024;
export const ETH_DEV_BYTES_PER_QUEUE = 16;

type Range = Omit<EthdevLayout, 'release'>;

const fp = (rxPktBurst: number, rxqData: number, txPktBurst: number, txqData: number): FpOpsLayout => ({ size: 128, rxPktBurst, rxqData, txPktBurst, txqData });
const FP_21_11 = fp(0, 24, 64, 88);
const FP_23_11 = fp(16, 0, 80, 64);

const dev = (data: number, device: number | undefined, state: number, size: number, kind: 'state' | 'attached' = 'state'): EthDevLayout => ({
  rxPktBurst: 0,
  txPktBurst: 8,
  data,
  ...(device !== undefined ? { device } : {}),
  state: { offset: state, size: kind === 'state' ? 4 : 1, kind },
  size,
});

const data = (nameSize: number, portId: number, portIdSize: number): EthDevDataLayout => {
  const q = nameSize; // the queue arrays follow the name
  return { name: { offset: 0, size: nameSize }, rxQueues: q, txQueues: q + 8, nbRxQueues: q + 16, nbTxQueues: q + 18, portId: { offset: portId, size: portIdSize }, devStarted: { byte: portId + portIdSize, mask: 8 } };
};

const DEVICE_17_05: DeviceLayout = { name: 16, driver: 24, driverName: 16 };
const DEVICE_22_11: DeviceLayout = { name: 16, driver: 32, driverName: 16 };

/** Ranges, oldest first; each holds until the next one's release. */
const RANGES: Range[] = [
  { since: '16.04', dev: dev(16, undefined, 16448, 16456, 'attached'), data: data(32, 4008, 1) },
  { since: '16.07', dev: dev(16, undefined, 16448, 16512, 'attached'), data: data(32, 4080, 1) },
  { since: '17.02', dev: dev(24, undefined, 16464, 16512, 'attached'), data: data(32, 4080, 1) },
  { since: '17.05', dev: dev(24, 40, 16456, 16512), data: data(32, 4080, 1), device: DEVICE_17_05 },
  { since: '17.11', dev: dev(24, 40, 16456, 16512), data: data(64, 4152, 2), device: DEVICE_17_05 },
  { since: '18.05', dev: dev(24, 40, 16456, 16512), data: data(64, 4176, 2), device: DEVICE_17_05 },
  { since: '18.08', dev: dev(24, 40, 16456, 16512), data: data(64, 4168, 2), device: DEVICE_17_05 },
  { since: '18.11', dev: dev(24, 48, 16464, 16512), data: data(64, 4168, 2), device: DEVICE_17_05 },
  { since: '19.11', dev: dev(24, 48, 16464, 16576), data: data(64, 4248, 2), device: DEVICE_17_05 },
  { since: '20.11', dev: dev(56, 80, 16496, 16576), data: data(64, 4248, 2), device: DEVICE_17_05 },
  { since: '21.11', fpOps: FP_21_11, dev: dev(48, 72, 16488, 16512), data: data(64, 4248, 2), device: DEVICE_17_05 },
  { since: '22.11', fpOps: FP_21_11, dev: dev(48, 72, 16488, 16512), data: data(64, 3440, 2), device: DEVICE_22_11 },
  { since: '23.11', fpOps: FP_23_11, dev: dev(64, 88, 16504, 16576), data: data(64, 3448, 2), device: DEVICE_22_11 },
  { since: '24.03', fpOps: FP_23_11, dev: dev(72, 104, 16520, 16576), data: data(64, 3448, 2), device: DEVICE_22_11 },
];

/** The newest release whose headers were checked: later ones are refused unless --dpdk-version says otherwise. */
export const NEWEST_CHECKED = '26.07';

const num = (r: string): number => {
  const [y, m] = r.split('.').map(Number);
  return y * 100 + m;
};

/** The ethdev layout of a 64-bit DPDK release ('22.11'); UserError for releases outside the checked ones. */
export function ethdevLayout(release: string): EthdevLayout {
  const r = parseDpdkVersion(release);
  const n = num(r);
  if (n < num(RANGES[0].since)) {
    throw new UserError(`DPDK ${r} is older than netcap's port tables (the oldest is ${RANGES[0].since}'s)`, 'probe the PMD functions with func@N points instead, or pass --dpdk-version with the closest known release if you know the layout matches');
  }
  if (n > num(NEWEST_CHECKED)) {
    throw new UserError(`DPDK ${r} is newer than netcap's port tables (checked up to ${NEWEST_CHECKED})`, `pass --dpdk-version ${NEWEST_CHECKED} if its rte_ethdev_core.h and ethdev_driver.h did not change`);
  }
  const range = [...RANGES].reverse().find((x) => num(x.since) <= n)!;
  return { ...range, release: r };
}

/** sizeof(struct rte_eth_dev) for a build with `queuesPerPort` queues per port (RTE_MAX_QUEUES_PER_PORT, a multiple of 4). */
export function ethDevStride(l: EthDevLayout, queuesPerPort: number): number {
  return l.size + ETH_DEV_BYTES_PER_QUEUE * (queuesPerPort - DEFAULT_QUEUES_PER_PORT);
}

/** Offset of rte_eth_dev.state (or .attached) for a build with `queuesPerPort` queues per port. */
export function ethDevStateOffset(l: EthDevLayout, queuesPerPort: number): number {
  return l.state.offset + ETH_DEV_BYTES_PER_QUEUE * (queuesPerPort - DEFAULT_QUEUES_PER_PORT);
}
