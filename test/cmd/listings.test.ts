// The listings are true: every capture point `netcap skb --list` prints is
// one this kernel lets netcap load and attach, and every -f form `netcap
// mbuf --list` prints resolves in the process, loads and attaches (and the
// ones the test app calls see its packets). Each listed line is pasted into
// a capture as printed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openCapture } from '../../src/index';
import { World } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { udpFrame } from '../../lab/frames';
import { startTestApp, startL2fwd, type DpdkApp } from '../../lab/dpdk';
import { NETCAP } from '../capture/netcap-child';

const world = new World('listings');
let app: DpdkApp;
let l2fwd: DpdkApp;

before(async () => {
  app = await startTestApp(world);
  l2fwd = await startL2fwd(world);
});
after(() => world.destroy());

function netcap(args: string[]): string {
  const r = spawnSync(process.execPath, [NETCAP, ...args], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

void test('every point skb --list prints loads and attaches here (one capture with all of them)', async () => {
  const listed = netcap(['skb', '--list'])
    .split('\n')
    .map((l) => /^ {2}((tracepoint|raw_tp):\S+)/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined);
  assert.ok(listed.filter((p) => p.startsWith('tracepoint:')).length >= 10, listed.join(' '));
  assert.ok(listed.filter((p) => p.startsWith('raw_tp:')).length >= 10, listed.join(' '));
  for (const p of ['tracepoint:net:netif_receive_skb', 'tracepoint:skb:kfree_skb', 'tracepoint:net:net_dev_queue', 'raw_tp:netif_receive_skb', 'raw_tp:napi_gro_receive_entry']) assert.ok(listed.includes(p), p);
  const capture = openCapture({ mode: 'skb', points: listed.join(',') });
  assert.equal(capture.mode.points.length, listed.length);
  await capture.start();
  const result = await capture.stop('done');
  assert.equal(result.failure, undefined, String(result.failure));
});

/** The -f forms of a listing, per function line. */
function forms(listing: string): string[] {
  return listing
    .split('\n')
    .filter((l) => /^ {6}-f /.test(l))
    .flatMap((l) => l.trim().slice(3).split('  or  '));
}

void test('every form mbuf --list prints for the test app attaches, and the app\'s own see its packets', async () => {
  const listed = forms(netcap(['mbuf', '--pid', String(app.pid), '--list']));
  for (const f of ['app_process_one@1', 'app_process_burst@1@2', 'app_rx_burst@2@ret', 'app_process_chain@1', 'librte_mbuf:rte_pktmbuf_free_bulk@1@2']) assert.ok(listed.includes(f), `${f} in ${listed.join(' ')}`);
  assert.ok(!listed.some((f) => f.startsWith('app_raw')), 'app_raw takes no mbuf');
  const capture = openCapture({ mode: 'mbuf', points: listed.join(','), pid: app.pid });
  await capture.start();
  const frames = Array.from({ length: 6 }, (_, i) => udpFrame({ dstMac: '02:00:00:00:0b:01', dstPort: 5000 + i }));
  await inject(app.ns, app.links.a1, frames, { rate: 200 });
  await new Promise((r) => setTimeout(r, 500));
  const stats = capture.stats();
  const result = await capture.stop('done');
  assert.equal(result.failure, undefined, String(result.failure));
  const seen = (name: string) => Number(stats[capture.mode.points.findIndex((p) => p.name === `mbuf:${name}`)]?.seen ?? 0n);
  for (const f of ['app_process_one@1', 'app_process_burst@1@2', 'app_rx_burst@2@ret']) assert.ok(seen(f) >= 6, `${f} saw ${seen(f)}`);
});

void test('every form mbuf --list prints for l2fwd (no DWARF: the DPDK ABI table) attaches', async () => {
  const listed = forms(netcap(['mbuf', '--pid', String(l2fwd.pid), '--list']));
  assert.ok(listed.includes('librte_ethdev:rte_eth_tx_buffer_drop_callback@1@2'), listed.join(' '));
  assert.ok(listed.every((f) => f.startsWith('librte_')), 'only the libraries\' functions: l2fwd has no DWARF');
  const capture = openCapture({ mode: 'mbuf', points: listed.join(','), pid: l2fwd.pid });
  await capture.start();
  const result = await capture.stop('done');
  assert.equal(result.failure, undefined, String(result.failure));
});
