// Resolution on a real DPDK application: DPDK's l2fwd forwarding frames
// between two veth pairs in a namespace this test makes. References: the
// kernel's own uprobe (tracefs) at the offset we resolved counts exactly the
// frames that came out of the other side, and pkg-config's DPDK version.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { World, startL2fwd, inject, receive, udpFrame, isProbeFrame, type DpdkApp } from '../../lab';
import { parsePoint, type UserFunctionPoint } from '../../src/targets/spec';
import { resolveUserPoint } from '../../src/targets/resolve';
import { detectDpdkRelease } from '../../src/dpdk/release';
import { parseDpdkVersion } from '../../src/dpdk/mbuf-layout';
import { UserError } from '../../src/errors';
import { addTracefsUprobe, type TracefsUprobe } from './uprobe-events';

const world = new World('targets');
const probes: TracefsUprobe[] = [];
after(async () => {
  for (const p of probes) p.remove();
  await world.destroy();
});

const point = (text: string) => parsePoint(text, 'mbuf') as UserFunctionPoint;
const FRAMES = 300;

void test('l2fwd: release from its maps, l2fwd_simple_forward resolved, kernel uprobe hits = forwarded frames', async (t) => {
  let app: DpdkApp;
  try {
    app = await startL2fwd(world);
  } catch (e) {
    return t.skip(`DPDK l2fwd cannot run here: ${(e as Error).message.split('\n')[0]}`);
  }
  const installed = parseDpdkVersion(execFileSync('pkg-config', ['--modversion', 'libdpdk']).toString());
  const release = detectDpdkRelease(app.pid);
  assert.equal(release?.release, installed);

  const r = resolveUserPoint(point('l2fwd_simple_forward@1'), { pid: app.pid });
  assert.equal(r.object, fs.realpathSync(app.binary));
  const probe = addTracefsUprobe(r.objectPath, r.fileOffset);
  probes.push(probe);
  const rx = await receive(app.ns, app.links.b1, { durationMs: 15_000, keepFrames: true });
  await inject(app.ns, app.links.a1, [udpFrame({ dstPort: 4242 })], { count: FRAMES, rate: 2000 });
  // Bounded wait until every injected frame came out (the PMD may drop a few on a busy machine).
  for (let i = 0; i < 100 && rx.frames.filter((f) => !isProbeFrame(f)).length < FRAMES; i++) await new Promise((res) => setTimeout(res, 20));
  await new Promise((res) => setTimeout(res, 200));
  const out = (await rx.stop()).frames.filter((f) => !isProbeFrame(f)).length;
  const hits = probe.hits();
  probe.remove();
  assert.ok(out >= FRAMES * 0.9, `forwarded ${out} of ${FRAMES}`);
  // Every frame that came out went through l2fwd_simple_forward exactly once.
  assert.equal(hits, out);
});

void test('l2fwd: a PMD function in a stripped DPDK driver library is refused with the reason', async (t) => {
  let app: DpdkApp;
  try {
    app = await startL2fwd(world);
  } catch (e) {
    return t.skip(`DPDK l2fwd cannot run here: ${(e as Error).message.split('\n')[0]}`);
  }
  assert.throws(
    () => resolveUserPoint(point('librte_net_af_packet:eth_af_packet_rx@1'), { pid: app.pid }),
    (e: unknown) => e instanceof UserError && /not found/.test(e.message) && /stripped/.test(e.hint ?? ''),
  );
  // An exported function of a DPDK library resolves in that library.
  const start = resolveUserPoint(point('librte_ethdev:rte_eth_dev_start@1'), { pid: app.pid });
  assert.match(start.object, /librte_ethdev\.so/);
});
