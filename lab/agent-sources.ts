// Synthetic netcap serve agents, in a process of their own: N HTTP servers
// on loopback, each answering the requests `netcap fleet stream` and `dump`
// make of an agent (GET /info with its clock, the capture's view, its pcapng
// stream or dump) with synthetic 64-byte packets as fast as the socket takes
// them (TCP's back-pressure: nothing is dropped). The blocks are netcap's
// own encoders' (src/output/pcapng-blocks.ts); each batch's timestamps are
// the clock's now, so the sources interleave in time like live captures.
// They cost a copy and two stores per packet: what bench/fleet.ts measures
// is the client's merge, and test/fleet/dump-throttle.test.ts drives the
// merge's memory bound with them.
//
//   startAgentSources({ streams: 3, packets: 100000 }, onCleanup) -> their URLs
//   (node dist/lab/agent-sources.js '{"streams":3,"packets":100000}' prints {"urls":[...]})
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as http from 'node:http';
import { realtimeNs } from '../src/capture/clock';
import { enhancedPacketBlock, interfaceBlock, sectionHeaderBlock, statisticsBlock } from '../src/output/pcapng-blocks';
import { API_VERSION, NETCAP_VERSION } from '../src/service/version';

export interface SourcesJob {
  streams: number;
  /** Packets each stream sends. */
  packets: number;
}

const BATCH = 256;
const PACKET_BYTES = 64;
const POINT = 'eth0 ingress';

function batchTemplate(): { buf: Buffer; offsets: number[] } {
  const blocks: Buffer[] = [];
  for (let i = 0; i < BATCH; i++) blocks.push(enhancedPacketBlock({ ifIndex: 0, tsNs: 0n, data: Buffer.alloc(PACKET_BYTES, i), wirelen: PACKET_BYTES }, 262144));
  const offsets: number[] = [];
  let at = 0;
  for (const b of blocks) {
    offsets.push(at);
    at += b.length;
  }
  return { buf: Buffer.concat(blocks), offsets };
}

function serveOne(index: number, job: SourcesJob): Promise<string> {
  const template = batchTemplate();
  let sent = 0;
  const view = () => ({
    name: 'bench',
    definition: { name: 'bench', kind: 'iface', iface: 'eth0', filter: '', snaplen: 262144, mode: 'network', dump: 'bench.pcapng', flush: 'second' },
    status: sent >= job.packets ? 'stopped' : 'running',
    restored: false,
    createdAt: new Date().toISOString(),
    counters: { points: [{ name: POINT, seen: sent, matched: sent, lost: 0, readErrors: 0, captured: sent, bytes: sent * PACKET_BYTES }], captured: sent, bytes: sent * PACKET_BYTES },
    dump: { file: 'bench.pcapng', files: [] },
    stream: { clients: [], clientsGone: 0, missedByGone: 0 },
  });
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/info') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ netcap: NETCAP_VERSION, api: API_VERSION, host: `bench-${index}`, kinds: [], limits: {}, clock: { realtimeNs: realtimeNs().toString(), monotonicNs: process.hrtime.bigint().toString() } }));
    } else if (url === '/captures/bench') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(view()));
    } else if (url === '/captures/bench/stream' || url === '/captures/bench/dump') {
      res.writeHead(200, { 'content-type': 'application/x-pcapng' });
      res.write(Buffer.concat([sectionHeaderBlock({ comment: `bench source ${index}` }), interfaceBlock({ linktype: 1, snaplen: 262144, name: POINT })]));
      const pump = () => {
        while (sent < job.packets) {
          const n = Math.min(BATCH, job.packets - sent);
          const buf = Buffer.from(template.buf.subarray(0, n === BATCH ? template.buf.length : template.offsets[n]));
          const ts = realtimeNs();
          const hi = Number(ts >> 32n);
          const lo = Number(ts & 0xffffffffn);
          for (let i = 0; i < n; i++) {
            buf.writeUInt32LE(hi, template.offsets[i] + 12);
            buf.writeUInt32LE(lo, template.offsets[i] + 16);
          }
          sent += n;
          if (!res.write(buf)) return void res.once('drain', pump);
        }
        res.end(statisticsBlock(0, { received: BigInt(sent), filterAccepted: BigInt(sent), osDropped: 0n, delivered: BigInt(sent) }));
      };
      pump();
    } else {
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ status: 404, detail: `no ${url}` }));
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
}

/** Starts the sources in a child process (killed by the cleanup given to `onCleanup`); their URLs. */
export async function startAgentSources(job: SourcesJob, onCleanup: (cleanup: () => void) => void): Promise<string[]> {
  const child = spawn(process.execPath, [__filename, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
  onCleanup(() => void child.kill('SIGKILL'));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the agent sources exited (${code})`)));
  });
  return (JSON.parse(line) as { urls: string[] }).urls;
}

if (require.main === module) {
  const job = JSON.parse(process.argv[2]) as SourcesJob;
  void Promise.all(Array.from({ length: job.streams }, (_, i) => serveOne(i, job))).then((urls) => process.stdout.write(`${JSON.stringify({ urls })}\n`));
}
