// The body of a thread whose user mode is machine code: it runs the core's interpreter from
// wherever the kernel's exit path left RIP, and hands the kernel what stopped it. Cores
// interleave at instruction granularity: a run ends when this core's clock passes the next
// pending interrupt's arrival or the quantum (then the kernel loop picks the core with the
// earliest clock), so two threads on two cores can race inside straight-line code, in the
// same order on every host.

import { Stop } from '../hw/cpu/interpreter.ts';
import type { Machine } from '../hw/machine.ts';
import { Trap } from '../hw/traps.ts';
import type { ThreadCode, UserEvent } from './thread.ts';
import type { UserApi } from './user.ts';

/** Cycles a core runs user code before the kernel loop may switch to another core. */
export const DEFAULT_QUANTUM = 2000;

export interface MachineCodeOptions {
  quantum?: number;
  /** User instructions this thread may retire before the kernel stops it (default: none). */
  maxInstructions?: number;
}

export function machineCodeBody(m: Machine, o: MachineCodeOptions = {}) {
  return function* body(u: UserApi): ThreadCode {
    yield* runMachineCode(m, u, o);
  };
}

/**
 * Runs `u`'s thread as machine code from wherever its RIP is, handing the kernel what stops
 * it (system calls, traps, the end of a quantum, the instruction budget), until RIP reaches
 * `stopAt` (before that instruction runs): forever when it is -1. Callers that run a piece of
 * user code and then go on (a TypeScript thread calling the trampoline, a probe stopping at
 * labels) use this loop too.
 */
export function* runMachineCode(
  m: Machine,
  u: UserApi,
  o: MachineCodeOptions & { stopAt?: number } = {},
): Generator<UserEvent, void, void> {
  const quantum = o.quantum ?? DEFAULT_QUANTUM;
  const stopAt = o.stopAt ?? -1;
  let left = o.maxInstructions ?? Infinity;
  for (;;) {
    const core = u.core;
    const cpu = m.cpus[core.id]!;
    const next = core.pending[0];
    const limit = Math.min(core.cycles + quantum, next === undefined ? Infinity : next.time);
    let stop: Stop;
    try {
      stop = cpu.run(limit, stopAt, left);
    } catch (e) {
      if (!(e instanceof Trap)) throw e;
      yield { kind: 'trap', trap: e };
      continue;
    } finally {
      left -= cpu.executed;
    }
    if (stop === Stop.StopAt) return;
    if (stop === Stop.Syscall) yield { kind: 'syscall' };
    else if (stop === Stop.MaxInstructions) yield { kind: 'limit' };
    else yield { kind: 'poll' };
  }
}
