// Runs the agreement check over the capture files under the given folders and
// prints each disagreement, for finding classes of them by hand:
//   node dist/test/read/corpus-report.js DIR... [--engine kernel] [--expr EXPR] [--only REGEX]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { captureFilesUnder, difference, netcapRead, tcpdumpRead } from './tcpdump-agreement';
import { corpusExpressions } from './expressions';
import type { EngineName } from '../../src/read/engines';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const engines = (opt('--engine') ?? 'interp').split(',') as EngineName[];
  const expr = opt('--expr');
  const only = opt('--only');
  const exprs = expr !== undefined ? [expr] : corpusExpressions;
  const files = args.flatMap(captureFilesUnder).filter((f) => !only || new RegExp(only).test(f));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-corpus-'));
  let runs = 0;
  let agree = 0;
  try {
    for (const file of files) {
      for (const e of exprs) {
        const reference = tcpdumpRead(file, e, path.join(tmp, 'ref.pcap'));
        const outcomes = [];
        for (const engine of engines) outcomes.push(await netcapRead(file, e, engine, path.join(tmp, `out-${engine}.pcap`)));
        const ref = await reference;
        for (const [i, engine] of engines.entries()) {
          const ours = outcomes[i];
          runs++;
          const d = difference(ref, ours);
          if (d === undefined) agree++;
          else process.stdout.write(`${file}\t${engine}\t${JSON.stringify(e)}\t${d}\n`);
        }
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`# ${agree}/${runs} runs agree (${files.length} files, ${exprs.length} expressions, ${engines.join('+')})\n`);
}

void main();
