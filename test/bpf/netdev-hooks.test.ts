// TC (tcx and cls_bpf) and XDP attachments on the root-side end of a veth
// pair whose other end is in a namespace made here. Frames are world probe
// frames (EtherType 0x88b5), which no protocol handler of the root
// namespace accepts, so they go nowhere after our hooks. bpftool confirms
// what is attached before and after close().
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { attachTc } from '../../src/bpf/link/tc';
import { attachXdp } from '../../src/bpf/link/xdp';
import { ProgType, XdpAction } from '../../src/bpf/constants';
import { closeAll } from '../../src/bpf/registry';
import { skipReason } from '../../src/bpf/features';
import { World, randomTag, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { injectorPath } from '../../lab/tools';
import { newProbeTag, probeFrame } from '../../lab/frames';
import { counterProgram } from './programs';

const world = new World('hooks');
let ns: Namespace;
const rootEnd = `nch-${randomTag()}`;
let ifindex: number;

before(() => {
  ns = world.addNamespace();
  ns.addVeth('nc0', rootEnd, { peerIn: 'root' });
  ifindex = Number(fs.readFileSync(`/sys/class/net/${rootEnd}/ifindex`, 'utf8'));
});

after(async () => {
  closeAll();
  await world.destroy();
});

const tag = newProbeTag();
async function send(count: number): Promise<void> {
  const frames = Array.from({ length: count }, (_, i) => probeFrame(tag, i));
  assert.equal(await inject(ns, 'nc0', frames), count);
}

async function waitFor(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/** Program ids bpftool reports on the device, by hook ("xdp", "tc", "tcx"). */
function bpftoolNet(): { xdp: number[]; tc: number[] } {
  const r = spawnSync('bpftool', ['net', 'show', 'dev', rootEnd, '-j'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [info] = JSON.parse(r.stdout) as { xdp: { id: number }[]; tc: { id: number }[] }[];
  return { xdp: info.xdp.map((x) => x.id), tc: info.tc.map((x) => x.id) };
}

/** Programs bpftool sees attached: tcx links in `bpftool link` (bpftool 7.1 predates tcx in `bpftool net`), cls_bpf filters in `bpftool net`. */
function attachedIds(mechanism: 'tcx' | 'cls_bpf'): number[] {
  if (mechanism === 'cls_bpf') return bpftoolNet().tc;
  const r = spawnSync('bpftool', ['link', 'list', '-j'], { encoding: 'utf8' });
  return (JSON.parse(r.stdout) as { prog_id: number }[]).map((l) => l.prog_id);
}

// TC_ACT_UNSPEC / TCX_NEXT: let the packet go on untouched.
const TC_NEXT = -1;

for (const mechanism of ['tcx', 'cls_bpf'] as const) {
  void test(`${mechanism} ingress sees every frame and detaches on close`, async (t) => {
    if (mechanism === 'tcx' && skipReason('tcx')) return t.skip(skipReason('tcx'));
    const c = counterProgram(`nc_t_${mechanism}`, ProgType.SCHED_CLS, { verdict: TC_NEXT });
    const link = attachTc(c.prog, { ifindex, direction: 'ingress', mechanism });
    try {
      assert.equal(link.kind, mechanism);
      assert.ok(attachedIds(mechanism).includes(c.prog.id), 'bpftool shows the program attached');
      await send(7);
      await waitFor(() => c.hits() >= 7n);
      assert.equal(c.hits(), 7n);
    } finally {
      link.close();
      link.close();
    }
    assert.ok(!attachedIds(mechanism).includes(c.prog.id), 'gone after close');
    c.close();
  });
}

void test('egress tc sees frames sent out of the device', async () => {
  const c = counterProgram('nc_t_tc_egress', ProgType.SCHED_CLS, { verdict: TC_NEXT });
  const link = attachTc(c.prog, { ifindex, direction: 'egress' });
  try {
    // Root -> namespace: the injector runs here and sends out of the root-side end.
    const frames = Array.from({ length: 3 }, (_, i) => probeFrame(tag, i).toString('hex')).join('\n') + '\n';
    const s = spawnSync(injectorPath(), ['send', '-i', rootEnd, '-x'], { input: frames, encoding: 'utf8' });
    assert.equal(s.status, 0, s.stderr);
    await waitFor(() => c.hits() >= 3n);
    assert.equal(c.hits(), 3n);
  } finally {
    link.close();
    c.close();
  }
});

void test('XDP sees every frame, passes it on, and detaches on close', async () => {
  const c = counterProgram('nc_t_xdp', ProgType.XDP, { verdict: XdpAction.PASS });
  const link = attachXdp(c.prog, { ifindex });
  try {
    assert.deepEqual(bpftoolNet().xdp, [c.prog.id]);
    // A second XDP program is refused rather than replacing ours.
    const other = counterProgram('nc_t_xdp2', ProgType.XDP, { verdict: XdpAction.PASS });
    assert.throws(() => attachXdp(other.prog, { ifindex }), /another XDP program/);
    other.close();
    await send(5);
    await waitFor(() => c.hits() >= 5n);
    assert.equal(c.hits(), 5n);
  } finally {
    link.close();
  }
  assert.deepEqual(bpftoolNet().xdp, []);
  c.close();
});
