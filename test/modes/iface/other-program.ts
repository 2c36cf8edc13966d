// Somebody else's TC program for the coexistence tests: it counts the
// packets it sees, sets skb->mark so a program after it can tell, and lets
// every packet go on (TCX_NEXT). Built with the project's builders, loaded
// and attached by the test, which closes it.
import { Add, Call, Exit, JEq, LoadMapPtr, Mov, StoreImm } from '../../../src/ebpf/builders';
import { Helper } from '../../../src/ebpf/helpers';
import { R0, R1, R10, R2, R6 } from '../../../src/ebpf/registers';
import { createMap } from '../../../src/bpf/map';
import { loadProgram, type Program } from '../../../src/bpf/program';
import { ProgType } from '../../../src/bpf/constants';
import { SK_BUFF, TC_NEXT } from '../../../probes/tc';
import { AtomicAdd } from '../../bpf/programs';

export const OTHER_MARK = 0x1717;

export interface OtherProgram {
  prog: Program;
  /** Packets it saw. */
  hits(): bigint;
  close(): void;
}

export function markingProgram(name: string): OtherProgram {
  const counts = createMap({ type: 'array', name: `${name.slice(0, 13)}_c`, keySize: 4, valueSize: 8, maxEntries: 1 });
  const prog = loadProgram({
    type: ProgType.SCHED_CLS,
    name,
    insns: [
      Mov.reg(R6, R1),
      StoreImm(R6, SK_BUFF.mark, OTHER_MARK, 4),
      StoreImm(R10, -4, 0, 4),
      LoadMapPtr(R1, counts.fd),
      Mov.reg(R2, R10),
      Add.imm(R2, -4),
      Call(Helper.map_lookup_elem),
      JEq.imm(R0, 0, 'out'),
      Mov.imm(R1, 1),
      AtomicAdd(R0, R1),
      Mov.imm(R0, TC_NEXT).withSymbol('out'),
      Exit(),
    ],
  });
  return {
    prog,
    hits: () => counts.lookupU32Key(0)?.readBigUInt64LE(0) ?? 0n,
    close: () => {
      prog.close();
      counts.close();
    },
  };
}
