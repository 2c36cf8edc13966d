// The dataplane benchmark's machinery on real DPDK: the benchmark l2fwd runs
// as a primary with hugepages, DPDK's own dpdk-dumpcap attaches to it as a
// secondary and captures what l2fwd forwards; its file is read back by
// capinfos (Wireshark) and compared byte for byte with what was injected
// (tcpdump -r -x). Afterwards nothing is left: no namespace, no DPDK runtime
// directory, no extra hugepages, no hugetlbfs mount.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { buildL2fwdPdump, L2FWD_SOURCE_DIR } from '../../examples/l2fwd-pdump/build';
import { dumpcapAvailable, parseDumpcapStats, startDumpcap } from '../../bench/dumpcap';
import { reserveHugepages } from '../../bench/harness/hugepages';
import { startL2fwdPrimary } from '../../bench/harness/l2fwd-primary';
import { countPackets } from '../../bench/harness/pcap-count';
import { runTraffic } from '../../bench/harness/traffic';
import { udpFrame, World } from '../../lab';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot
  ? 'needs root'
  : !fs.existsSync(path.join(L2FWD_SOURCE_DIR, 'main.c'))
    ? 'needs dpdk-doc and libdpdk-dev'
    : !dumpcapAvailable()
      ? 'needs dpdk-dumpcap (Debian package dpdk-dev)'
      : false;

void describe('dpdk-dumpcap against the benchmark l2fwd', { skip }, () => {
  const world = new World('bench-dumpcap-t');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-bench-dumpcap-test-'));
  const pagesBefore = Number(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8'));
  let huge: ReturnType<typeof reserveHugepages> | undefined;
  after(async () => {
    await world.destroy();
    huge?.release();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  void it('captures every forwarded frame, byte for byte, and cleans up after itself', async () => {
    huge = reserveHugepages(192);
    const binary = buildL2fwdPdump(path.join(tmp, 'build'));
    const l2 = await startL2fwdPrimary(world, { binary, hugeDir: huge.dir });
    const out = path.join(tmp, 'dump.pcapng');
    const dump = await startDumpcap(world, l2.ns, l2.filePrefix, out);
    const frames = Array.from({ length: 50 }, (_, i) => udpFrame({ srcPort: 3000 + i, dstPort: 9, payload: Buffer.alloc(i, 0xa5) }));
    const traffic = await runTraffic({ ns: l2.ns, inIf: 'a1', outIf: 'b1', txCounterIf: 'b0', frames, rate: 1000, durationMs: 1000 });
    const stats = await dump.stop();
    // What l2fwd transmitted (kernel counter) is what the receiver saw.
    assert.equal(traffic.transmitted, traffic.received);
    assert.equal(traffic.sent, traffic.received, 'l2fwd forwards every frame at 1000 pps');
    assert.deepEqual(parseDumpcapStats(stats.output), { received: traffic.sent, dropped: 0 });
    const capinfos = Number(/^Number of packets:\s*(\d+)/m.exec(execFileSync('capinfos', ['-c', '-M', out]).toString())?.[1]);
    assert.equal(countPackets(out), capinfos);
    assert.equal(capinfos, traffic.sent);
    // tcpdump -x prints each packet's bytes after the link header: compare them with what was sent, in order.
    const dump16 = execFileSync('tcpdump', ['-nn', '-r', out, '-x'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const captured = dump16
      .split(/\n(?=\S)/)
      .filter((p) => p.trim())
      .map((p) => [...p.matchAll(/^\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{2,4}\s?)+)/gm)].map((m) => m[1].replace(/\s/g, '')).join(''));
    const sentIp = Array.from({ length: traffic.sent }, (_, i) => frames[i % frames.length].subarray(14).toString('hex'));
    // 60-byte minimum frames carry Ethernet padding after the IP packet: compare the IP packet's length.
    assert.deepEqual(captured.map((hex, i) => hex.slice(0, sentIp[i].length)), sentIp);
    const prefix = l2.filePrefix;
    await l2.stop();
    assert.ok(!fs.existsSync(`/var/run/dpdk/${prefix}`), 'EAL runtime directory removed');
    const hugeDir = huge.dir;
    huge.release();
    assert.ok(!fs.readFileSync('/proc/mounts', 'utf8').includes(hugeDir), 'hugetlbfs unmounted');
    assert.equal(Number(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8')), pagesBefore);
  });
});
