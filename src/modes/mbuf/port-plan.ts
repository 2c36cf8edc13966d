// From port points (port:0:rx, port:net_af_packet1, port:0/q1 with -Q) to
// the list of (port, direction, queue) a capture records, each its own
// capture point and pcapng interface ("port0 rx (net_af_packet0)"), checked
// against the ports the process has: a port that does not exist or a queue
// beyond the port's count is refused here, before anything is attached.
import { UserError } from '../../errors';
import type { DpdkPort, EthdevTables } from '../../dpdk/ports';
import type { PortDirection, PortPoint } from '../../targets/port-point';

/** tcpdump's -Q: which directions a port point without :rx/:tx captures. */
export type CaptureDirection = 'in' | 'out' | 'inout';

export interface PortSelection {
  /** The -f item it came from. */
  point: PortPoint;
  portId: number;
  /** The port's name when the capture started. */
  portName: string;
  driver?: string;
  direction: PortDirection;
  /** Undefined: every queue of the port. */
  queue?: number;
  /** Capture point / pcapng interface name: "port0 rx (net_af_packet0)", "port0 rx q1 (net_af_packet0)". */
  name: string;
}

const DIRECTIONS: Record<CaptureDirection, PortDirection[]> = { in: ['rx'], out: ['tx'], inout: ['rx', 'tx'] };

/** "0 (net_af_packet0), 1 (net_af_packet1)" */
export function portListText(ports: DpdkPort[]): string {
  return ports.length ? ports.map((p) => `${p.id} (${p.name})`).join(', ') : 'none';
}

function findPort(point: PortPoint, tables: EthdevTables, pid: number): DpdkPort {
  const port = typeof point.port === 'number' ? tables.ports.find((p) => p.id === point.port) : tables.ports.find((p) => p.name === point.port);
  if (port) return port;
  const what = typeof point.port === 'number' ? `port ${point.port}` : `port named '${point.port}'`;
  throw new UserError(`process ${pid} has no ${what} (in -f '${point.text}')`, `its ports: ${portListText(tables.ports)}; see netcap mbuf --pid ${pid} --list`);
}

/** The selections of every port point, in -f order; UserError for a missing port, a queue beyond the count, a duplicate. */
export function planPorts(points: PortPoint[], tables: EthdevTables, pid: number, direction: CaptureDirection = 'inout'): PortSelection[] {
  const out: PortSelection[] = [];
  for (const point of points) {
    const port = findPort(point, tables, pid);
    for (const dir of point.direction ? [point.direction] : DIRECTIONS[direction]) {
      const count = dir === 'rx' ? port.rxQueues.length : port.txQueues.length;
      // A port not configured yet has no queues: its queue is checked once it has some (port-watch.ts).
      if (point.queue !== undefined && count > 0 && point.queue >= count) {
        throw new UserError(
          `port ${port.id} (${port.name}) has ${count} ${dir} queue${count === 1 ? '' : 's'}: there is no queue ${point.queue} (in -f '${point.text}')`,
          `queues are numbered from 0: give /q0${count > 1 ? ` to /q${count - 1}` : ''}, or leave /qN out for every queue`,
        );
      }
      const q = point.queue === undefined ? '' : ` q${point.queue}`;
      const sel: PortSelection = {
        point,
        portId: port.id,
        portName: port.name,
        ...(port.driver ? { driver: port.driver } : {}),
        direction: dir,
        ...(point.queue !== undefined ? { queue: point.queue } : {}),
        name: `port${port.id} ${dir}${q} (${port.name})`,
      };
      const twice = out.find((s) => s.name === sel.name);
      if (twice) throw new UserError(`${sel.name} is selected twice in -f (by '${twice.point.text}' and '${point.text}')`, 'give each port, direction and queue once');
      out.push(sel);
    }
  }
  return out;
}
