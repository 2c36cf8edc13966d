// The capture modes by name, each loaded only when a capture uses it (a
// mode's module brings its probe builders and the facts it reads: the mbuf
// mode should not pay for the skb mode's BTF readers at start-up).
import type { ModeContext, PrepareMode, PreparedMode } from '../capture/mode';
import type { MbufOptions } from './mbuf';
import type { RawOptions } from './raw';
import type { SkbOptions } from './skb';
import type { XdpOptions } from './xdp';
import type { IfaceOptions } from './iface';

export type ModeSpec = ({ mode: 'mbuf' } & MbufOptions) | ({ mode: 'raw' } & RawOptions) | ({ mode: 'skb' } & SkbOptions) | ({ mode: 'xdp' } & XdpOptions) | ({ mode: 'iface' } & IfaceOptions);
export type ModeName = ModeSpec['mode'];

/* eslint-disable @typescript-eslint/no-require-imports */
/** The mode's preparation for these options, to hand to the Capture. */
export function modePreparer(spec: ModeSpec): PrepareMode {
  switch (spec.mode) {
    case 'mbuf':
      return (ctx: ModeContext): PreparedMode => (require('./mbuf') as typeof import('./mbuf')).prepareMbufMode(spec, ctx);
    case 'raw':
      return (ctx: ModeContext): PreparedMode => (require('./raw') as typeof import('./raw')).prepareRawMode(spec, ctx);
    case 'skb':
      return (ctx: ModeContext): PreparedMode => (require('./skb') as typeof import('./skb')).prepareSkbMode(spec, ctx);
    case 'xdp':
      return (ctx: ModeContext): PreparedMode => (require('./xdp') as typeof import('./xdp')).prepareXdpMode(spec, ctx);
    case 'iface':
      return (ctx: ModeContext): PreparedMode => (require('./iface') as typeof import('./iface')).prepareIfaceMode(spec, ctx);
  }
}
/* eslint-enable @typescript-eslint/no-require-imports */
