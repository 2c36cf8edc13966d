// netcap as a library: open a capture of any mode, give it outputs, start
// it, watch its counters, change its filter or snap length while it runs,
// stop it. Several captures can run in one process; nothing here installs
// signal handlers or prints (that is the command line's job, cmd/).
//
//   import { openCapture, openOutputs } from 'netcap';
//   const capture = openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb', iface: 'v1', filter: 'udp' });
//   for (const sink of openOutputs({ writeFile: 'udp.pcapng' }, capture.interfaces)) capture.addOutput(sink);
//   await capture.start();
//   await capture.setFilter('udp port 53');
//   console.log(capture.stats());
//   const result = await capture.stop();
import { Capture, type CaptureOptions } from './capture/capture';
import { DEFAULT_RING_BYTES } from './capture/maps';
import { modePreparer, type ModeSpec } from './modes';
import { DEFAULT_SNAPLEN } from './limits';
import { requireCaptureCapabilities } from './proc/capabilities';

export type CaptureSpec = ModeSpec & Partial<Omit<CaptureOptions, 'expression'>> & {
  /** The tcpdump filter expression ('' or absent: every packet). */
  filter?: string;
};

/** Prepares a capture (points resolved, programs loaded and verified, nothing attached); UserError on bad input, nothing left open. */
export function openCapture(spec: CaptureSpec): Capture {
  requireCaptureCapabilities();
  return new Capture(modePreparer(spec), {
    expression: (spec.filter ?? '').trim(),
    snaplen: spec.snaplen ?? DEFAULT_SNAPLEN,
    ringBytes: spec.ringBytes ?? DEFAULT_RING_BYTES,
    count: spec.count,
    flushEachBatch: spec.flushEachBatch,
    immediate: spec.immediate,
    interfaceSnaplen: spec.interfaceSnaplen,
    direction: spec.direction,
  });
}

export { DEFAULT_SNAPLEN, MAX_SNAPLEN } from './limits';
export { Capture, type CaptureOptions, type CaptureResult, type CaptureState } from './capture/capture';
export type { JudgeSettings, PreparedMode, ModePoint } from './capture/mode';
export { parseDirection, type CaptureDirection } from './capture/direction';
export type { PointStats } from './capture/stats';
export type { ModeSpec, ModeName } from './modes';
export { openOutputs, checkOutputOptions, fileFormat, type OutputOptions, type PacketSink } from './output/outputs';
export type { CapturedPacket, CaptureInterface, CaptureStatistics, PacketMeta, PacketVerdict } from './output/packet';
export { UserError } from './errors';
