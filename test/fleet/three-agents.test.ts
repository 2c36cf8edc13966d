// Three agents, each a real `netcap serve` in its own network namespace with
// its own veth pair and traffic, reached from this (the root) namespace
// over veths: `netcap fleet` creates one capture on all three (node-c with
// its own interface, from the agents file), changes its filter once while
// frames flow, and streams. The merged file must hold exactly the union of
// the three agents' local dumps, in timestamp order, one interface per
// agent and point, and tshark must read it. Then an agent is SIGKILLed
// mid-stream: the fleet reports it and the others' packets keep coming.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { World } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { udpFrame } from '../../lab/frames';
import { readPcapng } from '../../src/output/pcapng-reader';
import type { CaptureFile } from '../../src/output/capture-file';
import { runNetcap, tempDir } from '../capture/netcap-child';
import { startLabAgents, writeFleetFiles, type LabAgent } from './lab-agents';

const world = new World('fleet');
let agents: LabAgent[];
let dir: string;
let files: { agentsFile: string; tokenFile: string };

before(async () => {
  agents = await startLabAgents(world, [{ name: 'node-a' }, { name: 'node-b' }, { name: 'node-c', pair: ['w0', 'w1'] }]);
  dir = tempDir('fleet');
  files = writeFleetFiles(dir, agents, { 'node-c': 'iface=w1' });
});
after(async () => {
  await world.destroy();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** `netcap fleet` with the test's agents and tokens; resolves with its exit and output. */
async function fleet(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runNetcap(['fleet', '--agents-file', files.agentsFile, '--token-file', files.tokenFile, ...args], world);
  const { code } = await run.exited;
  return { code, stdout: run.stdout().toString(), stderr: run.stderr() };
}

/** Frames to port 1000 and 2000 from each agent's own addresses (so a frame tells its agent), `repeat` times, both ways through the captured interface. */
async function traffic(opts: { repeat: number; rate: number }): Promise<void> {
  await Promise.all(
    agents.flatMap((a, i) => {
      const frames = (dir: number) => [1000, 2000].map((port) => udpFrame({ srcIp: `192.0.2.${i * 10 + dir}`, dstIp: `192.0.2.${i * 10 + 3 - dir}`, dstPort: port }));
      return [inject(a.ns, a.peer, frames(1), opts), inject(a.ns, a.iface, frames(2), opts)];
    }),
  );
}

interface Row {
  iface: string;
  tsNs: bigint;
  data: string;
}

function rows(file: CaptureFile, names: (i: number) => string | undefined, shift: (i: number) => bigint): Row[] {
  return file.packets.flatMap((p) => {
    const iface = names(p.ifIndex);
    return iface === undefined ? [] : [{ iface, tsNs: p.tsNs - shift(p.ifIndex), data: p.data.toString('hex') }];
  });
}

const byTime = (a: Row, b: Row) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : a.data < b.data ? -1 : a.data > b.data ? 1 : 0);

/** The shift the fleet put on an interface's timestamps, as its description says. */
function shiftOf(file: CaptureFile, ifIndex: number): bigint {
  const m = /shift_ns=(-?\d+)/.exec(file.interfaces[ifIndex].description ?? '');
  assert.ok(m, `interface ${file.interfaces[ifIndex].name} says its clock shift: ${file.interfaces[ifIndex].description}`);
  return BigInt(m[1]);
}

describe('netcap fleet: three agents in their own namespaces', () => {
  it('creates one capture on all, changes its filter once, and merges their streams into the union of their dumps, in timestamp order', async () => {
    const add = await fleet('add', 'web', '--iface', 'v1', '-Q', 'inout', '-e', 'udp');
    assert.equal(add.code, 0, add.stderr);
    for (const a of agents) assert.match(add.stdout, new RegExp(`^${a.name}: web  iface ${a.iface}  running`, 'm'));

    const merged = path.join(dir, 'web-all.pcapng');
    // A window of 3 s: an agent loading its new filter on this busy machine may say nothing for longer than the default 500 ms.
    const stream = runNetcap(['fleet', '--agents-file', files.agentsFile, '--token-file', files.tokenFile, 'stream', 'web', '-w', merged, '--window', '3000'], world);
    await stream.ready();
    assert.match(stream.stderr(), /listening on 3 of 3 agents \(node-a, node-b, node-c\), capture web/);

    await traffic({ repeat: 50, rate: 1000 });
    const set = await fleet('set', 'web', 'filter=udp port 2000');
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout.match(/filter "udp port 2000"/g)?.length, 3, set.stdout);
    await traffic({ repeat: 50, rate: 1000 });

    // Stopping the captures ends every stream with its statistics, and the fleet's stream with them.
    const stop = await fleet('stop', 'web');
    assert.equal(stop.code, 0, stop.stderr);
    const end = await stream.exited;
    assert.equal(end.code, 0, stream.stderr());
    assert.match(stream.stderr(), /netcap fleet: 900 packets merged from 3 of 3 agents \(window 3000 ms: 0 late/);

    const file = readPcapng(fs.readFileSync(merged));
    // One interface per agent and point.
    const expectedNames = agents.flatMap((a) => [`${a.name}/${a.iface} ingress`, `${a.name}/${a.iface} egress`]).sort();
    assert.deepEqual(file.interfaces.map((i) => i.name).sort(), expectedNames);
    // In timestamp order, as written.
    const describe = (i: number) => `${file.interfaces[file.packets[i].ifIndex].name} at ${file.packets[i].tsNs}`;
    for (let i = 1; i < file.packets.length; i++) assert.ok(file.packets[i - 1].tsNs <= file.packets[i].tsNs, `packet ${i} (${describe(i)}) is earlier than the one before it (${describe(i - 1)})`);

    // Exactly the union of the local dumps: per agent, the same packets with the same (unshifted) times.
    let total = 0;
    for (const a of agents) {
      const dump = readPcapng(fs.readFileSync(a.dumpFile('web')));
      const own = rows(dump, (i) => dump.interfaces[i].name, () => 0n).sort(byTime);
      // 100 frames each way before the change (both ports), 50 each way after (port 2000 only).
      assert.equal(own.length, 300, `${a.name}'s dump holds ${own.length} packets`);
      assert.equal(own.filter((r) => r.iface.endsWith('ingress')).length, 150);
      const prefix = `${a.name}/`;
      const fromFleet = rows(file, (i) => (file.interfaces[i].name!.startsWith(prefix) ? file.interfaces[i].name!.slice(prefix.length) : undefined), (i) => shiftOf(file, i)).sort(byTime);
      assert.deepEqual(fromFleet, own, `the merged file holds exactly ${a.name}'s dump`);
      total += own.length;
    }
    assert.equal(file.packets.length, total);
    // Each interface says its agent's clock offset; the statistics say what each agent counted.
    for (const i of file.interfaces) assert.match(i.description ?? '', /clock agent-client [+-][0-9.]+ (µs|ms|s) ± [0-9.]+ (µs|ms|s) from 8 round trips; timestamps (as the agent stamped them|shifted by [+-][0-9.]+ (µs|ms|s) onto the client.s clock)/);
    assert.match(file.sections[0].comment ?? '', /capture web on 3 agents, merged in timestamp order within a 3000 ms reordering window/);
    const ends = file.statistics.filter((s) => /the fleet merged/.test(s.stats.comment ?? ''));
    assert.equal(ends.length, 6);
    for (const s of ends) assert.equal(s.stats.delivered, BigInt(file.packets.filter((p) => p.ifIndex === s.ifIndex).length));

    // tshark reads it: every packet, each on its agent's interface.
    const names = execFileSync('tshark', ['-r', merged, '-T', 'fields', '-e', 'frame.interface_name'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n');
    assert.equal(names.length, total);
    assert.deepEqual([...new Set(names)].sort(), expectedNames);

    // The later merge: the agents' dumps, downloaded and merged the same way, are the same packets.
    const dumps = path.join(dir, 'web-dumps.pcapng');
    const dumped = await fleet('dump', 'web', '-w', dumps, '--clock', 'keep');
    assert.equal(dumped.code, 0, dumped.stderr);
    assert.match(dumped.stderr, /reading the dumps of 3 of 3 agents/);
    const fromDumps = readPcapng(fs.readFileSync(dumps));
    const all = (f: CaptureFile, shift: (i: number) => bigint) => rows(f, (i) => f.interfaces[i].name, shift).sort(byTime);
    assert.deepEqual(all(fromDumps, () => 0n), all(file, (i) => shiftOf(file, i)));
    for (let i = 1; i < fromDumps.packets.length; i++) assert.ok(fromDumps.packets[i - 1].tsNs <= fromDumps.packets[i].tsNs, `dump merge: packet ${i} is earlier than the one before it (${fromDumps.packets[i - 1].tsNs} ${fromDumps.packets[i].tsNs}): ${dumped.stderr}`);
  });

  it('reports an agent killed mid-stream, and the others\' packets keep coming', async () => {
    const add = await fleet('add', 'live', '--iface', 'v1', '-e', 'udp', '--mode', 'network');
    assert.equal(add.code, 0, add.stderr);
    const merged = path.join(dir, 'live-all.pcapng');
    const stream = runNetcap(['fleet', '--agents-file', files.agentsFile, '--token-file', files.tokenFile, 'stream', 'live', '-w', merged], world);
    await stream.ready();

    const victim = agents[1];
    const flowing = Promise.all(agents.map((a) => inject(a.ns, a.peer, [udpFrame({ dstPort: 3000 })], { count: 1500, rate: 500 })));
    await new Promise((r) => setTimeout(r, 1000));
    const killedAtNs = BigInt(Date.now()) * 1_000_000n;
    victim.served.child.kill('SIGKILL');
    await victim.served.exited;
    await flowing.catch(() => undefined); // the victim's namespace still takes frames: its agent is gone, not its veths

    const stop = await fleet('stop', 'live');
    assert.equal(stop.code, 4, `stop on the survivors, the victim reported: ${stop.stderr}`);
    assert.match(stop.stderr, /agent node-b: no service at http:\/\/[0-9.]+:9000: connection refused/);
    const end = await stream.exited;
    assert.equal(end.code, 4, stream.stderr());
    assert.match(stream.stderr(), /agent node-b went away: its connection broke \(the agent stopped, or its node is gone\); the others go on/);
    assert.match(stream.stderr(), /node-b: went away: /);

    const file = readPcapng(fs.readFileSync(merged));
    for (const a of agents) {
      const packets = file.packets.filter((p) => file.interfaces[p.ifIndex].name!.startsWith(`${a.name}/`));
      const afterKill = packets.filter((p) => p.tsNs > killedAtNs + 500_000_000n).length;
      if (a === victim) assert.equal(afterKill, 0, 'nothing of the victim after it died');
      else assert.ok(afterKill >= 400, `${a.name}: ${afterKill} packets more than 0.5 s after the kill`);
      assert.ok(packets.length >= 300, `${a.name}: ${packets.length} packets`);
    }
    const goneStats = file.statistics.find((s) => file.interfaces[s.ifIndex].name!.startsWith('node-b/') && /went away during the stream/.test(s.stats.comment ?? ''));
    assert.ok(goneStats, 'the victim\'s interface says it went away');
    const count = execFileSync('tshark', ['-r', merged, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').length;
    assert.equal(count, file.packets.length);
  });
});
