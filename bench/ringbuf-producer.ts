// Worker thread of the ring buffer benchmark: loads the sequence producer
// against the ring map fd (worker threads share the process's fd table) and
// runs it through BPF_PROG_TEST_RUN in chunks, paced to `rate` records per
// second (0: as fast as it goes), until `total` records were offered; then
// reports how many the ring refused.
import { parentPort, workerData } from 'node:worker_threads';
import { loadSequenceProducer } from '../test/bpf/programs';

export interface ProducerJob {
  ringFd: number;
  total: number;
  /** Records per second to offer; 0 for unpaced. */
  rate: number;
  recordSize: number;
}

export interface ProducerReport {
  offered: number;
  lost: number;
  elapsedNs: number;
}

function run(job: ProducerJob): ProducerReport {
  const producer = loadSequenceProducer(job.ringFd, 'nc_bench_seq', job.recordSize);
  const packet = Buffer.alloc(64);
  // Chunks of ~0.25 ms of records: fine-grained enough that the pace is
  // smooth, coarse enough that the syscall per chunk doesn't matter.
  const chunk = job.rate > 0 ? Math.max(64, Math.round(job.rate / 4000)) : 1 << 16;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const start = process.hrtime.bigint();
  let offered = 0;
  try {
    while (offered < job.total) {
      const n = Math.min(chunk, job.total - offered);
      producer.prog.testRun(packet, { repeat: n });
      offered += n;
      if (job.rate > 0) {
        const aheadMs = (offered / job.rate) * 1000 - Number(process.hrtime.bigint() - start) / 1e6;
        if (aheadMs >= 1) Atomics.wait(sleeper, 0, 0, aheadMs);
      }
    }
    return { offered, lost: Number(producer.loss.total()), elapsedNs: Number(process.hrtime.bigint() - start) };
  } finally {
    producer.close();
  }
}

if (parentPort && workerData) parentPort.postMessage(run(workerData as ProducerJob));
