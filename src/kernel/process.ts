// A process: an address space, a code image (at USER_TEXT, or an ELF file's), its threads. Its code is
// never writable: text is mapped read-execute, data and stacks read-write-no-execute.

import type { Core } from '../hw/core.ts';
import type { AddressSpace } from './address-space.ts';
import { USER_STACK_TOP } from './layout.ts';
import type { CodeLayout } from './code-layout.ts';
import type { Subkernel } from './subkernel.ts';
import type { Thread } from './thread.ts';

/** A process's own system-call interface, in place of the kernel personality's (e.g. the
 *  Linux ABI of a program run with `skybridge run`). Same contract as Personality.syscall. */
export interface SyscallInterface {
  syscall(k: Subkernel, core: Core, t: Thread): Thread | null;
}

export class Process {
  readonly threads: Thread[] = [];
  killed = false;
  killReason = '';
  /** Where the next thread's stack ends (Subkernel.createThread moves it down). */
  nextStackTop = USER_STACK_TOP;
  /** Set when the process has its own system calls; else the personality's serve it. */
  syscalls: SyscallInterface | null = null;

  constructor(
    readonly id: number,
    readonly name: string,
    /** Counter owner id (machine.owners). */
    readonly owner: number,
    readonly space: AddressSpace,
    /** Its TypeScript-laid-out code image, or null for a process loaded from an ELF file. */
    readonly text: CodeLayout | null,
  ) {}
}
