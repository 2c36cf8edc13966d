// netcap mbuf on DPDK's own l2fwd (af_packet PMD between veth pairs in a
// namespace this test makes, no hugepages): what netcap writes equals, byte
// for byte and in order, the injected frames libpcap's filter selects;
// l2fwd keeps forwarding every frame; nothing stays loaded afterwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../../lab/netns';
import { startL2fwd, type DpdkApp } from '../../lab/dpdk';
import { mixedFrames, runScenario } from '../capture/scenario';

describe('netcap mbuf on l2fwd', { timeout: 300_000 }, () => {
  const world = new World('mbuf-l2fwd');
  let app: DpdkApp;

  before(async () => {
    app = await startL2fwd(world);
  });
  after(async () => {
    await world.destroy();
  });

  it('captures exactly what libpcap selects ("tcp port 80"), stopped by SIGINT', async () => {
    const frames = mixedFrames(30);
    const r = await runScenario(world, app, { point: 'l2fwd_simple_forward@1', expression: 'tcp port 80', frames });
    assert.equal(r.exit.code, 0, r.stderr);
    assert.match(r.stderr, /netcap: listening on mbuf:l2fwd_simple_forward@1 \(pid \d+\), snaplen 262144, filter "tcp port 80"/);
    assert.ok(r.expected.length > 0 && r.expected.length < frames.length, 'the filter must select some but not all frames');
    assert.deepEqual(r.file.packets.map((p) => p.data.toString('hex')), r.expected.map((f) => f.toString('hex')));
    assert.deepEqual(r.file.packets.map((p) => p.wirelen), r.expectedWirelen);
    assert.equal(r.forwarded.length, frames.length, 'l2fwd forwards every frame while traced');
    assert.match(r.stderr, new RegExp(`${r.expected.length} packets captured`));
    assert.ok(r.held.programs.length >= 1 && r.held.links.length >= 1, `netcap held ${JSON.stringify(r.held)}`);
    assert.deepEqual(r.leftover, { programs: [], links: [] }, 'nothing stays loaded or attached');
  });

  it('stops by itself after -c N and truncates to -s', async () => {
    const frames = mixedFrames(12);
    const r = await runScenario(world, app, { point: 'l2fwd_simple_forward@1', expression: 'udp', frames, count: 3, snaplen: 64 });
    assert.equal(r.exit.code, 0, r.stderr);
    assert.equal(r.file.packets.length, 3);
    assert.deepEqual(r.file.packets.map((p) => p.data.toString('hex')), r.expected.map((f) => f.toString('hex')));
    assert.ok(r.file.packets.every((p) => p.data.length <= 64));
    assert.deepEqual(r.leftover, { programs: [], links: [] });
  });

  it('writes pcapng with one named interface, per-packet metadata comments and statistics', async () => {
    const frames = mixedFrames(9);
    const r = await runScenario(world, app, { point: 'l2fwd_simple_forward@1', expression: '', frames, file: 'out.pcapng' });
    assert.equal(r.exit.code, 0, r.stderr);
    assert.equal(r.file.format, 'pcapng');
    assert.equal(r.file.interfaces[0]?.name, 'mbuf:l2fwd_simple_forward@1');
    // No filter: every frame the app forwarded passes the function, in order.
    assert.deepEqual(r.file.packets.map((p) => p.data.toString('hex')), frames.map((f) => f.toString('hex')));
    for (const p of r.file.packets) {
      assert.match(p.comment ?? '', new RegExp(`^pid=${app.pid} tid=\\d+ comm=\\S+ cpu=\\d+ point=mbuf:l2fwd_simple_forward@1 mbuf=0x[0-9a-f]+ port=0$`));
    }
    const stats = r.file.statistics[0]?.stats;
    assert.equal(stats?.filterAccepted, BigInt(frames.length));
    assert.equal(stats?.osDropped, 0n);
  });
});
