// `netcap read`'s loop: every packet of a capture file judged by the filter
// compiled as `tcpdump -r` compiles it, the kept ones handed on. tcpdump -r
// compiles on a savefile handle of the file's link type and snap length with
// a netmask of 0 (tcpdump.c looks the netmask up for live captures only), and
// libpcap generates different code for savefiles than for live captures.
import { UserError } from '../errors';
import { compileCbpf, REJECTS_ALL_MESSAGE, type CbpfProgram } from '../filter/libpcap';
import type { CaptureStream, PacketBatch } from '../output/capture-stream';
import { dltForLinktype } from '../output/linktypes';
import type { CaptureInterface } from '../output/packet';
import { createEngine, type EngineName, type FilterEngine } from './engines';

export interface FilterCaptureOptions {
  /** The tcpdump expression ('' keeps every packet). */
  expression: string;
  engine: EngineName;
  /** Stop after this many kept packets (tcpdump -c). */
  count?: number;
}

export interface FilterCounts {
  read: number;
  kept: number;
}

/** The filter of one interface, compiled once per link type and snap length. */
export function compileForInterface(expression: string, iface: CaptureInterface): CbpfProgram {
  return compileCbpf(expression, { linktype: dltForLinktype(iface.linktype), snaplen: iface.snaplen, handle: 'savefile', netmask: 0 });
}

/**
 * Reads `stream` to its end (or to `count` kept packets), calling `keep`
 * once per batch of the file with the indices of the packets the filter
 * kept (`kept[0..n)`, n > 0; reused: valid during the call). An expression
 * libpcap refuses for an interface's link type is a UserError (before any
 * packet of that interface); one that rejects all packets on every link
 * type of the file is refused with libpcap's message, as tcpdump refuses
 * it, once the file has shown all its interfaces (a pcapng file may
 * describe more later).
 */
export async function filterCapture(stream: CaptureStream, opts: FilterCaptureOptions, keep: (batch: PacketBatch, kept: Uint32Array, n: number) => Promise<void>): Promise<FilterCounts> {
  const capture = stream.info;
  const programs = new Map<string, { prog: CbpfProgram; engine: FilterEngine }>();
  const engineFor = (iface: CaptureInterface): FilterEngine => {
    // libpcap compiles for one link type at a time: a pcapng file mixing
    // Ethernet and raw IP interfaces gets one program per link type.
    const key = `${iface.linktype}/${iface.snaplen}`;
    let entry = programs.get(key);
    if (!entry) {
      const prog = compileForInterface(opts.expression, iface);
      entry = { prog, engine: createEngine(opts.engine, prog) };
      programs.set(key, entry);
    }
    return entry.engine;
  };
  const perInterface: FilterEngine[] = [];
  const counts: FilterCounts = { read: 0, kept: 0 };
  let kept = new Uint32Array(0);
  try {
    // A pcap file's one interface is known now: compile (and report a bad
    // expression) before reading any packet.
    for (const iface of capture.interfaces) perInterface.push(engineFor(iface));
    if (capture.format === 'pcap') refuseIfRejectsAll(programs);
    // A batch at a time, judged from its fields where they lie.
    for await (const batch of stream.batches()) {
      while (perInterface.length < capture.interfaces.length) perInterface.push(engineFor(capture.interfaces[perInterface.length]));
      if (kept.length < batch.count) kept = new Uint32Array(Math.max(batch.count, 2 * kept.length));
      const room = opts.count === undefined ? Infinity : opts.count - counts.kept;
      const { judged, n } = judge(batch, perInterface, kept, room);
      counts.read += judged;
      counts.kept += n;
      if (n > 0) await keep(batch, kept, n);
      if (counts.kept >= (opts.count ?? Infinity)) break;
    }
    while (perInterface.length < capture.interfaces.length) perInterface.push(engineFor(capture.interfaces[perInterface.length]));
    refuseIfRejectsAll(programs);
  } finally {
    for (const { engine } of programs.values()) engine.close();
  }
  return counts;
}

/**
 * The indices of the packets of `batch` the filters keep, into `kept`, up to
 * `room` of them; how many packets were judged (a loop of its own:
 * DEVELOPERS.md, the fast path).
 */
function judge(batch: PacketBatch, perInterface: FilterEngine[], kept: Uint32Array, room: number): { judged: number; n: number } {
  let n = 0;
  let i = 0;
  while (i < batch.count && n < room) {
    if (perInterface[batch.ifIndex(i)].runAt(batch.bytes(i), batch.start(i), batch.caplen(i), batch.wirelen(i)) !== 0) kept[n++] = i;
    i++;
  }
  return { judged: i, n };
}

function refuseIfRejectsAll(programs: Map<string, { prog: CbpfProgram }>): void {
  const progs = [...programs.values()].map((p) => p.prog);
  if (progs.length === 0 || !progs.every((p) => p.rejectsAll)) return;
  throw new UserError(`bad filter expression "${progs[0].expression}": ${REJECTS_ALL_MESSAGE}`, 'libpcap proved that no packet of this file\'s link type can match: check the expression (man 7 pcap-filter)');
}
