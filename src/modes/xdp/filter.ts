// The filter as every XDP capture program runs it: compiled by libpcap for
// Ethernet (XDP sees frames from the MAC header on); undefined when every
// packet matches.
import type { CbpfInsn } from '../../filter/cbpf';
import { compileCbpf } from '../../filter/libpcap';
import type { JudgeSettings } from '../../capture/mode';

/** UserError with libpcap's message when it refuses the expression. */
export function compileXdpFilter(settings: JudgeSettings): CbpfInsn[] | undefined {
  return settings.expression ? compileCbpf(settings.expression, { linktype: 'EN10MB', snaplen: settings.snaplen }).insns : undefined;
}
