// The layering rule (eslint-layers.mjs) says no where DEVELOPERS.md says no,
// and lint runs it over the whole tree (npm test lints before testing): a
// crossing here would fail the build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { repoRoot } from '../../lab/paths';

type Violation = (from: string, to: string, typeOnly?: boolean) => string | undefined;

async function rule(): Promise<Violation> {
  // An ES module: loaded with import(), which TypeScript's CommonJS output would turn into require().
  const load = new Function('p', 'return import(p)') as (p: string) => Promise<{ layerViolation: Violation }>;
  return (await load(path.join(repoRoot, 'eslint-layers.mjs'))).layerViolation;
}

void test('crossings the layering forbids are refused, with the reason', async () => {
  const violation = await rule();
  const refused: [string, string, RegExp][] = [
    ['src/capture/capture', 'src/native', /loader layer/],
    ['src/output/outputs', 'src/native', /loader layer/],
    ['src/capture/capture', 'cmd/summary', /nothing under src\/ imports cmd\//],
    ['src/modes/skb', 'lab/netns', /nothing under src\/ imports lab\//],
    ['src/read/engines', 'test/filter/packets', /nothing under src\/ imports test\//],
    ['probes/skb', 'src/bpf/map', /probes\/ builds programs only/],
    ['src/capture/capture', 'src/modes/skb', /does not know the modes/],
    ['src/output/outputs', 'src/capture/capture', /outputs write packets/],
    ['cmd/capture-command', 'src/bpf/program', /creates no maps and loads no programs/],
    ['src/modes/mbuf', 'src/modes/skb/points', /mode mbuf does not import mode skb/],
  ];
  for (const [from, to, why] of refused) assert.match(violation(from, to) ?? '(allowed)', why, `${from} -> ${to}`);
});

void test('the crossings the design relies on are allowed', async () => {
  const violation = await rule();
  const allowed: [string, string, boolean?][] = [
    ['src/bpf/program', 'src/native'],
    ['src/filter/libpcap', 'src/native'],
    ['src/output/range-copies', 'src/native'],
    ['src/btf/kernel', 'src/native'],
    ['probes/skb', 'src/ebpf/builders'],
    ['probes/skb', 'src/capture/record'],
    ['probes/skb', 'src/kernel/skb-layout', true],
    ['src/modes/skb', 'probes/skb'],
    ['src/modes/mbuf', 'src/modes/uprobe-mode'],
    ['src/modes/skb/index', 'src/modes/skb/points'],
    ['cmd/capture-command', 'src'],
    ['test/filter/interpreter.test', 'src/native'],
  ];
  for (const [from, to, typeOnly] of allowed) assert.equal(violation(from, to, typeOnly), undefined, `${from} -> ${to}`);
});
