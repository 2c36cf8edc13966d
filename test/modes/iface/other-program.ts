// Somebody else's TC program for the coexistence tests: it counts the
// packets it sees, sets skb->mark so a program after it can tell, and lets
// every packet go on (TCX_NEXT). Loaded and attached by the test, which
// closes it.
import { StoreImm } from '../../../src/ebpf/builders';
import { R1 } from '../../../src/ebpf/registers';
import { ProgType } from '../../../src/bpf/constants';
import { SK_BUFF, TC_NEXT } from '../../../probes/tc';
import { counterProgram } from '../../bpf/programs';

export const OTHER_MARK = 0x1717;

export function markingProgram(name: string): ReturnType<typeof counterProgram> {
  return counterProgram(name, ProgType.SCHED_CLS, { verdict: TC_NEXT, prelude: [StoreImm(R1, SK_BUFF.mark, OTHER_MARK, 4)] });
}
