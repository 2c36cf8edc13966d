// A DPDK application in a container, as users run them: l2fwd in its own
// mount, PID and network namespaces, pivot_root into a directory holding
// only its binary, its libraries and its drivers (lab/container.ts), traced
// from the host by its host pid. With a port point and with a function
// point the captures equal the injected frames libpcap selects, and every
// packet's pcapng comment gives the pid as the host sees it and as the
// container does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { World } from '../../lab/netns';
import { startL2fwdInContainer, type DpdkApp } from '../../lab/dpdk';
import { mappedObjects } from '../../src/proc/process';
import { mixedFrames, runScenario } from '../capture/scenario';

const hex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));

describe('netcap mbuf on l2fwd in a container, traced by its host pid', { timeout: 300_000 }, () => {
  const world = new World('mbuf-container');
  let app: DpdkApp & { root: string };

  before(async () => {
    app = await startL2fwdInContainer(world);
  });
  after(async () => {
    await world.destroy();
  });

  it('is a container: pid 1 in its namespace, its files only under its own root', () => {
    const nspid = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${app.pid}/status`, 'utf8'))![1].split(/\s+/).map(Number);
    assert.deepEqual(nspid, [app.pid, 1]);
    assert.equal(fs.readlinkSync(`/proc/${app.pid}/exe`), app.binary);
    assert.equal(fs.existsSync(app.binary), false, `${app.binary} exists only in the container`);
    const pmd = mappedObjects(app.pid).find((o) => /librte_net_af_packet\.so/.test(o.path))!;
    assert.ok(pmd.openPath.startsWith(`/proc/${app.pid}/root/`));
    assert.notEqual(fs.statSync(pmd.openPath).ino, fs.statSync(pmd.path).ino, 'the container\'s PMD library is its own copy, not the host\'s file');
  });

  for (const point of ['port:0:rx', 'l2fwd_simple_forward@1']) {
    it(`${point}: exactly what libpcap selects, with the host pid and the container pid in every comment`, async () => {
      const frames = mixedFrames(18);
      const r = await runScenario(world, app, { point, expression: 'udp', frames, file: 'out.pcapng' });
      assert.equal(r.exit.code, 0, r.stderr);
      assert.ok(r.expected.length > 0);
      assert.deepEqual(hex(r.file.packets.map((p) => p.data)), hex(r.expected));
      for (const p of r.file.packets) assert.match(p.comment ?? '', new RegExp(`^pid=${app.pid} tid=${app.pid} comm=\\S+ .* pid_in_ns=1 tid_in_ns=1$`));
      assert.deepEqual(r.leftover, { programs: [], links: [] });
    });
  }
});
