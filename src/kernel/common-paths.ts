// The common Subkernel core's own kernel text: system-call, interrupt and fault entry and
// exit (the personality's entry and exit assembly, with its counts and mix), the KPTI CR3
// switches, the address-space switch, the scheduler, the timer, thread exit and the
// reschedule IPI, laid out first so that entry and exit fit the KPTI window's one page.

import type { Block, CodeLayout } from './code-layout.ts';
import { KERNEL_TEXT } from './layout.ts';
import type { EntryExitCounts } from './personality.ts';

export interface CommonPaths {
  syscallEntry: number;
  kptiEnter: Block;
  kptiEnterCr3: number;
  entry: Block;
  interruptEntry: Block;
  exit: Block;
  kptiLeave: Block;
  kptiLeaveCr3: number;
  sysret: number;
  iretFrame: Block;
  iret: number;
  switchSpace: Block;
  switchCr3: number;
  schedule: Block;
  timer: Block;
  fault: Block;
  threadExit: Block;
  /** Builds the ICR value and sends a reschedule IPI (WRMSR to the x2APIC ICR). */
  ipiSend: Block;
  ipiWrmsr: number;
  /** The VMCALL the kernel makes hypercalls with. */
  vmcall: number;
}

export function layoutCommonPaths(t: CodeLayout, ee: EntryExitCounts): CommonPaths {
  t.align(64);
  const syscallEntry = t.base + t.used;
  const kptiEnter = t.block(2, 10);
  const kptiEnterCr3 = t.insn('movCr3Rax');
  const entry = t.block(ee.entryInstructions, ee.entryBytes, ee.mix);
  t.align(64);
  const interruptEntry = t.block(ee.entryInstructions + 4, ee.entryBytes + 12, ee.mix);
  const fault = t.block(ee.entryInstructions + 8, ee.entryBytes + 24, ee.mix);
  t.align(64);
  const exit = t.block(ee.exitInstructions, ee.exitBytes, ee.mix);
  const kptiLeave = t.block(2, 10);
  const kptiLeaveCr3 = t.insn('movCr3Rax');
  const sysretAt = t.insn('sysretq');
  const iretFrame = t.block(5, 20);
  const iret = t.insn('iretq');
  t.align(64);
  // switchToThread: compare the new root with the current one, build CR3 (seL4
  // switchToThread_fp: ~6 instructions before the write).
  const switchSpace = t.block(6, 22);
  const switchCr3 = t.insn('movCr3Rax');
  // chooseThread: bitmap scan (bsr), head load, dequeue (seL4 schedule/chooseThread).
  const schedule = t.block(24, 80);
  const timer = t.block(20, 64);
  const threadExit = t.block(12, 40);
  const ipiSend = t.block(4, 14);
  const ipiWrmsr = t.insn('wrmsr');
  const vmcallAt = t.insn('vmcall');
  if (sysretAt >= KERNEL_TEXT + 4096 || iret >= KERNEL_TEXT + 4096) {
    throw new Error('kernel entry/exit text must fit in its first page (the KPTI window)');
  }
  return {
    syscallEntry,
    kptiEnter,
    kptiEnterCr3,
    entry,
    interruptEntry,
    exit,
    kptiLeave,
    kptiLeaveCr3,
    sysret: sysretAt,
    iretFrame,
    iret,
    switchSpace,
    switchCr3,
    schedule,
    timer,
    fault,
    threadExit,
    ipiSend,
    ipiWrmsr,
    vmcall: vmcallAt,
  };
}
