// netcap as a library, as the README shows it: capture UDP at an interface's
// receive tracepoint, print the counters, narrow the filter while it runs,
// stop. Run as root:  node dist/examples/library.js IFACE [NETNS]
import { openCapture, openOutputs } from '../src/index';

async function main(iface: string, netns?: string): Promise<void> {
  const capture = openCapture({ mode: 'skb', points: 'tracepoint:net:netif_receive_skb', iface, netns, filter: 'udp' });
  for (const sink of openOutputs({ writeFile: 'udp.pcapng' }, capture.interfaces)) capture.addOutput(sink);
  capture.on('packets', (batch) => console.log(`${batch.length} packets`));
  await capture.start();
  const timer = setInterval(() => console.log(capture.stats()), 1000);
  await new Promise((r) => setTimeout(r, 3000));
  await capture.setFilter('udp port 53'); // atomic: every packet judged by one filter or the other
  await new Promise((r) => setTimeout(r, 3000));
  clearInterval(timer);
  const result = await capture.stop();
  console.log(`${result.captured} packets written to udp.pcapng (${result.reason})`);
}

main(process.argv[2] ?? 'lo', process.argv[3]).catch((e: Error) => {
  console.error(`netcap: ${e.message}`);
  process.exitCode = 2;
});
