// The -w sinks that are more than one file written front to back: rotation
// (-C/-W/-G, src/output/rotation.ts) and --write-file-rotate N
// (src/output/keep-last.ts), in the session's PacketSink shape. openSinks
// (sinks.ts) picks one of these when the options ask for it.
import { UserError } from '../errors';
import type { CaptureInterface } from '../output/packet';
import { KeepLastWriter } from '../output/keep-last';
import { RotatingFileWriter, type RotationOptions } from '../output/rotation';
import type { FileFormat } from '../output/file-writer';
import type { PacketSink, SinkOptions } from './sinks';

function formatOf(opts: SinkOptions, format: 'pcap' | 'pcapng', interfaces: CaptureInterface[]): FileFormat {
  return { format, interfaces, nanosecond: opts.nanosecond, comment: opts.commandLine };
}

/** True when -C, -G or --write-file-rotate was given. */
export function wantsSpecialFileSink(opts: SinkOptions): boolean {
  return opts.keepLast !== undefined || hasRotation(opts.rotation);
}

function hasRotation(r: RotationOptions | undefined): r is RotationOptions {
  return r !== undefined && (r.maxBytes !== undefined || r.seconds !== undefined);
}

/** A rotating or keep-last file sink for -w; `format` is the file format already chosen. */
export function specialFileSink(opts: SinkOptions, format: 'pcap' | 'pcapng', interfaces: CaptureInterface[]): PacketSink {
  const file = opts.writeFile!;
  if (file === '-') {
    throw new UserError(`${opts.keepLast !== undefined ? '--write-file-rotate' : '-C/-G'} needs a file name, not -w - (stdout)`, 'give -w a file name, e.g. -w out.pcap');
  }
  if (opts.keepLast !== undefined) {
    const w = new KeepLastWriter(file, opts.keepLast, formatOf(opts, format, interfaces));
    return {
      write: (pkt) => {
        w.add(pkt);
        return Promise.resolve();
      },
      // Nothing is on disk until the end: -U has nothing to flush.
      flush: () => Promise.resolve(),
      close: (stats) => w.close(stats),
    };
  }
  const w = new RotatingFileWriter(file, opts.rotation!, formatOf(opts, format, interfaces));
  return {
    write: (pkt) => w.writePacket(pkt),
    flush: () => w.flush(),
    close: (stats) => w.close(stats),
    ended: new Promise<string>((resolve) => w.whenFinished(() => resolve('file-limit'))),
  };
}
