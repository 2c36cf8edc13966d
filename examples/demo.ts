// `npm run demo`: netcap tracing DPDK's own l2fwd, live, in a few seconds.
//
// 1. builds l2fwd from /usr/share/dpdk/examples (dpdk-doc) with
//    l2fwd_simple_forward kept out of line,
// 2. starts it with the af_packet PMD between two veth pairs in a private
//    network namespace (no hugepages, no NIC),
// 3. runs `netcap mbuf -f l2fwd_simple_forward@1 -e "tcp port 80" --pid <l2fwd>`
//    so tcpdump's decoding of every matching packet appears below,
// 4. sends a little traffic through l2fwd: TCP to port 80 (shown) and UDP /
//    TCP to port 22 (filtered out in the kernel),
// 5. stops netcap (its summary shows how many packets the probe saw and how
//    many the filter kept) and removes the namespace, also on Ctrl-C.
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { World } from '../lab/netns';
import { startL2fwd } from '../lab/dpdk';
import { tcpFrame, udpFrame } from '../lab/frames';
import { inject } from '../lab/inject';

const NETCAP = path.join(__dirname, '..', '..', 'bin', 'netcap');
const say = (text: string) => process.stderr.write(`\x1b[1mdemo:\x1b[0m ${text}\n`);

function traffic(round: number): Buffer[] {
  const mac = { srcMac: '02:00:00:00:0a:01', dstMac: '02:00:00:00:0b:01' };
  const frames: Buffer[] = [];
  for (let i = 0; i < 3; i++) {
    const port = 41000 + round * 10 + i;
    frames.push(tcpFrame({ ...mac, srcIp: '198.51.100.7', dstIp: '203.0.113.80', srcPort: port, dstPort: 80, flags: 0x18, seq: 1000 + round, payload: Buffer.from(`GET /demo/${round}/${i} HTTP/1.1\r\nHost: example\r\n\r\n`) }));
    frames.push(udpFrame({ ...mac, srcIp: '198.51.100.7', dstIp: '203.0.113.53', srcPort: port, dstPort: 53, payload: Buffer.from(`dns query ${round}`) }));
    frames.push(tcpFrame({ ...mac, srcIp: '198.51.100.7', dstIp: '203.0.113.22', srcPort: port, dstPort: 22, flags: 0x10 }));
  }
  return frames;
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    say('the demo creates a network namespace and loads BPF programs: run it as root');
    return 2;
  }
  // The demo owns its shutdown (the lab's own signal hook stands
  // aside when a program listens): on Ctrl-C stop sending, let netcap print
  // its summary, then remove everything.
  let interrupted = false;
  let netcapChild: ReturnType<typeof spawn> | undefined;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    say('interrupted: stopping netcap and cleaning up');
    // Ctrl-C at a terminal reaches netcap too (same process group); a signal
    // sent to the demo alone does not, so pass it on if netcap is still up.
    setTimeout(() => {
      if (netcapChild && netcapChild.exitCode === null && netcapChild.signalCode === null) netcapChild.kill('SIGINT');
    }, 1000).unref();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  const world = new World('demo');
  try {
    say('building and starting DPDK l2fwd in a private network namespace (af_packet PMD, no hugepages)...');
    const app = await startL2fwd(world);
    say(`l2fwd is forwarding (pid ${app.pid}, namespace ${app.ns.name}); starting netcap:`);
    const args = ['mbuf', '-f', 'l2fwd_simple_forward@1', '-e', 'tcp port 80', '--pid', String(app.pid)];
    say(`netcap ${args.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}`);
    if (interrupted) return 130;
    const netcap = world.track(spawn(process.execPath, [NETCAP, ...args], { stdio: ['ignore', 'inherit', 'pipe'] }));
    netcapChild = netcap;
    let stderr = '';
    netcap.stderr!.setEncoding('utf8');
    netcap.stderr!.on('data', (s: string) => {
      stderr += s;
      process.stderr.write(s);
    });
    const exited = new Promise<number | null>((resolve) => netcap.once('close', (code) => resolve(code)));
    const started = Date.now();
    while (!/listening on/.test(stderr)) {
      if (netcap.exitCode !== null) {
        if (interrupted) return 130;
        throw new Error('netcap exited before it was ready');
      }
      if (Date.now() - started > 20_000) throw new Error('netcap was not ready within 20 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    for (let round = 0; round < 4 && !interrupted; round++) {
      say(`sending 9 frames through l2fwd (3 to TCP port 80, 3 UDP, 3 to TCP port 22), round ${round + 1} of 4`);
      await inject(app.ns, app.links.a1, traffic(round), { rate: 200 });
      for (let wait = 0; wait < 7 && !interrupted; wait++) await new Promise((r) => setTimeout(r, 100));
    }
    if (!interrupted) {
      say('stopping netcap (SIGINT, as Ctrl-C would):');
      netcap.kill('SIGINT');
    }
    const code = await exited;
    say(`netcap exited with status ${code}; removing the namespace and l2fwd`);
    return code ?? 1;
  } finally {
    await world.destroy();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    say(`failed: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
