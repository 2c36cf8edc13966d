// `port:ID|NAME[:rx|tx][/qN]` in mbuf mode's -f list: the packets a DPDK
// port receives (rx: what its rx burst function returned) or is handed to
// send (tx: what its tx burst function was given), on every queue or on
// queue N. Without :rx/:tx, -Q (in, out, inout) says which. The port is a
// number (its port id) or its ethdev name ('net_af_packet0', a PCI address
// such as 0000:03:00.0: names may hold colons, so the direction and the
// queue are taken from the end).
import { UserError } from '../errors';

export type PortDirection = 'rx' | 'tx';

export interface PortPoint {
  kind: 'dpdk-port';
  /** The point as the user wrote it. */
  text: string;
  /** Port id, or the port's name. */
  port: number | string;
  /** Undefined: the direction(s) -Q gives. */
  direction?: PortDirection;
  /** Undefined: every queue. */
  queue?: number;
}

export const PORT_POINT_FORM = 'port:ID|NAME[:rx|tx][/qN] (packets a DPDK port received or was handed to send, on every queue or queue N)';

/** Is this -f item a port point (mbuf mode)? Function points always carry an @. */
export function isPortPointText(text: string): boolean {
  return text.startsWith('port:') && !text.includes('@');
}

function bad(text: string, what: string, hint = `write ${PORT_POINT_FORM}, e.g. port:0:rx, port:1:tx/q0 or port:net_af_packet0`): UserError {
  return new UserError(`bad point '${text}' in -f: ${what}`, hint);
}

export function parsePortPoint(text: string): PortPoint {
  let rest = text.slice('port:'.length);
  let queue: number | undefined;
  const q = /\/q(\d*)$/.exec(rest);
  if (q) {
    if (q[1] === '') throw bad(text, 'no queue number after /q');
    queue = Number(q[1]);
    if (!Number.isSafeInteger(queue) || queue > 65535) throw bad(text, `queue ${q[1]} is out of range (queue ids are 16-bit)`);
    rest = rest.slice(0, q.index);
  } else if (rest.includes('/')) {
    throw bad(text, `'${rest.slice(rest.indexOf('/'))}' is not a queue (write /qN)`);
  }
  let direction: PortDirection | undefined;
  const d = /:(rx|tx)$/.exec(rest);
  if (d) {
    direction = d[1] as PortDirection;
    rest = rest.slice(0, d.index);
  } else if (/:(in|out|inout|both)$/.test(rest)) {
    throw bad(text, `'${rest.slice(rest.lastIndexOf(':') + 1)}' is not a direction of a port point`, 'write :rx or :tx after the port, or leave it out and give -Q in|out|inout');
  }
  if (rest === '') throw bad(text, 'no port given');
  const port = /^\d+$/.test(rest) ? Number(rest) : rest;
  if (typeof port === 'number' && port > 65535) throw bad(text, `port ${rest} is out of range (port ids are 16-bit)`);
  return { kind: 'dpdk-port', text, port, ...(direction ? { direction } : {}), ...(queue !== undefined ? { queue } : {}) };
}
