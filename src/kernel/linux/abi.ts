// The Linux system calls a static program needs to run under `skybridge run`: write (to the
// console), exit/exit_group, brk, anonymous mmap/munmap, clock_gettime and getrandom, with
// Linux's numbers, registers and error values (x86-64 syscall ABI: number in RAX, arguments
// in RDI RSI RDX R10 R8 R9, result or -errno in RAX). It is a compatibility layer inside the
// Subkernel, as a microkernel's POSIX server would be outside it; anything else returns
// -ENOSYS and is named once in `warnings`.
//
// Costs: the common entry/exit paths are the kernel personality's; each call adds a kernel
// block (instruction counts are estimates of Linux's own handlers, named below), and the
// bytes it copies are real loads and stores. Page-table writes for brk/mmap are uncharged,
// as at load time (a known undercharge).

import { createHash } from 'node:crypto';
import { R } from '../../hw/core.ts';
import type { Core } from '../../hw/core.ts';
import { invlpg } from '../../hw/isa.ts';
import type { CodeLayout, Block } from '../code-layout.ts';
import { COMMON_KERNEL } from '../kernel-mixes.ts';
import type { Process, SyscallInterface } from '../process.ts';
import type { KernelExtension, Subkernel } from '../subkernel.ts';
import type { Thread } from '../thread.ts';
import { copyIn, copyOut } from '../user-memory.ts';
import { USER_IPC_BUFFERS } from '../layout.ts';

export const NR = {
  write: 1,
  mmap: 9,
  munmap: 11,
  brk: 12,
  exit: 60,
  clock_gettime: 228,
  exit_group: 231,
  getrandom: 318,
} as const;

/** Names of other common calls, for the warning about an unsupported one. */
const OTHER_NAMES: Record<number, string> = {
  0: 'read',
  2: 'open',
  3: 'close',
  5: 'fstat',
  10: 'mprotect',
  13: 'rt_sigaction',
  14: 'rt_sigprocmask',
  16: 'ioctl',
  20: 'writev',
  39: 'getpid',
  63: 'uname',
  158: 'arch_prctl',
  186: 'gettid',
  218: 'set_tid_address',
  257: 'openat',
  302: 'prlimit64',
  334: 'rseq',
};

const E = { BADF: 9, NOMEM: 12, ACCES: 13, FAULT: 14, INVAL: 22, NOSYS: 38 } as const;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
/** Anonymous mappings are placed downwards from here (Linux's mmap_base is below the
 *  stack too); the brk heap may grow up to USER_IPC_BUFFERS. */
const MMAP_TOP = 0x7f00_0000_0000;
const MMAP_BOTTOM = 0x4000_0000_0000;

interface Paths {
  dispatch: Block;
  write: Block;
  brk: Block;
  mmap: Block;
  perPage: Block;
  clock: Block;
  random: Block;
  exit: Block;
  invlpg: number;
}

export interface LinuxAbiOptions {
  /** Seed of getrandom's bytes (deterministic). */
  seed: number;
  /** Clock for clock_gettime, in GHz (simulated cycles → nanoseconds). */
  frequencyGHz: number;
}

/** One program's Linux interface: its console output, exit status and heap. */
export class LinuxAbi implements SyscallInterface, KernelExtension {
  /** Every write to the console in the order the program made them (fd 1 or 2). */
  readonly console: { fd: 1 | 2; bytes: Uint8Array }[] = [];
  exitStatus: number | null = null;
  readonly warnings: string[] = [];
  private paths: Paths | null = null;
  private brkStart = 0;
  private brkEnd = 0;
  private brkMapped = 0;
  private mmapNext = MMAP_TOP;
  private randomCounter = 0;
  private readonly warned = new Set<number>();

  constructor(readonly o: LinuxAbiOptions) {}

  /** Gives `p` this interface; its heap starts at `brkStart` (page-aligned). */
  attach(p: Process, brkStart: number): void {
    p.syscalls = this;
    this.brkStart = this.brkEnd = this.brkMapped = brkStart;
  }

  // ---- KernelExtension: the handlers' text, laid out at boot ---------------------------

  layoutKernel(t: CodeLayout): void {
    t.use(COMMON_KERNEL);
    t.align(64);
    // Estimates after Linux 6.x: do_syscall_64's table dispatch ~20; ksys_write → tty write
    // ~60; brk ~80 (+ ~30 per page mapped, handle_mm_fault-free since pages are populated);
    // mmap_region ~120; clock_gettime's posix_ktime_get_ts ~40; getrandom ~50; do_exit ~30.
    this.paths = {
      dispatch: t.block(20, 64),
      write: t.block(60, 200),
      brk: t.block(80, 260),
      mmap: t.block(120, 400),
      perPage: t.block(30, 100),
      clock: t.block(40, 128),
      random: t.block(50, 160),
      exit: t.block(30, 96),
      invlpg: t.insn('invlpgRax'),
    };
  }
  boot(): void {}
  beforeExit(): void {}

  // ---- SyscallInterface --------------------------------------------------------------

  syscall(k: Subkernel, core: Core, t: Thread): Thread | null {
    const P = this.paths!;
    core.run(P.dispatch);
    const g = core.regs;
    const nr = g.get(R.RAX);
    const a = [g.get(R.RDI), g.get(R.RSI), g.get(R.RDX), g.get(10), g.get(8), g.get(9)];
    let ret: number;
    switch (nr) {
      case NR.write:
        ret = this.write(k, core, t, g.lo[R.RDI]!, a[1]!, a[2]!);
        break;
      case NR.brk:
        ret = this.brk(k, core, t, a[0]!);
        break;
      case NR.mmap:
        ret = this.mmap(k, core, t, a[1]!, g.lo[R.RDX]!, g.lo[10]!, g.lo[8]!);
        break;
      case NR.munmap:
        ret = this.munmap(core, t, a[0]!, a[1]!);
        break;
      case NR.clock_gettime:
        ret = this.clockGettime(k, core, t, a[0]!, a[1]!);
        break;
      case NR.getrandom:
        ret = this.getrandom(k, core, t, a[0]!, a[1]!);
        break;
      case NR.exit:
      case NR.exit_group:
        core.run(P.exit);
        // exit ends the calling thread; the process ends with its last thread (Linux).
        if (nr === NR.exit && t.process.threads.some((u) => u !== t && u.alive)) {
          k.exitThread(core, t, `exit(${g.lo[R.RDI]! & 0xff})`);
          return null;
        }
        this.exitStatus = g.lo[R.RDI]! & 0xff;
        k.killProcess(core, t.process, `exit(${this.exitStatus})`);
        return null;
      default:
        if (!this.warned.has(nr)) {
          this.warned.add(nr);
          const name = OTHER_NAMES[nr];
          this.warnings.push(
            `system call ${nr}${name !== undefined ? ` (${name})` : ''} is not supported: returned -ENOSYS`,
          );
        }
        ret = -E.NOSYS;
    }
    // The result goes where the exit path restores RAX from: the TCB's RAX slot.
    g.set(R.RAX, ret);
    const slot = k.personality.tcb.saved.find((s) => s.reg === R.RAX)!;
    core.storeReg(t.tcb + slot.offset, R.RAX);
    return t;
  }

  private write(k: Subkernel, core: Core, t: Thread, fd: number, buf: number, n: number): number {
    const P = this.paths!;
    core.run(P.write);
    if (fd !== 1 && fd !== 2) return -E.BADF;
    if (n === 0) return 0;
    const bytes = n > 2 ** 31 ? null : copyIn(k, core, t, buf, n);
    if (bytes === null) return -E.FAULT;
    this.console.push({ fd, bytes });
    return n;
  }

  /** brk: the new end on success, the current one on failure (Linux's convention). */
  private brk(k: Subkernel, core: Core, t: Thread, want: number): number {
    const P = this.paths!;
    core.run(P.brk);
    if (want < this.brkStart || want > USER_IPC_BUFFERS) return this.brkEnd;
    const space = t.process.space;
    while (this.brkMapped < want) {
      core.run(P.perPage);
      space.map(this.brkMapped, k.frames.frame(), 4096, { writable: true, noExec: true });
      this.brkMapped += 4096;
    }
    // Shrinking keeps the pages mapped (Linux would unmap them; a program cannot tell unless
    // it touches memory it gave back).
    this.brkEnd = want;
    return want;
  }

  private mmap(
    k: Subkernel,
    core: Core,
    t: Thread,
    len: number,
    prot: number,
    flags: number,
    fd: number,
  ): number {
    const P = this.paths!;
    core.run(P.mmap);
    if (len === 0 || len > 2 ** 40) return -E.INVAL;
    if ((flags & MAP_ANONYMOUS) === 0 || fd !== -1) return -E.NOSYS; // files: none here
    if ((flags & MAP_PRIVATE) === 0 || (flags & MAP_FIXED) !== 0) return -E.INVAL;
    // W^X for every page of the process, as at load time (SkyBridge's rule: no page becomes
    // executable except through the loader's scan; anonymous pages start as zeros).
    if ((prot & PROT_WRITE) !== 0 && (prot & PROT_EXEC) !== 0) return -E.ACCES;
    const bytes = Math.ceil(len / 4096) * 4096;
    if (this.mmapNext - bytes < MMAP_BOTTOM) return -E.NOMEM;
    this.mmapNext -= bytes;
    const at = this.mmapNext;
    for (let off = 0; off < bytes; off += 4096) {
      core.run(P.perPage);
      t.process.space.map(at + off, k.frames.frame(), 4096, {
        writable: (prot & PROT_WRITE) !== 0,
        noExec: (prot & PROT_EXEC) === 0,
      });
    }
    return at;
  }

  private munmap(core: Core, t: Thread, at: number, len: number): number {
    const P = this.paths!;
    core.run(P.mmap);
    if (at % 4096 !== 0 || len === 0 || at + len > 0x8000_0000_0000) return -E.INVAL;
    for (let off = 0; off < len; off += 4096) {
      if (!t.process.space.unmap(at + off)) continue;
      core.run(P.perPage);
      // The process is single-threaded here: this core's TLB is the only one to flush.
      invlpg(core, P.invlpg, at + off);
    }
    return 0;
  }

  private clockGettime(k: Subkernel, core: Core, t: Thread, clock: number, tp: number): number {
    const P = this.paths!;
    core.run(P.clock);
    // CLOCK_REALTIME 0, MONOTONIC 1, PROCESS/THREAD_CPUTIME 2/3, MONOTONIC_RAW 4, *_COARSE
    // 5/6, BOOTTIME 7: all read the simulated clock (the machine has no wall time).
    if (clock > 7) return -E.INVAL;
    const ns = Math.floor(core.cycles / this.o.frequencyGHz);
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, BigInt(Math.floor(ns / 1e9)), true);
    v.setBigUint64(8, BigInt(ns % 1e9), true);
    return copyOut(k, core, t, tp, b) ? 0 : -E.FAULT;
  }

  private getrandom(k: Subkernel, core: Core, t: Thread, buf: number, n: number): number {
    const P = this.paths!;
    core.run(P.random);
    if (n > 2 ** 25) n = 2 ** 25; // Linux returns at most 32 MiB per call
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      const h = createHash('sha256')
        .update(`getrandom ${this.o.seed} ${this.randomCounter++}`)
        .digest();
      out.set(h.subarray(0, Math.min(32, n - off)), off);
    }
    return copyOut(k, core, t, buf, out) ? n : -E.FAULT;
  }
}
