// netcap fleet dump's memory bound: eight dumps read as fast as the merge
// takes them, through a bound far smaller than what they hold, so that the
// dumps ahead wait for the one furthest behind again and again (and the one
// behind changes as dumps end). Every packet must come out, none early or
// late, in timestamp order, and the merge must end: a dump left paused
// when nothing is held any more stops them all. The agents are synthetic
// (lab/agent-sources.ts: 64-byte packets as fast as TCP takes them, in
// another process), the merge is FleetStream as `netcap fleet dump` runs it.
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startAgentSources } from '../../lab/agent-sources';
import { parseAgentList } from '../../src/fleet/agents';
import { Fleet } from '../../src/fleet/fleet';
import { FleetStream } from '../../src/fleet/fleet-stream';
import { readPcapng } from '../../src/output/pcapng-reader';
import { tempDir } from '../capture/netcap-child';

const dir = tempDir('fleet-throttle');
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('netcap fleet dump: the memory bound', () => {
  it('merges eight dumps far larger than the bound, every packet in order, none early, and ends', { timeout: 60_000 }, async () => {
    const streams = 8;
    const packets = 30_000;
    const urls = await startAgentSources({ streams, packets }, (c) => cleanups.push(c));
    const fleet = new Fleet(parseAgentList(urls.map((u, i) => `s${i}=${u}`).join(',')), { tokens: { byName: new Map(), env: {} } });
    const file = path.join(dir, 'merged.pcapng');
    const maxHeldBytes = 4 << 20;
    const result = await new FleetStream(fleet, {
      capture: 'bench',
      source: 'dump',
      output: fs.createWriteStream(file),
      endOutput: true,
      windowMs: 500,
      maxHeldBytes,
      clock: 'keep',
      note: () => undefined,
    }).run();
    assert.deepEqual(
      result.agents.map((a) => [a.name, a.state, a.packets]),
      urls.map((_, i) => [`s${i}`, 'ended', packets]),
    );
    assert.equal(result.merge.written, streams * packets);
    assert.equal(result.merge.late, 0);
    assert.equal(result.merge.forced, 0);
    // The bound was what held them back: well above it, the dumps would have waited for nothing.
    const blockBytes = fs.statSync(file).size / (streams * packets);
    assert.ok(result.merge.peakHeld * blockBytes <= maxHeldBytes, `at most ${result.merge.peakHeld} packets held`);
    assert.ok(result.merge.peakHeld * blockBytes > maxHeldBytes / 4, `the bound was reached (${result.merge.peakHeld} packets held at most)`);
    const merged = readPcapng(fs.readFileSync(file));
    assert.equal(merged.packets.length, streams * packets);
    for (let i = 1; i < merged.packets.length; i++) assert.ok(merged.packets[i].tsNs >= merged.packets[i - 1].tsNs, `packet ${i} is stamped before packet ${i - 1}`);
  });
});
