// netcap replay into a DPDK application: DPDK's l2fwd (af_packet PMD, in a
// namespace this test makes) receives a trace replayed onto a1 with its
// timing, while `netcap mbuf` captures at l2fwd_simple_forward@1: the
// packets captured inside the application equal the trace, in order.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { startL2fwd, type DpdkApp } from '../../lab/dpdk';
import { isProbeFrame } from '../../lab/frames';
import { World } from '../../lab/netns';
import { readCaptureFile } from '../../src/output/read-capture';
import type { CapturedPacket } from '../../src/output/packet';
import { NETCAP, runNetcap } from '../capture/netcap-child';
import { tempDir } from '../output/reference-tools';
import { numberedFrame, random, TRACE_START_NS, writeTrace } from './traces';

describe('netcap replay into DPDK l2fwd', { timeout: 300_000 }, () => {
  const world = new World('replay-l2fwd');
  const tmp = tempDir('replay-l2fwd');
  let app: DpdkApp;

  before(async () => {
    app = await startL2fwd(world);
  });
  after(async () => {
    await world.destroy();
    tmp.remove();
  });

  it('the packets netcap mbuf captures at l2fwd_simple_forward@1 equal the replayed trace', async () => {
    const next = random(2);
    let t = 0;
    const packets: CapturedPacket[] = Array.from({ length: 300 }, (_, seq) => {
      // Addressed as the lab's DPDK frames are (a1 -> b1), 60 to 1400 bytes, 0.2-5 ms apart.
      const data = numberedFrame(seq, { size: 60 + Math.floor(next() * 1340), srcMac: '02:00:00:00:0a:01', dstMac: '02:00:00:00:0b:01' });
      t += 200_000 + Math.floor(next() * 4_800_000);
      return { ifIndex: 0, tsNs: TRACE_START_NS + BigInt(t), data, wirelen: data.length };
    });
    const trace = path.join(tmp.dir, 'trace.pcap');
    await writeTrace(trace, packets);
    const out = path.join(tmp.dir, 'captured.pcap');
    const capture = runNetcap(['mbuf', '-f', 'l2fwd_simple_forward@1', '--pid', String(app.pid), '-w', out], world);
    await capture.ready();
    const replay = spawnSync(process.execPath, [NETCAP, 'replay', '-r', trace, '-i', app.links.a1, '--netns', app.ns.name], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(replay.status, 0, replay.stderr);
    assert.match(replay.stderr, /300 sent, \d+ ENOBUFS retries, none failed/);
    await new Promise((r) => setTimeout(r, 500));
    const exit = await capture.stop('SIGINT');
    assert.equal(exit.code, 0, capture.stderr());
    const captured = (await readCaptureFile(out)).packets.filter((p) => !isProbeFrame(p.data));
    assert.deepEqual(
      captured.map((p) => p.data.toString('hex')),
      packets.map((p) => p.data.toString('hex')),
      'every frame of the trace passed l2fwd_simple_forward, in order, byte for byte',
    );
  });
});
