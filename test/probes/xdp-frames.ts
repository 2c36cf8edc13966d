// What the example firewall (examples/xdp-firewall) does to a frame, as a
// reference for the XDP tests: its verdict by destination port, and the
// frame as the hook then sees it (XDP_TX swaps the Ethernet addresses).
import { XdpAction } from '../../src/bpf/constants';

export interface PortRules {
  drop?: number[];
  bounce?: number[];
  abort?: number[];
  redirect?: { port: number }[];
}

/** The verdict the firewall gives `frame` under `rules`. */
export function firewallVerdict(rules: PortRules, frame: Buffer): number {
  if (frame.length < 34 || frame.readUInt16BE(12) !== 0x0800) return XdpAction.PASS;
  const proto = frame[23];
  if (proto !== 6 && proto !== 17) return XdpAction.PASS;
  const l4 = 14 + (frame[14] & 0x0f) * 4;
  if (l4 + 4 > frame.length) return XdpAction.PASS;
  const port = frame.readUInt16BE(l4 + 2);
  if (rules.drop?.includes(port)) return XdpAction.DROP;
  if (rules.bounce?.includes(port)) return XdpAction.TX;
  if (rules.abort?.includes(port)) return XdpAction.ABORTED;
  if (rules.redirect?.some((r) => r.port === port)) return XdpAction.REDIRECT;
  return XdpAction.PASS;
}

/** The frame as the hook sees it after the firewall chose `action`. */
export function asHookSees(frame: Buffer, action: number): Buffer {
  if (action !== XdpAction.TX) return frame;
  const f = Buffer.from(frame);
  frame.copy(f, 0, 6, 12);
  frame.copy(f, 6, 0, 6);
  return f;
}
