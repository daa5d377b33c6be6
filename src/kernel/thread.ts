// A thread: its TCB in guest memory (the truth the kernel paths read and write) and, on the
// TypeScript side, the generator that is its user-mode code.

import type { Core } from '../hw/core.ts';
import type { Trap } from '../hw/traps.ts';
import type { Process } from './process.ts';

/** What user code hands the kernel when it stops running: a system call it has just
 *  executed (SYSCALL already ran at its address), a preemption point, a fault or VM exit its
 *  machine code took (already delivered; the interpreter's generator survives it), or the
 *  end of its instruction budget. */
export type UserEvent =
  { kind: 'syscall' } | { kind: 'poll' } | { kind: 'trap'; trap: Trap } | { kind: 'limit' };

export type ThreadCode = Generator<UserEvent, void, void>;

export const enum ThreadState {
  /** Created, never run. */
  Inactive = 0,
  Running = 1,
  Ready = 2,
  Blocked = 3,
  /** Stopped by a fault or a violation; its code cannot continue. */
  Stopped = 4,
  Exited = 5,
}

/** How the thread last entered the kernel, which decides how it leaves (SYSRET keeps RCX
 *  and R11 only for a thread that made a system call; IRETQ restores everything). */
export const enum EntryKind {
  Fresh = 0,
  Syscall = 1,
  Interrupt = 2,
}

export class Thread {
  state: ThreadState = ThreadState.Inactive;
  entry: EntryKind = EntryKind.Fresh;
  code: ThreadCode | null = null;
  /** Personality-specific TypeScript state that is not architectural (e.g. a pending
   *  message's decoded form); the authoritative state is in the TCB. */
  ext: Record<string, unknown> = {};
  exitReason = '';
  /** Its user mode is machine code run by the core's interpreter (not a TypeScript body). */
  machineCode = false;
  /** The thread's SSE state (XMM0-15, then MXCSR) while another thread's is in the core. */
  fpu: Int32Array | null = null;
  /** Cycle (on the clock of the core that made it ready) at which the thread became ready:
   *  another core cannot see it in its queue before that moment. */
  readyAt = 0;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly process: Process,
    /** Kernel linear address (physmap) of the TCB object. */
    readonly tcb: number,
    readonly tcbGpa: number,
    public priority: number,
    /** The core this thread runs on. */
    readonly core: Core,
    /** Kernel linear address and user address of the thread's IPC buffer / UTCB page. */
    readonly ipcBufferKernel: number,
    readonly ipcBufferUser: number,
    readonly entryRip: number,
    readonly stackTop: number,
  ) {}

  get alive(): boolean {
    return this.state !== ThreadState.Stopped && this.state !== ThreadState.Exited;
  }
}
