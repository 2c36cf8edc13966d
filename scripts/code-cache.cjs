'use strict';
// Makes V8's code cache of the bundle (scripts/bundle.mjs runs this in a
// child process of its own, its output thrown away):
//
//   node scripts/code-cache.cjs BUNDLE ENCODING CACHE
//
// The bundle is compiled and run as bin/netcap does (bin/bundle-loader.cjs),
// then run through commands that
// change nothing on the machine: `read` of a small file into pcap and pcapng
// and through the built-in decoder, `compile` to eBPF, and as root an skb
// capture's `--dry-run`. The cache is serialised after them, so it holds the
// functions those runs compiled, the command line, the filter compilers,
// the file readers and writers, the BTF reader and the skb probe's builder,
// and no more. A cache of every function (V8's
// --no-lazy) was 4.6 MB, and V8 deserialising it on every start cost more
// than compiling what one command runs (issue 18: netcap read of 100,000
// packets 187 -> 159 ms, 15 MiB less peak RSS, the skb capture's start
// sooner too). What a capture runs beyond these compiles as it is first
// called, as it would without a cache.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { compileBundle, runBundle } = require('../bin/bundle-loader.cjs');

const [bundle, encoding, cache] = process.argv.slice(2);

/** A pcap file (microsecond timestamps, Ethernet) with a TCP port 80 and a UDP port 53 packet. */
function smallCapture(file) {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  const ethernetIpv4 = (protocol, ports) =>
    Buffer.concat([
      Buffer.from('ffffffffffff0200000000010800450000280001400040000000c0000201c0000202', 'hex'),
      ports,
    ]).fill(protocol, 23, 24);
  const frames = [
    ethernetIpv4(6, Buffer.from('04d2005000000000000000005002ffff00000000', 'hex')),
    ethernetIpv4(17, Buffer.from('04d2003500140000000000000000000000000000', 'hex')),
  ];
  const records = frames.map((frame, i) => {
    const record = Buffer.alloc(16);
    record.writeUInt32LE(1_700_000_000 + i, 0);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    return Buffer.concat([record, frame]);
  });
  fs.writeFileSync(file, Buffer.concat([header, ...records]));
}

async function main() {
  const script = compileBundle(bundle, encoding);
  const netcap = runBundle(script, bundle, module);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netcap-code-cache-'));
  try {
    const input = path.join(dir, 'in.pcap');
    smallCapture(input);
    const runs = [
      ['read', '-r', input, '-e', 'tcp port 80', '-w', path.join(dir, 'out.pcap')],
      ['read', '-r', input, '-w', path.join(dir, 'out.pcapng'), 'udp'],
      ['read', '-r', input, '--no-tcpdump', 'ip'],
      ['compile', '-e', 'tcp port 80'],
    ];
    // An skb capture's start up to attaching (--dry-run: the sk_buff layout
    // from BTF, the probe programs built and verified, nothing attached, the
    // programs and maps gone when it returns): 22 -> 16.5 ms from parsed
    // arguments to programs loaded. It needs root to load programs.
    if (process.getuid && process.getuid() === 0) runs.push(['skb', '-f', 'tracepoint:net:netif_receive_skb', '-e', 'udp', '--dry-run']);
    // A run that fails only leaves its functions out of the cache; say so.
    for (const argv of runs) {
      const code = await netcap.main(argv);
      if (code !== 0) process.stderr.write(`code cache: netcap ${argv.join(' ')} exited ${code}\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.writeFileSync(cache, script.createCachedData());
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`code cache: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  },
);
