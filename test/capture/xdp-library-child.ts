// A process that runs an xdp capture through the library (for the SIGKILL
// test in xdp-library.test.ts): argv = hook path, first filter, second
// filter. It starts the capture and says "started"; on a line on stdin it
// changes the filter and says "changed"; then it runs until it is killed.
import { openCapture } from '../../src/index';

async function main(): Promise<void> {
  const [hook, first, second] = process.argv.slice(2);
  const capture = openCapture({ mode: 'xdp', hooks: [hook], filter: first });
  await capture.start();
  process.stdout.write('started\n');
  process.stdin.once('data', () => {
    void capture.setFilter(second).then(
      () => process.stdout.write('changed\n'),
      (e: unknown) => process.stdout.write(`failed: ${(e as Error).message}\n`),
    );
  });
}

main().catch((e: unknown) => {
  process.stdout.write(`failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
