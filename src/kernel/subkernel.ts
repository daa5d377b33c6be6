// The Subkernel's common core: boot on the Rootkernel, processes and threads, the entry and
// exit paths (SYSCALL/SYSRET, interrupts/IRETQ, faults), address-space switches with PCID
// and KPTI, the ready queues, the timer, and the loop that runs the cores. A personality
// (seL4, Fiasco.OC, Zircon) supplies the TCB layout and the system calls.
//
// Control flow: each thread's user code is a generator. It runs until it executes SYSCALL
// (and yields), reaches a preemption point with an interrupt pending, returns, or faults
// (the machine throws a Trap out of it). The kernel's code then runs on the same core, in
// CPL 0, as loads, stores and blocks of kernel text, and resumes whichever thread it chose
// after the exit path. Cores are stepped in order of their clocks (Machine.nextCore).

import { R } from '../hw/core.ts';
import type { Core } from '../hw/core.ts';
import { movToCr3, sysret, iretq, syscall as syscallInsn } from '../hw/isa.ts';
import type { Machine } from '../hw/machine.ts';
import { Trap } from '../hw/traps.ts';
import { writeIdtGate } from '../hw/idt.ts';
import { Rootkernel } from '../rootkernel/rootkernel.ts';
import { computeLayout, type RootkernelConfig } from '../rootkernel/layout.ts';
import { Hypercall } from '../rootkernel/hypercalls.ts';
import { GuestFrames, KernelSpace, AddressSpace, type KptiWindow } from './address-space.ts';
import { CodeLayout, type Block } from './code-layout.ts';
import {
  KERNEL_TEXT,
  KERNEL_TEXT_BYTES,
  USER_IPC_BUFFERS,
  USER_STACK_BYTES,
  USER_TEXT,
  USER_DATA,
  physmap,
} from './layout.ts';
import type { Personality } from './personality.ts';
import { Process } from './process.ts';
import { ReadyQueues, QUEUE_BYTES } from './scheduler.ts';
import { REG_RFLAGS, REG_RIP } from './tcb-layout.ts';
import { EntryKind, Thread, ThreadState, type ThreadCode, type UserEvent } from './thread.ts';
import { KernelMitigations, NO_MITIGATIONS, type MitigationConfig } from './mitigations.ts';
import { UserApi } from './user.ts';
import { scanCode } from '../binary/scanner.ts';
import { COMMON_KERNEL, USER_LIB } from './kernel-mixes.ts';
import { layoutCommonPaths, type CommonPaths } from './common-paths.ts';

export interface SubkernelConfig {
  /** Kernel page-table isolation: the kernel runs on its own root; two CR3 writes per entry. */
  kpti: boolean;
  /** Tag address spaces with PCIDs (seL4: ASIDs) so switches need not flush the TLB. */
  pcid: boolean;
  /** Timer period in cycles; 0 turns preemption off. */
  tickCycles: number;
  /** Ticks a thread runs before round-robin among equal priorities. */
  timesliceTicks: number;
  /** Speculative-execution mitigations (all off when absent; mitigations.ts). */
  mitigations?: Partial<MitigationConfig>;
  /** What the kernel runs on: the Rootkernel (absent: with its defaults; its options choose
   *  the base EPT's page size), or null: bare hardware, no VMX operation at all (1-D walks,
   *  no VM exits, no hypercalls, so no SkyBridge). */
  rootkernel?: RootkernelConfig | null;
}

export const DEFAULT_CONFIG: SubkernelConfig = {
  kpti: false,
  pcid: true,
  tickCycles: 0,
  timesliceTicks: 5,
};

export const TIMER_VECTOR = 32;
/** SysV x86-64 argument registers, in order: RDI RSI RDX RCX R8 R9. */
const ARG_REGS = [7, 6, 2, 1, 8, 9];
export const RESCHEDULE_VECTOR = 33;
const NO_FLUSH = 1n << 63n;
/** KPTI: the user half's PCID has bit 11 set (Linux's convention). */
const KPTI_USER_PCID_BIT = 0x800;

/** Kernel code paths common to every personality, laid out once. Instruction counts of the
 *  kernel's own logic here are small and generic; the personality's IPC paths carry theirs. */

/** Something built into the kernel beside the personality (SkyBridge's Subkernel part):
 *  its own kernel text, per-core boot work, and a hook on every exit to user mode. */
export interface KernelExtension {
  layoutKernel(text: CodeLayout): void;
  boot(k: Subkernel, core: Core): void;
  /** Runs in kernel mode before the exit path returns to `next` (after its address space
   *  is current). */
  beforeExit(k: Subkernel, core: Core, next: Thread): void;
  /** `p` was killed (after all its threads were stopped). */
  onKill?(k: Subkernel, core: Core, p: Process): void;
  /** Runs in kernel mode when `t` is stopped (fault, violation, kill), after the
   *  personality detached it: whatever the extension holds for `t` is given back. */
  onStop?(k: Subkernel, core: Core, t: Thread): void;
  /** Runs on every entry from `t`'s user mode, after its registers are saved. */
  onEntry?(k: Subkernel, core: Core, t: Thread): void;
  /** A system call from `t`: true if the extension answered it (the kernel then returns to
   *  `t` with its saved registers, as the extension left them, without the personality). */
  onSyscall?(k: Subkernel, core: Core, t: Thread): boolean;
  /** A timer tick interrupted `t` (before the time-slice logic). */
  onTick?(k: Subkernel, core: Core, t: Thread): void;
  /** `t` faulted at `rip` (an exception, or a VM exit the Rootkernel reported as a
   *  violation): true if the extension dealt with it and `t` goes on from its saved
   *  registers, as the extension left them; false to stop it as usual. */
  onFault?(k: Subkernel, core: Core, t: Thread, rip: number): boolean;
}

/** The program a process runs: lays out its code in the image, returns its threads' code. */
export type ProgramBody = (u: UserApi) => ThreadCode;

export class Subkernel {
  /** The Rootkernel under this kernel; null on bare hardware. */
  readonly rootkernel: Rootkernel | null;
  readonly frames: GuestFrames;
  readonly kspace: KernelSpace;
  readonly text: CodeLayout;
  readonly kernelOwner: number;
  readonly current: (Thread | null)[];
  readonly queues: ReadyQueues[];
  readonly byTcb = new Map<number, Thread>();
  readonly processes: Process[] = [];
  readonly threads: Thread[] = [];
  private readonly paths: CommonPaths;
  private readonly mitigations: KernelMitigations;
  /** Kernel linear addresses of per-core data: the current-thread pointer and the
   *  current user CR3 (seL4's ksCurThread, x64KSCurrentUserCR3). */
  private readonly curThreadVar: number[] = [];
  private readonly irqStackTop: number[] = [];
  /** Per-core kernel stacks (the boot stack), which the idle loop runs on. */
  private readonly kernelStackTop: number[] = [];
  private idtBase = 0;
  private readonly slices = new Map<Thread, number>();
  /** Per core: the thread whose SSE registers the core holds. */
  private readonly fpuOwner: (Thread | null)[] = [];
  private readonly bodies = new Map<Thread, ProgramBody>();
  private nextAsid = 1;
  private nextThreadId = 1;

  constructor(
    readonly machine: Machine,
    readonly personality: Personality,
    readonly config: SubkernelConfig = DEFAULT_CONFIG,
    readonly extensions: readonly KernelExtension[] = [],
  ) {
    const m = machine;
    this.rootkernel =
      config.rootkernel === null
        ? null
        : new Rootkernel(m, {
            ...config.rootkernel,
            l1dFlush: config.rootkernel?.l1dFlush === true || config.mitigations?.l1dFlush === true,
          });
    // On bare hardware the kernel keeps to the RAM the Rootkernel would leave it, so both
    // machines put every frame at the same physical address and differ only in translation.
    const guestBytes = this.rootkernel?.guestBytes ?? computeLayout(m.mem.size).guestBytes;
    this.kernelOwner = m.owners.id('kernel');
    this.text = new CodeLayout(KERNEL_TEXT, KERNEL_TEXT_BYTES, COMMON_KERNEL);
    this.paths = layoutCommonPaths(this.text, personality.entryExit);
    personality.layoutKernel(this.text);
    for (const x of extensions) x.layoutKernel(this.text);
    // Last, so that a mitigation turned on moves no other code.
    const mitigations = { ...NO_MITIGATIONS, ...config.mitigations };
    this.mitigations = new KernelMitigations(mitigations, this.text);
    this.frames = new GuestFrames(m.mem, 0x10_0000, guestBytes);
    this.kspace = new KernelSpace(this.frames, guestBytes, this.text.bytes);
    // Kernel data: IDT, per-core stacks, interrupt stacks, current-thread words, queues.
    const idt = physmap(this.frames.frame());
    this.idtBase = idt;
    const gate = (v: number, handler: number): void =>
      writeIdtGate(m.mem, idt - physmap(0) + v * 16, handler);
    for (let v = 0; v < 32; v++) gate(v, this.paths.fault.at);
    gate(TIMER_VECTOR, this.paths.interruptEntry.at);
    gate(RESCHEDULE_VECTOR, this.paths.interruptEntry.at);
    this.current = m.cores.map(() => null);
    this.queues = [];
    for (const core of m.cores) {
      const stack = physmap(this.frames.frames(4)) + 4 * 4096;
      const irqStack = physmap(this.frames.frames(1)) + 4096;
      const perCore = physmap(this.frames.frame());
      this.curThreadVar.push(perCore);
      this.irqStackTop.push(irqStack);
      this.kernelStackTop.push(stack);
      const q = physmap(this.frames.frames(Math.ceil(QUEUE_BYTES / 4096)));
      this.queues.push(new ReadyQueues(q, personality.tcb, this.byTcb));
      core.lstar = this.paths.syscallEntry;
      core.pcide = config.pcid;
      if (this.rootkernel === null) {
        // Bare hardware: the core starts at CPL 0 on the kernel's page table, as a boot
        // loader leaves it; it never enters VMX operation.
        core.cpl = 0;
        core.cr3 = this.kspace.pml4;
        core.rip = this.paths.schedule.at;
        core.rflags = 0x2;
        core.regs.set(R.RSP, stack);
        core.idtBase = idt;
        core.rsp0 = irqStack;
        core.setOwner(this.kernelOwner);
      } else {
        this.rootkernel.launch(core, {
          cr3: this.kspace.pml4,
          rip: this.paths.schedule.at,
          rsp: stack,
          idtBase: idt,
          rsp0: irqStack,
        });
        core.setOwner(this.kernelOwner);
        // Violations (EPT, VMFUNC) re-enter the kernel at its fault path.
        const r = this.hypercall(core, Hypercall.SetUpcall, this.paths.fault.at);
        if (r !== 0) throw new Error(`SetUpcall failed: ${r}`);
      }
      for (const x of extensions) x.boot(this, core);
      if (config.tickCycles > 0) m.setTimer(core, core.cycles + config.tickCycles, TIMER_VECTOR);
    }
  }

  /** The Rootkernel; an error on bare hardware, which has none. */
  get rk(): Rootkernel {
    if (this.rootkernel === null)
      throw new Error(
        'this kernel runs on bare hardware: there is no Rootkernel (and so no hypercalls and no SkyBridge)',
      );
    return this.rootkernel;
  }

  /** A hypercall from kernel code: VMCALL at the kernel's own site; returns RAX. */
  hypercall(core: Core, nr: number, ...args: number[]): number {
    return this.rk.call(core, this.paths.vmcall, nr, ...args);
  }

  // ---- Processes and threads -------------------------------------------------------------

  /** With KPTI, what a user root maps of the kernel half: the entry/exit text page, the
   *  IDT and the interrupt stacks, all the CPU touches before the entry switches CR3. */
  private kptiWindow(): KptiWindow | null {
    if (!this.config.kpti) return null;
    const base = physmap(0);
    const ranges: KptiWindow['ranges'] = [
      { la: KERNEL_TEXT, gpa: this.kspace.textGpa, len: 4096, flags: {} },
      { la: this.idtBase, gpa: this.idtBase - base, len: 4096, flags: { noExec: true } },
    ];
    for (const top of this.irqStackTop) {
      ranges.push({
        la: top - 4096,
        gpa: top - 4096 - base,
        len: 4096,
        flags: { writable: true, noExec: true },
      });
    }
    return { ranges };
  }

  /** A new user address space (with the KPTI window when KPTI is on). */
  newAddressSpace(): AddressSpace {
    return new AddressSpace(this.kspace, this.nextAsid++, this.kptiWindow());
  }

  /** Registers a process whose address space the caller has filled (the ELF loader). */
  addProcess(name: string, space: AddressSpace): Process {
    const p = new Process(
      this.processes.length + 1,
      name,
      this.machine.owners.id(name),
      space,
      null,
    );
    this.processes.push(p);
    return p;
  }

  /**
   * Loads a process: lays out its code with `build` (which returns its threads' bodies by
   * name), refuses an image with a stray VMFUNC byte sequence outside its allowed places
   * (SkyBridge's loader rule), maps text read-execute, data read-write-no-execute.
   */
  createProcess(
    name: string,
    build: (text: CodeLayout) => void,
    opts: { textBytes?: number; dataBytes?: number } = {},
  ): Process {
    const textBytes = opts.textBytes ?? 16 * 1024;
    const dataBytes = opts.dataBytes ?? 64 * 1024;
    const text = new CodeLayout(USER_TEXT, textBytes, USER_LIB);
    text.insn('syscall'); // the exit stub at the image's first byte
    build(text);
    const stray = scanCode(text.bytes.subarray(0, text.used), BigInt(USER_TEXT));
    if (stray.length > 0) {
      throw new Error(
        `process ${name}: ${stray.length} VMFUNC byte sequence(s) (0F 01 D4) in its code; the loader refuses it`,
      );
    }
    const space = this.newAddressSpace();
    const textGpa = this.frames.frames(textBytes / 4096);
    this.machine.mem.writeBytes(textGpa, text.bytes);
    space.map(USER_TEXT, textGpa, textBytes, { writable: false });
    space.map(USER_DATA, this.frames.frames(dataBytes / 4096), dataBytes, {
      writable: true,
      noExec: true,
    });
    const p = new Process(
      this.processes.length + 1,
      name,
      this.machine.owners.id(name),
      space,
      text,
    );
    this.processes.push(p);
    return p;
  }

  /** Creates a thread of `p` on `core` with `priority`, ready to run `body`. */
  createThread(
    p: Process,
    name: string,
    body: ProgramBody,
    opts: {
      core?: number;
      priority?: number;
      /** First instruction (default: the TypeScript image's entry after its exit stub). */
      entry?: number;
      /** Initial RSP (default: the top of the thread's stack). */
      rsp?: number;
      /** The thread's user mode is machine code (`body` runs the interpreter). */
      machineCode?: boolean;
      /** Bytes of stack, mapped at once (default USER_STACK_BYTES). */
      stackBytes?: number;
      /** Initial RDI, RSI, RDX, RCX, R8, R9 (the SysV argument registers), for an entry
       *  that is a C function. The fourth must be 0: a new thread enters user mode by
       *  SYSRET, which loads RCX with RIP (a C entry sees its own address there). With
       *  `args` the default RSP is as a CALL leaves it (SysV: RSP + 8 16-byte aligned at
       *  entry), the return address slot 0: returning from the entry faults. */
      args?: readonly number[];
    } = {},
  ): Thread {
    const core = this.machine.core(opts.core ?? 0);
    if ((opts.args?.[3] ?? 0) !== 0)
      throw new RangeError('a new thread cannot be given RCX (SYSRET loads it with RIP)');
    const L = this.personality.tcb;
    const tcbGpa = this.frames.frames(Math.ceil(L.objectBytes / 4096));
    const idx = p.threads.length;
    const ipcGpa = this.frames.frame();
    const ipcUser = USER_IPC_BUFFERS + idx * 4096;
    p.space.map(ipcUser, ipcGpa, 4096, { writable: true, noExec: true });
    // Stacks go down from USER_STACK_TOP, each below the last with an unmapped guard page.
    const stackBytes = opts.stackBytes ?? USER_STACK_BYTES;
    if (stackBytes % 4096 !== 0 || stackBytes <= 0)
      throw new RangeError(`stack of ${stackBytes} bytes is not a whole number of pages`);
    const stackTop = p.nextStackTop;
    p.nextStackTop -= stackBytes + 4096;
    p.space.map(stackTop - stackBytes, this.frames.frames(stackBytes / 4096), stackBytes, {
      writable: true,
      noExec: true,
    });
    const t = new Thread(
      this.nextThreadId++,
      name,
      p,
      physmap(tcbGpa),
      tcbGpa,
      opts.priority ?? 100,
      core,
      physmap(ipcGpa),
      ipcUser,
      opts.entry ?? USER_TEXT + 2,
      stackTop,
    );
    t.machineCode = opts.machineCode ?? false;
    p.threads.push(t);
    this.threads.push(t);
    this.byTcb.set(t.tcb, t);
    this.bodies.set(t, body);
    // Initial user context in the TCB: RIP at the image, interrupts on, the stack.
    const mem = this.machine.mem;
    for (const s of L.saved) {
      const v =
        s.reg === REG_RIP
          ? t.entryRip
          : s.reg === REG_RFLAGS
            ? 0x202
            : s.reg === R.RSP
              ? (opts.rsp ?? (opts.args !== undefined ? stackTop - 8 : stackTop))
              : (opts.args?.[ARG_REGS.indexOf(s.reg)] ?? 0);
      mem.write64n(tcbGpa + s.offset, v);
    }
    mem.write8(tcbGpa + L.priority, t.priority);
    this.personality.initThread(this, core, t);
    this.makeReady(core, t);
    return t;
  }

  // ---- Scheduling ----------------------------------------------------------------------

  /** Puts `t` on its core's ready queue (written by `core`); an IPI tells a remote core. */
  makeReady(core: Core, t: Thread): void {
    t.state = ThreadState.Ready;
    t.readyAt = core.cycles;
    this.queues[t.core.id]!.enqueue(core, t);
    if (t.core !== core && (core.nonRoot || this.rootkernel === null)) {
      const P = this.paths;
      core.run(P.ipiSend);
      this.machine.sendIpi(core, P.ipiWrmsr, t.core.id, RESCHEDULE_VECTOR);
    }
  }

  /** The next thread for `core` from its ready queue, dequeued; null if none. */
  chooseThread(core: Core): Thread | null {
    core.run(this.paths.schedule);
    const q = this.queues[core.id]!;
    const t = q.highest(core);
    if (t !== null) q.dequeue(core, t);
    return t;
  }

  // ---- Entry and exit ------------------------------------------------------------------

  private kernelCr3(): bigint {
    return BigInt(this.kspace.pml4) | (this.config.pcid ? NO_FLUSH : 0n);
  }

  private saveRegisters(core: Core, t: Thread, rip: number, rflags: number): void {
    for (const s of this.personality.tcb.saved) {
      if (s.reg === REG_RIP) core.store64(t.tcb + s.offset, rip);
      else if (s.reg === REG_RFLAGS) core.store64(t.tcb + s.offset, rflags);
      else core.storeReg(t.tcb + s.offset, s.reg);
    }
  }

  /** The SYSCALL entry path: (KPTI CR3 switch,) the personality's entry assembly, the
   *  register saves into the TCB, the current-thread load. */
  enterFromSyscall(core: Core, t: Thread): void {
    core.setOwner(this.kernelOwner);
    const P = this.paths;
    if (this.config.kpti) {
      core.run(P.kptiEnter);
      movToCr3(core, P.kptiEnterCr3, this.kernelCr3());
    }
    this.mitigations.onEntry(core);
    core.run(P.entry);
    core.load64(this.curThreadVar[core.id]!);
    this.saveRegisters(core, t, core.regs.get(R.RCX), core.regs.get(11));
    t.entry = EntryKind.Syscall;
    for (const x of this.extensions) x.onEntry?.(this, core, t);
  }

  /** Writes register `reg` (or REG_RIP / REG_RFLAGS) of `t`'s saved user context in its
   *  TCB: the next exit to `t` loads it. */
  writeSaved(core: Core, t: Thread, reg: number, value: number): void {
    const s = this.personality.tcb.saved.find((x) => x.reg === reg);
    if (s === undefined) throw new Error(`the TCB layout saves no register ${reg}`);
    core.store64(t.tcb + s.offset, value);
  }

  /** Makes `target` enter the kernel soon (a reschedule IPI from `core`): it may be running
   *  user code the kernel has just withdrawn something from. */
  kick(core: Core, target: Core): void {
    if (target === core) return;
    const P = this.paths;
    core.run(P.ipiSend);
    this.machine.sendIpi(core, P.ipiWrmsr, target.id, RESCHEDULE_VECTOR);
  }

  /** The kernel's entry for an exception `t` took (already delivered through the IDT). */
  enterFromException(core: Core, t: Thread, errorCode: boolean): void {
    this.enterFromTrap(core, t, this.paths.fault, errorCode);
  }

  /** Entry from an interrupt or exception already delivered through the IDT: (KPTI,) read
   *  the hardware frame (after the error code, if the vector pushes one), save the registers. */
  private enterFromTrap(core: Core, t: Thread | null, path: Block, errorCode = false): void {
    core.setOwner(this.kernelOwner);
    if (this.config.kpti) {
      core.run(this.paths.kptiEnter);
      movToCr3(core, this.paths.kptiEnterCr3, this.kernelCr3());
    }
    this.mitigations.onEntry(core);
    core.run(path);
    if (t === null) return;
    const sp = core.regs.get(R.RSP) + (errorCode ? 8 : 0);
    const rip = core.load64(sp);
    const rflags = core.load64(sp + 16);
    core.load64(this.curThreadVar[core.id]!);
    // The interrupted RSP is in the hardware frame, not in the register (now the kernel's).
    core.regs.set(R.RSP, core.load64(sp + 24));
    this.saveRegisters(core, t, rip, rflags);
    for (const s of this.personality.tcb.trapSaved) core.storeReg(t.tcb + s.offset, s.reg);
    core.regs.set(R.RSP, sp + 40);
    t.entry = EntryKind.Interrupt;
    for (const x of this.extensions) x.onEntry?.(this, core, t);
  }

  /** Switches the core's address space to `u`'s (no-KPTI: one CR3 write, with the PCID and
   *  the no-flush bit when PCIDs are on; KPTI: the exit path's CR3 write does it). */
  private switchTo(core: Core, u: Thread): void {
    const prev = this.current[core.id];
    this.current[core.id] = u;
    core.store64(this.curThreadVar[core.id]!, u.tcb);
    this.mitigations.onSwitch(core, u.process.space);
    if (this.config.kpti) return;
    if (prev !== null && prev !== undefined && prev.process.space === u.process.space) return;
    const want = u.process.space.userRoot + (this.config.pcid ? u.process.space.asid : 0);
    if (core.cr3 === want) return;
    core.run(this.paths.switchSpace);
    movToCr3(core, this.paths.switchCr3, BigInt(want) | (this.config.pcid ? NO_FLUSH : 0n));
  }

  /**
   * Gives `u` its own SSE registers: the ones in the core belong to the last thread that ran
   * machine code on it, and are kept with that thread when another comes. The copy is not
   * charged here: kernels switch FPU state lazily (seL4, Fiasco.OC: on the first use after a
   * switch) or eagerly (Zircon, whose personality charges its XSAVES/XRSTORS); without it a
   * thread preempted inside an SSE loop would resume with another's registers.
   */
  private switchFpu(core: Core, u: Thread): void {
    const owner = this.fpuOwner[core.id] ?? null;
    if (owner === u || !u.machineCode) return;
    const cpu = this.machine.cpus[core.id]!;
    if (owner !== null) {
      owner.fpu ??= new Int32Array(65);
      owner.fpu.set(cpu.xmm);
      owner.fpu[64] = cpu.mxcsr;
    }
    if (u.fpu === null) {
      cpu.xmm.fill(0);
      cpu.mxcsr = 0x1f80;
    } else {
      cpu.xmm.set(u.fpu.subarray(0, 64));
      cpu.mxcsr = u.fpu[64]!;
    }
    this.fpuOwner[core.id] = u;
  }

  /** The exit path to `u`: restores its registers from its TCB and returns to user mode
   *  with SYSRET (after a system call or at first run) or IRETQ (after an interrupt). */
  leaveTo(core: Core, u: Thread): void {
    this.switchTo(core, u);
    this.switchFpu(core, u);
    for (const x of this.extensions) x.beforeExit(this, core, u);
    const P = this.paths;
    core.run(P.exit);
    let rip = 0;
    let rflags = 0x202;
    for (const s of this.personality.tcb.saved) {
      if (s.reg === REG_RIP) rip = core.load64(u.tcb + s.offset);
      else if (s.reg === REG_RFLAGS) rflags = core.load64(u.tcb + s.offset);
      else core.loadReg(u.tcb + s.offset, s.reg);
    }
    const space = u.process.space;
    const userCr3 =
      BigInt(space.userRoot) |
      (this.config.pcid ? BigInt(space.asid | KPTI_USER_PCID_BIT) | NO_FLUSH : 0n);
    if (u.entry === EntryKind.Interrupt) {
      for (const s of this.personality.tcb.trapSaved) core.loadReg(u.tcb + s.offset, s.reg);
      const userRsp = core.regs.get(R.RSP);
      core.run(P.iretFrame);
      const sp = this.irqStackTop[core.id]! - 48;
      const frame = [rip, 0x33, rflags | 0x200, userRsp, 0x2b];
      for (let i = 0; i < 5; i++) core.store64(sp + i * 8, frame[i]!);
      this.mitigations.beforeReturn(core);
      if (this.config.kpti) {
        core.run(P.kptiLeave);
        movToCr3(core, P.kptiLeaveCr3, userCr3);
      }
      core.regs.set(R.RSP, sp);
      iretq(core, P.iret);
    } else {
      this.mitigations.beforeReturn(core);
      if (this.config.kpti) {
        core.run(P.kptiLeave);
        movToCr3(core, P.kptiLeaveCr3, userCr3);
      }
      core.regs.set(R.RCX, rip);
      core.regs.set(11, rflags | 0x200);
      sysret(core, P.sysret);
    }
    u.state = ThreadState.Running;
    core.userOwner = u.process.owner;
    // A thread resumed inside a server's view counts as that server (attribution only).
    const eptp = core.vmcs?.eptp;
    core.setOwner(
      (eptp === undefined ? undefined : this.machine.owners.byView.get(eptp)) ?? u.process.owner,
    );
  }

  // ---- Running ---------------------------------------------------------------------------

  /** Whether `core` has anything to do: a thread, a ready one it can already see, or an
   *  interrupt to wait for. */
  private hasWork(core: Core): boolean {
    return (
      this.current[core.id] !== null ||
      this.visibleReady(core) ||
      (core.pending.length > 0 && this.anyAlive(core))
    );
  }

  /** A thread ready on `core` whose becoming ready is not in this core's future. */
  private visibleReady(core: Core): boolean {
    return this.threads.some(
      (t) => t.core === core && t.state === ThreadState.Ready && t.readyAt <= core.cycles,
    );
  }

  private anyAlive(core: Core): boolean {
    return this.threads.some((t) => t.core === core && t.alive && t.state !== ThreadState.Inactive);
  }

  /** Runs until no core has work (by default also when only timer ticks are left to come,
   *  see quiescent), or `maxSteps` steps. Returns the steps taken. */
  run(maxSteps = 1_000_000, opts: { stopWhenQuiescent?: boolean } = {}): number {
    const stopWhenQuiescent = opts.stopWhenQuiescent ?? true;
    let steps = 0;
    while (steps < maxSteps) {
      if (stopWhenQuiescent && this.quiescent()) break;
      const core = this.machine.nextCore((c) => this.hasWork(c));
      if (core === undefined) break;
      this.step(core);
      steps++;
    }
    return steps;
  }

  /**
   * Nothing can happen any more: no core runs a thread, none is ready, and the only
   * interrupts still to come are timer ticks, which wake no blocked thread. (Without this a
   * run with the timer on would tick forever once every thread is blocked or done.)
   */
  private quiescent(): boolean {
    if (this.current.some((t) => t !== null)) return false;
    if (this.threads.some((t) => t.state === ThreadState.Ready)) return false;
    return this.machine.cores.every((c) => c.pending.every((p) => p.vector === TIMER_VECTOR));
  }

  /** One step on `core`: kernel work, then the chosen thread's user code until it stops. */
  step(core: Core): void {
    let t = this.current[core.id] ?? null;
    if (t === null) {
      const next = this.idle(core);
      if (next === null) return;
      t = next;
    }
    if (!t.alive) {
      // Stopped by another core while it ran here: this core is in its user mode until
      // the interrupt that says so arrives; then the kernel chooses another thread.
      this.machine.halt(core);
      const vector = this.machine.deliverInterrupt(core);
      this.current[core.id] = null;
      this.enterFromTrap(core, null, this.paths.interruptEntry);
      this.onInterrupt(core, null, vector);
      return;
    }
    if (t.code === null) t.code = this.bodies.get(t)!(new UserApi(this.machine, t));
    let ev: IteratorResult<unknown, void>;
    try {
      ev = t.code.next();
    } catch (e) {
      if (!(e instanceof Trap)) throw e;
      this.onTrap(core, t, e);
      return;
    }
    if (ev.done) return this.onThreadReturn(core, t);
    const e = ev.value as UserEvent;
    if (e.kind === 'syscall') {
      this.enterFromSyscall(core, t);
      if (this.extensions.some((x) => x.onSyscall?.(this, core, t) === true))
        return this.leaveTo(core, t);
      const next =
        (t.process.syscalls ?? this.personality).syscall(this, core, t) ?? this.chooseThread(core);
      this.dispatch(core, next);
    } else if (e.kind === 'trap') {
      this.onTrap(core, t, e.trap);
    } else if (e.kind === 'limit') {
      this.onBudgetSpent(core, t);
    } else if (this.machine.interruptDue(core)) {
      const vector = this.machine.deliverInterrupt(core);
      this.enterFromTrap(core, t, this.paths.interruptEntry);
      this.onInterrupt(core, t, vector);
    }
  }

  /** Leaves the kernel to `next`, or parks the core when there is nothing to run. */
  dispatch(core: Core, next: Thread | null): void {
    if (next === null) {
      this.current[core.id] = null;
      return;
    }
    this.leaveTo(core, next);
  }

  /** A core with no current thread: pick a ready one it can see, or sleep until an
   *  interrupt (a remote wake-up always comes with one). */
  private idle(core: Core): Thread | null {
    if (this.visibleReady(core)) {
      const t = this.chooseThread(core);
      if (t !== null) {
        this.leaveTo(core, t);
        return t;
      }
    }
    if (core.pending.length === 0) return null;
    // The idle loop runs on the core's own kernel stack: the interrupt that wakes it pushes
    // its frame there (CPL 0, no stack switch), never on the last thread's user stack, and
    // the frame is dropped with the stack at the next idle.
    core.regs.set(R.RSP, this.kernelStackTop[core.id]!);
    this.machine.halt(core);
    core.rflags |= 0x200;
    const vector = this.machine.deliverInterrupt(core);
    this.enterFromTrap(core, null, this.paths.interruptEntry);
    this.onInterrupt(core, null, vector);
    return this.current[core.id] ?? null;
  }

  private onInterrupt(core: Core, t: Thread | null, vector: number): void {
    if (vector === TIMER_VECTOR) {
      core.run(this.paths.timer);
      this.machine.setTimer(core, core.cycles + this.config.tickCycles, TIMER_VECTOR);
      if (t !== null) {
        for (const x of this.extensions) x.onTick?.(this, core, t);
        const left = (this.slices.get(t) ?? this.config.timesliceTicks) - 1;
        if (left > 0) {
          this.slices.set(t, left);
          return this.leaveTo(core, t);
        }
        this.slices.delete(t);
        this.makeReady(core, t);
      }
    } else if (t !== null) {
      this.makeReady(core, t);
    }
    this.dispatch(core, this.chooseThread(core));
  }

  /** A fault or VM exit out of user code: the thread (or its process) is stopped. */
  private onTrap(core: Core, t: Thread, trap: Trap): void {
    const ev = trap.event;
    if (ev.kind === 'vmexit') {
      const out = this.rk.handleExit(core, trap);
      if (out.kind === 'violation') {
        // The Rootkernel re-entered the guest at the kernel's upcall, in CPL 0.
        this.enterFromTrap(core, null, this.paths.fault);
        for (const x of this.extensions) x.onEntry?.(this, core, t);
        if (this.extensions.some((x) => x.onFault?.(this, core, t, out.rip) === true))
          return this.leaveTo(core, t);
        this.killProcess(
          core,
          t.process,
          `VM exit ${out.reason} at ${out.rip.toString(16)} (guest-physical ${out.guestPhysical.toString(16)})`,
        );
      } else if (t.machineCode) {
        // Emulated (CPUID) and resumed in user mode after the instruction: the interpreter
        // goes on from there.
        return;
      } else {
        // Emulated and resumed in user mode, but the thread's code unwound: it ends here.
        syscallInsn(core, USER_TEXT);
        this.enterFromSyscall(core, t);
        this.stopThread(core, t, `VM exit ${ev.reason} in user code`);
      }
    } else {
      const withError = ev.kind === 'exception' && [8, 10, 11, 12, 13, 14, 17].includes(ev.vector);
      this.enterFromTrap(core, t, this.paths.fault, withError);
      const rip = ev.kind === 'exception' ? Number(ev.rip) : -1;
      if (this.extensions.some((x) => x.onFault?.(this, core, t, rip) === true))
        return this.leaveTo(core, t);
      const what =
        ev.kind === 'exception'
          ? `exception ${ev.vector} at ${ev.rip.toString(16)}${ev.vector === 14 ? ` (address ${ev.cr2.toString(16)}, error ${ev.errorCode})` : ''}`
          : trap.message;
      this.stopThread(core, t, what);
    }
    this.current[core.id] = null;
    this.dispatch(core, this.chooseThread(core));
  }

  /**
   * A machine-code thread used up the instruction budget its runner gave it (`skybridge run
   * --max-instructions`): the kernel takes control as at a timer interrupt (delivered now
   * through the IDT, entered like any interrupt) and kills the process.
   */
  private onBudgetSpent(core: Core, t: Thread): void {
    this.machine.post(core, core.cycles, TIMER_VECTOR);
    this.machine.deliverInterrupt(core);
    this.enterFromTrap(core, t, this.paths.interruptEntry);
    this.killProcess(core, t.process, 'instruction budget spent');
    this.current[core.id] = null;
    this.dispatch(core, this.chooseThread(core));
  }

  private onThreadReturn(core: Core, t: Thread): void {
    // The body returned: it ends with the exit system call at the image's first byte.
    syscallInsn(core, USER_TEXT);
    this.enterFromSyscall(core, t);
    core.run(this.paths.threadExit);
    t.state = ThreadState.Exited;
    t.code = null;
    this.personality.onStop(this, core, t);
    this.current[core.id] = null;
    this.dispatch(core, this.chooseThread(core));
  }

  /** Stops one thread: it never runs again; the personality detaches it from its objects. */
  stopThread(core: Core, t: Thread, reason: string): void {
    if (!t.alive) return;
    if (t.state === ThreadState.Ready) this.queues[t.core.id]!.dequeue(core, t);
    t.state = ThreadState.Stopped;
    t.exitReason = reason;
    t.code = null;
    this.personality.onStop(this, core, t);
    for (const x of this.extensions) x.onStop?.(this, core, t);
    if (this.current[t.core.id] !== t) return;
    if (t.core === core) {
      this.current[core.id] = null;
    } else {
      // Running on another core: tell it (seL4 SMP: remote stall by IPI); it leaves the
      // thread when the interrupt arrives (step).
      const P = this.paths;
      core.run(P.ipiSend);
      this.machine.sendIpi(core, P.ipiWrmsr, t.core.id, RESCHEDULE_VECTOR);
    }
  }

  /** `t` ends by its own request (Linux's exit of one thread): it never runs again. */
  exitThread(core: Core, t: Thread, reason: string): void {
    this.stopThread(core, t, reason);
    t.state = ThreadState.Exited;
  }

  /** Stops every thread of `p` (a violation is the process's, not one thread's). */
  killProcess(core: Core, p: Process, reason: string): void {
    p.killed = true;
    p.killReason = reason;
    for (const t of p.threads) this.stopThread(core, t, reason);
    for (const x of this.extensions) x.onKill?.(this, core, p);
  }
}
