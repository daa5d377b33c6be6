// What a thread's code sees: the core it runs on, its own registers, memory operations at
// its own addresses, straight-line blocks of its own text, and the instructions that leave
// user mode. All of it is charged by the machine; this file adds no cost of its own.

import type { Core } from '../hw/core.ts';
import type { RegisterFile } from '../hw/registers.ts';
import { syscall } from '../hw/isa.ts';
import type { Machine } from '../hw/machine.ts';
import type { Block } from './code-layout.ts';
import type { Thread, UserEvent } from './thread.ts';

export class UserApi {
  constructor(
    readonly machine: Machine,
    readonly thread: Thread,
  ) {}

  get core(): Core {
    return this.thread.core;
  }

  get regs(): RegisterFile {
    return this.thread.core.regs;
  }

  /** Runs a straight-line block of this process's text. */
  run(b: Block): void {
    this.thread.core.run(b);
  }

  load32(la: number): number {
    return this.thread.core.load32(la);
  }
  store32(la: number, v: number): void {
    this.thread.core.store32(la, v);
  }
  load64(la: number): number {
    return this.thread.core.load64(la);
  }
  store64(la: number, v: number): void {
    this.thread.core.store64(la, v);
  }
  readBytes(la: number, n: number): Uint8Array {
    return this.thread.core.readBytes(la, n);
  }
  writeBytes(la: number, b: Uint8Array): void {
    this.thread.core.writeBytes(la, b);
  }

  /** Executes SYSCALL at `at` (its bytes must be there) and hands control to the kernel;
   *  returns when the kernel resumes this thread (results are in the registers). */
  *syscall(at: number): Generator<UserEvent, void, void> {
    syscall(this.thread.core, at);
    yield { kind: 'syscall' };
  }

  /** A preemption point: if an interrupt has arrived, the kernel takes it here. */
  *poll(): Generator<UserEvent, void, void> {
    if (this.machine.interruptDue(this.thread.core)) yield { kind: 'poll' };
  }
}
