// Bad input to netcap mbuf / raw: each ends with exit status 2, a message
// naming what was wrong (and a hint), no stack trace, and it never reaches
// the attach step (no readiness line). Also --dry-run and the traced
// process exiting mid-capture.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { World } from '../../lab/netns';
import { startTestApp, type DpdkApp } from '../../lab/dpdk';
import { runNetcap } from '../capture/netcap-child';

async function netcapFails(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const run = runNetcap(args);
  const exit = await run.exited;
  return { code: exit.code, stderr: run.stderr() };
}

function assertUserError(r: { code: number | null; stderr: string }, message: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace without --verbose');
  assert.doesNotMatch(r.stderr, /listening on/, 'never got to attach');
}

describe('netcap mbuf/raw refuse bad input', { timeout: 200_000 }, () => {
  const world = new World('mbuf-errors');
  let app: DpdkApp;
  let sleeper: ChildProcess;

  before(async () => {
    app = await startTestApp(world);
    sleeper = world.track(spawn('sleep', ['600'], { stdio: 'ignore' }));
  });
  after(async () => {
    await world.destroy();
  });

  it('unknown function: lists close names', async () => {
    const r = await netcapFails(['mbuf', '-f', 'app_process_on@1', '--pid', String(app.pid)]);
    assertUserError(r, /function 'app_process_on' not found in process \d+\n.*did you mean: .*app_process_one/);
  });

  it('no --pid and no --binary', async () => {
    assertUserError(await netcapFails(['mbuf', '-f', 'app_process_one@1']), /needs the process to trace\n.*--pid/);
  });

  it('a pid that does not exist', async () => {
    // pid_max is at most 2^22: this one cannot exist.
    assertUserError(await netcapFails(['mbuf', '-f', 'app_process_one@1', '--pid', '4194305']), /no process with pid 4194305/);
  });

  it('a process that is not DPDK: says what was looked for', async () => {
    const r = await netcapFails(['mbuf', '-f', 'free@1', '--pid', String(sleeper.pid)]);
    assertUserError(r, /does not look like a DPDK program: looked for librte_\*\.so/);
  });

  it('argument index out of range', async () => {
    assertUserError(await netcapFails(['mbuf', '-f', 'app_process_one@7', '--pid', String(app.pid)]), /argument 7 is out of range/);
  });

  it('malformed -f', async () => {
    assertUserError(await netcapFails(['mbuf', '-f', 'app_process_one@@', '--pid', String(app.pid)]), /bad point 'app_process_one@@'/);
    assertUserError(await netcapFails(['mbuf', '-f', 'app_process_one@1,', '--pid', String(app.pid)]), /empty point/);
    assertUserError(await netcapFails(['raw', '-f', 'app_raw@1', '--pid', String(app.pid)]), /raw mode needs func@N@M/);
  });

  it('a filter libpcap refuses', async () => {
    assertUserError(await netcapFails(['mbuf', '-f', 'app_process_one@1', '-e', 'tcp port', '--pid', String(app.pid)]), /bad filter expression "tcp port"/);
  });

  it('an unwritable -w path', async () => {
    const r = await netcapFails(['mbuf', '-f', 'app_process_one@1', '--pid', String(app.pid), '-w', '/nonexistent-dir/out.pcap']);
    assertUserError(r, /cannot write \/nonexistent-dir\/out\.pcap: its directory \/nonexistent-dir does not exist/);
    assert.equal(fs.existsSync('/nonexistent-dir'), false);
  });

  it('tcpdump flags that would write files', async () => {
    assertUserError(await netcapFails(['mbuf', '-f', 'app_process_one@1', '--pid', String(app.pid), '-t', '-nn -w /tmp/x']), /tcpdump flag -w is not allowed/);
  });

  it('--dry-run prints targets and programs and attaches nothing', async () => {
    const run = runNetcap(['mbuf', '-f', 'app_process_burst@1@2', '-e', 'udp', '--pid', String(app.pid), '--dry-run']);
    const exit = await run.exited;
    assert.equal(exit.code, 0, run.stderr());
    const out = run.stdout().toString();
    assert.match(out, /DPDK \d\d\.\d\d \(pid \d+ maps .*librte_/);
    assert.match(out, /point 0: mbuf:app_process_burst@1@2\n {2}object .*netcap-test-app.*\n {2}symbol app_process_burst at 0x[0-9a-f]+ \(\d+ bytes\), file offset 0x[0-9a-f]+/);
    assert.match(out, /uprobe program nc_mbuf0_entry: \d+ instructions, accepted by the verifier/);
    assert.match(out, /call bpf_ringbuf_output#130/);
    assert.doesNotMatch(run.stderr(), /listening on/);
  });

  it('the traced process exiting ends the capture with a message', async () => {
    const victim = await startTestApp(world);
    const run = runNetcap(['mbuf', '-f', 'app_process_one@1', '--pid', String(victim.pid), '-w', '/dev/null'], world);
    await run.ready();
    await victim.stop();
    const exit = await run.exited;
    assert.equal(exit.code, 0, run.stderr());
    assert.match(run.stderr(), new RegExp(`process ${victim.pid} exited; capture ended`));
    assert.match(run.stderr(), /0 packets captured/);
  });
});
