// netcap xdp: the packets of XDP programs with the verdict each got. Two
// ways in: the hook xdpcap defined (--hook: a pinned prog array the program
// tail-calls into with its action; hook-mode.ts), which works on every
// kernel, and, where the kernel allows fentry/fexit on XDP programs, the
// program attached to an interface directly (-i; direct.ts).
import { UserError } from '../../errors';
import type { ModeContext, PreparedMode } from '../../capture/mode';
import { prepareDirectMode, type XdpDirectOptions } from './direct';
import { prepareHookMode, type XdpHookOptions } from './hook-mode';

export interface XdpOptions extends Partial<XdpHookOptions>, Partial<XdpDirectOptions> {}

export function prepareXdpMode(o: XdpOptions, _ctx: ModeContext): PreparedMode {
  const hooks = o.hooks ?? [];
  if (o.iface !== undefined) {
    if (hooks.length > 0) throw new UserError('-i and --hook are two ways to capture: give one', 'a hook (--hook PATH) works on every kernel; -i needs fentry/fexit on XDP programs');
    return prepareDirectMode({ iface: o.iface, at: o.at, listOnly: o.listOnly });
  }
  return prepareHookMode({ hooks, actions: o.actions, force: o.force });
}
