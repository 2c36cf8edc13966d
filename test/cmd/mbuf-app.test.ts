// netcap mbuf and raw on our DPDK test app (examples/dpdk-app), one point
// shape per test: a burst (@1@2 on app_process_burst), a return probe
// (@2@ret on app_rx_burst: the array is empty at entry), a single mbuf
// (app_process_one), raw bytes (netcap raw on app_raw) and a multi-segment
// chain (app_process_chain). Each capture must equal, byte for byte and in
// order, the injected frames libpcap's filter selects.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../../lab/netns';
import { startTestApp, type DpdkApp } from '../../lab/dpdk';
import { mixedFrames, runScenario, type ScenarioResult } from '../capture/scenario';

function assertExact(r: ScenarioResult): void {
  assert.equal(r.exit.code, 0, r.stderr);
  assert.ok(r.expected.length > 0, 'the filter must select some frames');
  assert.deepEqual(r.file.packets.map((p) => p.data.toString('hex')), r.expected.map((f) => f.toString('hex')));
  assert.deepEqual(r.file.packets.map((p) => p.wirelen), r.expectedWirelen);
  assert.equal(r.forwarded.length, r.injected.length, 'the app forwards every frame while traced');
  assert.ok(r.held.programs.length >= 1 && r.held.links.length >= 1, `netcap held ${JSON.stringify(r.held)}`);
  assert.deepEqual(r.leftover, { programs: [], links: [] }, 'nothing stays loaded or attached');
}

describe('netcap mbuf/raw on the DPDK test app', { timeout: 400_000 }, () => {
  const world = new World('mbuf-app');
  let app: DpdkApp;

  before(async () => {
    // Frames longer than 100 bytes also pass through app_process_chain as 64-byte segments.
    app = await startTestApp(world, { appArgs: ['--chain-min', '100', '--seg-size', '64'] });
  });
  after(async () => {
    await world.destroy();
  });

  it('burst point app_process_burst@1@2', async () => {
    const r = await runScenario(world, app, { point: 'app_process_burst@1@2', expression: 'tcp', frames: mixedFrames(40) });
    assertExact(r);
  });

  it('return point app_rx_burst@2@ret (the array is filled during the call)', async () => {
    const r = await runScenario(world, app, { point: 'app_rx_burst@2@ret', expression: 'udp or tcp port 22', frames: mixedFrames(40) });
    assertExact(r);
  });

  it('single mbuf app_process_one@1', async () => {
    const r = await runScenario(world, app, { point: 'app_process_one@1', expression: 'tcp dst port 80', frames: mixedFrames(20) });
    assertExact(r);
  });

  it('raw data pointer and length app_raw@1@2', async () => {
    const r = await runScenario(world, app, { mode: 'raw', point: 'app_raw@1@2', expression: 'udp', frames: mixedFrames(20) });
    assertExact(r);
  });

  it('multi-segment chain app_process_chain@1 captured whole', async () => {
    // Frames of 300 and 1200 bytes arrive as chains of 5 and 19 segments.
    const frames = mixedFrames(16).filter((f) => f.length > 100);
    const r = await runScenario(world, app, { point: 'app_process_chain@1', expression: '', frames });
    assertExact(r);
    assert.ok(r.file.packets.some((p) => p.data.length > 1000), 'long chains are captured whole');
  });

  it('multi-segment chain cut at the snap length', async () => {
    const frames = mixedFrames(16).filter((f) => f.length > 100);
    const r = await runScenario(world, app, { point: 'app_process_chain@1', expression: '', frames, snaplen: 150 });
    assertExact(r);
    assert.ok(r.file.packets.every((p) => p.data.length === 150));
  });

  it('--binary instead of --pid: every process running the program', async () => {
    const r = await runScenario(world, app, { point: 'app_process_one@1', expression: 'udp', frames: mixedFrames(12), byBinary: true });
    assertExact(r);
    assert.match(r.stderr, /listening on mbuf:app_process_one@1 \(.*netcap-test-app\)/);
  });

  it('an object-qualified point (object:func@N) looks only in that object', async () => {
    const r = await runScenario(world, app, { point: 'netcap-test-app:app_process_one@1', expression: 'tcp port 22', frames: mixedFrames(12) });
    assertExact(r);
  });

  it('two points at once, each packet named by its point in pcapng', async () => {
    const frames = mixedFrames(12);
    const r = await runScenario(world, app, { point: 'app_process_one@1,app_process_burst@1@2', expression: 'udp', frames, file: 'two.pcapng' });
    assert.equal(r.exit.code, 0, r.stderr);
    assert.deepEqual(r.file.interfaces.map((i) => i.name), ['mbuf:app_process_one@1', 'mbuf:app_process_burst@1@2']);
    // The burst point sees each packet before app_process_one does: per interface, each is the reference.
    for (const ifIndex of [0, 1]) {
      const mine = r.file.packets.filter((p) => p.ifIndex === ifIndex);
      assert.deepEqual(mine.map((p) => p.data.toString('hex')), r.expected.map((f) => f.toString('hex')), `interface ${ifIndex}`);
    }
    assert.deepEqual(r.leftover, { programs: [], links: [] });
  });
});
