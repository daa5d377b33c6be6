// Where a guest program's threads wait for good once their work is done (rpc.h's
// rpc_park_target, indirect.c's park_target): a machine-code thread cannot simply return, so
// it blocks forever on something no one else can signal.

import type { Process } from '../kernel/process.ts';
import { Cap, RIGHT } from '../kernel/sel4/objects.ts';
import type { Sel4 } from '../kernel/sel4/sel4.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import type { Zircon } from '../kernel/zircon/zircon.ts';
import type { KernelName } from './kernels.ts';

/** The park target for `p` on `kernel`: seL4, a fresh endpoint minted into capability slot
 *  `slot` (receive only); Fiasco.OC, 0 (an open wait that no sender names); Zircon, a
 *  channel whose both ends `p` holds (no one else can write to it). */
export function parkTarget(k: Subkernel, kernel: KernelName, p: Process, slot: number): number {
  switch (kernel) {
    case 'seL4': {
      const sel4 = k.personality as Sel4;
      sel4.mint(p, slot, Cap.endpoint(sel4.newEndpoint(), 0, RIGHT.Receive));
      return slot;
    }
    case 'Fiasco.OC':
      return 0;
    case 'Zircon':
      return (k.personality as Zircon).createChannel(p, p).a;
  }
}
