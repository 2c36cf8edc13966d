// A capture's direction: which of its points judge packets, for modes whose
// points each have one (netcap iface: an interface's ingress and egress
// hooks). tcpdump spells it -Q in|out|inout; Polycube's packetcapture
// capture=ingress|egress|bidirectional|off, where `off` keeps the capture
// (its programs and counters) while it captures nothing. A direction change
// is a run-time change like a filter change (Capture.setDirection): a new
// generation, swapped in atomically.
import { UserError } from '../errors';

export type CaptureDirection = 'in' | 'out' | 'inout' | 'off';
/** The direction of one point's hook. */
export type PointDirection = 'in' | 'out';

const SPELLINGS = new Map<string, CaptureDirection>([
  ['in', 'in'],
  ['out', 'out'],
  ['inout', 'inout'],
  ['off', 'off'],
  ['ingress', 'in'],
  ['egress', 'out'],
  ['bidirectional', 'inout'],
]);

/** tcpdump's or Polycube's spelling (case-insensitive) to a direction; a UserError naming both sets otherwise (`what`: how the caller's user gave it, "-Q"). */
export function parseDirection(text: string, what = 'direction'): CaptureDirection {
  const d = SPELLINGS.get(String(text).trim().toLowerCase());
  if (d) return d;
  throw new UserError(`${what} ${text}: not a direction`, 'give in, out or inout (tcpdump), or ingress, egress or bidirectional (Polycube), or off');
}

/** Whether a point of direction `point` judges packets under `direction` (undefined: every direction). */
export function selectsPoint(direction: CaptureDirection | undefined, point: PointDirection): boolean {
  return direction === undefined || direction === 'inout' || direction === point;
}
