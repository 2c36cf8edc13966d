// `netcap read`'s loop: every packet of a capture file judged by the filter
// compiled as `tcpdump -r` compiles it, the kept ones handed on. tcpdump -r
// compiles on a savefile handle of the file's link type and snap length with
// a netmask of 0 (tcpdump.c looks the netmask up for live captures only), and
// libpcap generates different code for savefiles than for live captures.
import { UserError } from '../errors';
import { compileCbpf, REJECTS_ALL_MESSAGE, type CbpfProgram } from '../filter/libpcap';
import type { CaptureStream } from '../output/capture-stream';
import { dltForLinktype } from '../output/linktypes';
import type { CaptureInterface, CapturedPacket } from '../output/packet';
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
 * Reads `stream` to its end (or to `count` kept packets), calling `keep` for
 * each packet the filter keeps. An expression libpcap refuses for an
 * interface's link type is a UserError (before any packet of that
 * interface); one that rejects all packets on every link type of the file is
 * refused with libpcap's message, as tcpdump refuses it, once the file has
 * shown all its interfaces (a pcapng file may describe more later).
 */
export async function filterCapture(stream: CaptureStream, opts: FilterCaptureOptions, keep: (pkt: CapturedPacket) => Promise<void>): Promise<FilterCounts> {
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
  try {
    // A pcap file's one interface is known now: compile (and report a bad
    // expression) before reading any packet.
    for (const iface of capture.interfaces) perInterface.push(engineFor(iface));
    if (capture.format === 'pcap') refuseIfRejectsAll(programs);
    // A batch at a time, judged from its fields: only kept packets become objects.
    reading: for await (const batch of stream.batches()) {
      while (perInterface.length < capture.interfaces.length) perInterface.push(engineFor(capture.interfaces[perInterface.length]));
      for (let i = 0; i < batch.count; i++) {
        counts.read++;
        if (perInterface[batch.ifIndex(i)].runAt(batch.bytes(i), batch.start(i), batch.caplen(i), batch.wirelen(i)) === 0) continue;
        await keep(batch.packet(i));
        counts.kept++;
        if (opts.count !== undefined && counts.kept >= opts.count) break reading;
      }
    }
    while (perInterface.length < capture.interfaces.length) perInterface.push(engineFor(capture.interfaces[perInterface.length]));
    refuseIfRejectsAll(programs);
  } finally {
    for (const { engine } of programs.values()) engine.close();
  }
  return counts;
}

function refuseIfRejectsAll(programs: Map<string, { prog: CbpfProgram }>): void {
  const progs = [...programs.values()].map((p) => p.prog);
  if (progs.length === 0 || !progs.every((p) => p.rejectsAll)) return;
  throw new UserError(`bad filter expression "${progs[0].expression}": ${REJECTS_ALL_MESSAGE}`, 'libpcap proved that no packet of this file\'s link type can match: check the expression (man 7 pcap-filter)');
}
