// What a kernel personality (seL4, Fiasco.OC, Zircon) supplies to the common Subkernel core.

import type { Core } from '../hw/core.ts';
import type { Mix } from '../hw/mix.ts';
import type { CodeLayout } from './code-layout.ts';
import type { Subkernel } from './subkernel.ts';
import type { TcbLayout } from './tcb-layout.ts';
import type { Thread } from './thread.ts';

/** Instruction counts of the personality's entry and exit assembly (besides the register
 *  saves and restores, which are charged as the stores and loads they are). */
export interface EntryExitCounts {
  /** Instructions from the entry point to the C dispatcher, excluding the saves. */
  entryInstructions: number;
  entryBytes: number;
  /** Instructions of the exit path before SYSRET/IRETQ, excluding the restores. */
  exitInstructions: number;
  exitBytes: number;
  /** Where the counts come from (file and function of the real kernel). */
  source: string;
  /** The classes of those instructions (the entry and exit sequences' own mix). */
  mix: Mix;
}

export interface Personality {
  readonly name: string;
  readonly tcb: TcbLayout;
  readonly entryExit: EntryExitCounts;
  /** Lays out the personality's kernel paths in the kernel text, once at boot. */
  layoutKernel(text: CodeLayout): void;
  /** Initialises a new thread's TCB fields beyond the common ones. */
  initThread(k: Subkernel, core: Core, t: Thread): void;
  /**
   * Handles a system call of `t`, in kernel mode, after the entry path saved its registers
   * into its TCB. Returns the thread to run next on this core (t itself to return to it),
   * or null to idle. The common core performs the exit path.
   */
  syscall(k: Subkernel, core: Core, t: Thread): Thread | null;
  /** `t` is being stopped (fault, violation, kill): detach it from the personality's
   *  objects (endpoint queues, reply links) so no one waits on it forever. */
  onStop(k: Subkernel, core: Core, t: Thread): void;
}
