// Every example of every command's --help and every command line shown in
// the README runs as shown: its words as a shell would split them, with only
// the placeholders a reader replaces (the pid 1234, the demo's namespace),
// in a folder holding the files the examples name. A capture must get to
// "listening on" and end with status 0 on Ctrl-C; anything else must exit 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commands } from '../../cmd/commands';
import { splitShellWords } from '../../src/output/shell-words';
import { PcapWriter } from '../../src/output/pcap-writer';
import { World, type Namespace } from '../../lab/netns';
import { tcpFrame, udpFrame } from '../../lab/frames';
import { repoRoot } from '../../lab/paths';
import { startTestApp, startL2fwd, type DpdkApp } from '../../lab/dpdk';
import { NETCAP, tempDir } from '../capture/netcap-child';
import { startServe, type Served } from '../service/serve-process';

const world = new World('examples');
const dir = tempDir('examples');
let ns: Namespace;
let app: DpdkApp;
let l2fwd: DpdkApp;
/** The service netcap remote's examples speak to (NETCAP_URL), on a port of its own. */
let served: Served;

/** Examples someone else owns: issue 15 replaces rte_eth_rx_burst (inline in Debian's DPDK) with a port's burst function. */
const NOT_OURS = new Map([['rte_eth_rx_burst@2@ret', 'rte_eth_rx_burst is inline in Debian\'s DPDK: the DPDK-ports work (issue 15) replaces this example']]);

async function writePcap(file: string, frames: Buffer[]): Promise<void> {
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: 1, snaplen: 262144 });
  let t = 1_700_000_000_000_000_000n;
  for (const f of frames) await w.writePacket({ ifIndex: 0, tsNs: (t += 1_000_000n), data: f, wirelen: f.length });
  await w.close(true);
}

before(async () => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: '02:00:00:00:12:01' }, peer: { mac: '02:00:00:00:12:02', address: '192.0.2.2/24' } });
  app = await startTestApp(world);
  l2fwd = await startL2fwd(world);
  const some = [udpFrame({ dstPort: 53 }), tcpFrame({ dstPort: 80, payload: Buffer.from('GET /') }), udpFrame({ dstPort: 5353 })];
  await writePcap(path.join(dir, 'in.pcap'), some);
  await writePcap(path.join(dir, 'web.pcap'), some);
  await writePcap(path.join(dir, 'big.pcap'), Array.from({ length: 5000 }, (_, i) => udpFrame({ dstPort: 1000 + (i % 100), payload: Buffer.alloc(400, i & 0xff) })));
  fs.mkdirSync(path.join(dir, 'ring'));
  served = await startServe({ stateDir: path.join(dir, 'remote-state'), world });
  process.env.NETCAP_URL = served.url;
});

after(async () => {
  await served?.stop();
  await world.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The words after `netcap`, with the placeholders filled in. */
function words(line: string): string[] {
  const pid = line.includes('l2fwd_simple_forward') ? l2fwd.pid : app.pid;
  // A shell drops a comment (" # like tcpdump -d"), and so does this.
  const argv = splitShellWords(line.replace(/^\$ /, '').replace(/\s+#\s.*$/, '')).map((w) => w.replace(/^(1234|12833|4242)$/, String(pid)).replace(/^nc-demo$/, ns.name));
  assert.equal(argv[0], 'netcap');
  return argv.slice(1);
}

function run(argv: string[]): Promise<{ code: number | null; stderr: string; listened: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NETCAP, ...argv], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    world.track(child);
    let stderr = '';
    let listened = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (!listened && /netcap: listening on /.test(stderr)) {
        listened = true;
        setTimeout(() => child.kill('SIGINT'), 300);
      }
    });
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr, listened });
    });
  });
}

const helpExamples = commands.flatMap((c) => c.examples.map((e) => ({ where: `netcap ${c.command.split(' ')[0]} --help`, line: e.command })));
const readmeExamples = fs
  .readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
  .split('\n')
  .map((l) => /^ {4}((?:\$ )?netcap .*)$/.exec(l)?.[1])
  .filter((l): l is string => l !== undefined)
  .map((line) => ({ where: 'README.md', line }));

void test('there are examples to run: every command has some, the README many', () => {
  for (const c of commands) assert.ok(c.examples.length > 0, c.command);
  assert.ok(readmeExamples.length >= 12, readmeExamples.map((e) => e.line).join('\n'));
});

for (const { where, line } of [...helpExamples, ...readmeExamples]) {
  const owner = [...NOT_OURS].find(([word]) => line.includes(word));
  test(`${where}: ${line}`, { skip: owner?.[1] }, async () => {
    const r = await run(words(line));
    // A capture without -i sees the whole machine: under another test's flood of drops the ring may
    // overflow, and status 3 (with the losses in the summary) is then the documented answer.
    const lost = Number(/^(\d+) packets? lost in ring$/m.exec(r.stderr)?.[1] ?? 0);
    assert.equal(r.code, lost > 0 ? 3 : 0, r.stderr);
    if (/^(\$ )?netcap (mbuf|raw|skb) /.test(line) && !/--list|-D\b|--dry-run/.test(line)) assert.ok(r.listened, `a capture listens:\n${r.stderr}`);
  });
}
