// Feature probes against independent references: the kernel's build config
// (/proc/config.gz), bpftrace's own probing (--info), sysfs and the release.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describeStatus, probeFeature, skipReason, type Feature } from '../../src/bpf/features';
import { attachKprobe, attachKretprobe } from '../../src/bpf/link/kprobe';
import { attachFentry, requireFentry } from '../../src/bpf/link/fentry';
import { AttachType, ProgType } from '../../src/bpf/constants';
import { closeAll } from '../../src/bpf/registry';
import { loadKernelBtf } from '../../src/btf/kernel';
import { funcProtoOf } from '../../src/btf/functions';
import { UserError } from '../../src/errors';
import { counterProgram } from './programs';

const ALL: Feature[] = ['ringbuf', 'uprobes', 'kprobes', 'fentry', 'tp_btf', 'tcx', 'bpf_loop', 'bpf_link_perf_event'];

function kernelConfig(): Map<string, string> | undefined {
  try {
    const text = gunzipSync(fs.readFileSync('/proc/config.gz')).toString();
    return new Map(text.split('\n').filter((l) => l.startsWith('CONFIG_')).map((l) => l.split('=', 2) as [string, string]));
  } catch {
    return undefined;
  }
}

function release(): [number, number] {
  const [a, b] = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map((x) => parseInt(x, 10));
  return [a, b];
}
const atLeast = (major: number, minor: number) => {
  const [a, b] = release();
  return a > major || (a === major && b >= minor);
};

void test('every probe answers, is cached, and unsupported answers say what is needed', () => {
  for (const f of ALL) {
    const s = probeFeature(f);
    assert.ok(['supported', 'unsupported', 'inconclusive'].includes(s.status), f);
    assert.equal(probeFeature(f), s, `${f} is cached`);
    if (s.status === 'unsupported') {
      assert.match(s.needs, /Linux \d+\.\d+/, `${f} names a kernel release`);
      assert.ok(s.reason.length > 0);
      assert.match(describeStatus(f, s), new RegExp(`^${f} unsupported: `));
    }
  }
});

void test('kprobes and uprobes agree with the kernel build config', (t) => {
  const config = kernelConfig();
  if (!config) return t.skip('no /proc/config.gz to compare with');
  const has = (k: string) => config.get(k) === 'y';
  assert.equal(probeFeature('kprobes').status === 'supported', has('CONFIG_KPROBES') && has('CONFIG_KPROBE_EVENTS'));
  assert.equal(probeFeature('uprobes').status === 'supported', has('CONFIG_UPROBE_EVENTS'));
});

void test('fentry agrees with bpftrace\'s own kfunc probe', (t) => {
  const r = spawnSync('bpftrace', ['--info'], { encoding: 'utf8', timeout: 30000 });
  const m = /kfunc: (yes|no)/.exec(r.stdout + r.stderr);
  if (!m) return t.skip('bpftrace --info does not report kfunc');
  assert.equal(probeFeature('fentry').status === 'supported', m[1] === 'yes', describeStatus('fentry', probeFeature('fentry')));
});

void test('ringbuf, tcx, bpf_loop and tp_btf agree with the kernel release', () => {
  assert.equal(probeFeature('ringbuf').status === 'supported', atLeast(5, 8));
  assert.equal(probeFeature('tcx').status === 'supported', atLeast(6, 6));
  assert.equal(probeFeature('bpf_loop').status === 'supported', atLeast(5, 17));
  assert.equal(probeFeature('tp_btf').status === 'supported', atLeast(5, 5) && fs.existsSync('/sys/kernel/btf/vmlinux'));
});

void test('skipReason is the description of a missing feature', () => {
  for (const f of ALL) {
    const s = probeFeature(f);
    assert.equal(skipReason(f), s.status === 'supported' ? undefined : describeStatus(f, s));
  }
});

void test('kprobes attach and fire where the kernel has them; here they fail naming tracepoints', (t) => {
  const reason = skipReason('kprobes');
  if (reason) {
    // Without kprobes, any attach must be a UserError pointing at tracepoints.
    const { prog } = counterProgram('nc_t_kp');
    assert.throws(
      () => attachKprobe(prog, { symbol: 'tcp_v4_rcv' }),
      (e: unknown) => e instanceof UserError && /not available/.test(e.message) && /tracepoint:net:netif_receive_skb/.test(e.hint ?? ''),
    );
    assert.throws(() => attachKretprobe(prog, { symbol: 'tcp_v4_rcv' }), UserError);
    closeAll();
    return t.skip(reason);
  }
  const { prog, hits } = counterProgram('nc_t_kp');
  const link = attachKprobe(prog, { symbol: 'do_sys_openat2' });
  try {
    fs.readFileSync('/proc/self/stat');
    assert.ok(link.linkId() !== undefined);
    assert.ok(hits() > 0n, 'the kprobe ran');
  } finally {
    closeAll();
  }
});

void test('fentry attaches where the kernel allows it; here it fails naming tracepoints', (t) => {
  const reason = skipReason('fentry');
  if (reason) {
    assert.throws(
      () => requireFentry(),
      (e: unknown) => e instanceof UserError && /tracepoint:skb:kfree_skb/.test(e.hint ?? '') && /EPERM|unsupported/.test(e.detail ?? ''),
    );
    return t.skip(reason);
  }
  const btfId = funcProtoOf(loadKernelBtf(), 'do_sys_openat2').btfId;
  const { prog, hits } = counterProgram('nc_t_fentry', ProgType.TRACING, { expectedAttachType: AttachType.TRACE_FENTRY, attachBtfId: btfId });
  const link = attachFentry(prog, 'do_sys_openat2');
  try {
    execFileSync('true');
    assert.ok(link.linkId() !== undefined);
    assert.ok(hits() > 0n, 'the fentry program ran');
  } finally {
    closeAll();
  }
});
