// A process: an address space, a code image at USER_TEXT, and its threads. Its code is
// never writable: text is mapped read-execute, data and stacks read-write-no-execute.

import type { AddressSpace } from './address-space.ts';
import type { CodeLayout } from './code-layout.ts';
import type { Thread } from './thread.ts';

export class Process {
  readonly threads: Thread[] = [];
  killed = false;
  killReason = '';

  constructor(
    readonly id: number,
    readonly name: string,
    /** Counter owner id (machine.owners). */
    readonly owner: number,
    readonly space: AddressSpace,
    readonly text: CodeLayout,
  ) {}
}
