// The body of a thread whose user mode is machine code: it runs the core's interpreter from
// wherever the kernel's exit path left RIP, and hands the kernel what stopped it. Cores
// interleave at instruction granularity: a run ends when this core's clock passes the next
// pending interrupt's arrival or the quantum (then the kernel loop picks the core with the
// earliest clock), so two threads on two cores can race inside straight-line code, in the
// same order on every host.

import { Stop } from '../hw/cpu/interpreter.ts';
import type { Machine } from '../hw/machine.ts';
import { Trap } from '../hw/traps.ts';
import type { ThreadCode } from './thread.ts';
import type { UserApi } from './user.ts';

/** Cycles a core runs user code before the kernel loop may switch to another core. */
export const DEFAULT_QUANTUM = 2000;

export interface MachineCodeOptions {
  quantum?: number;
  /** User instructions this thread may retire before the kernel stops it (default: none). */
  maxInstructions?: number;
}

export function machineCodeBody(m: Machine, o: MachineCodeOptions = {}) {
  const quantum = o.quantum ?? DEFAULT_QUANTUM;
  return function* body(u: UserApi): ThreadCode {
    let left = o.maxInstructions ?? Infinity;
    for (;;) {
      const core = u.core;
      const cpu = m.cpus[core.id]!;
      const next = core.pending[0];
      const limit = Math.min(core.cycles + quantum, next === undefined ? Infinity : next.time);
      let stop: Stop;
      try {
        stop = cpu.run(limit, -1, left);
      } catch (e) {
        if (!(e instanceof Trap)) throw e;
        yield { kind: 'trap', trap: e };
        continue;
      } finally {
        left -= cpu.executed;
      }
      if (stop === Stop.Syscall) yield { kind: 'syscall' };
      else if (stop === Stop.MaxInstructions) yield { kind: 'limit' };
      else yield { kind: 'poll' };
    }
  };
}
