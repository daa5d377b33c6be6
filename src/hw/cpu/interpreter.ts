// The user-mode interpreter of one core: fetches at RIP through the ITLB, the guest page
// tables, the current EPT view and the L1I; looks the instruction up in the decode cache by
// host-physical address (decoding it with iced-x86 on a miss); executes it; retires it with
// its class's cost. Memory operands go through the same MMU and caches as every access.
// Instructions with an architectural effect beyond user state (SYSCALL, VMFUNC, RDTSC,
// CPUID) go through isa.ts and vmx.ts; faults are delivered with Core.raiseException, which
// throws the Trap that the kernel catches.

import { C } from '../counters.ts';
import type { Core } from '../core.ts';
import { AccessKind } from '../memory-hierarchy.ts';
import { Access } from '../translation-state.ts';
import { Vector } from '../traps.ts';
import type { DecodeCache } from './decode-cache.ts';
import { decodeOne } from './decode.ts';
import { execInt } from './exec-int.ts';
import { execSse } from './exec-sse.ts';
import { execString } from './exec-string.ts';
import { ARITH, Flags } from './flags.ts';
import { Cls, type Insn, K, Op } from './insn.ts';

const TWO32 = 4294967296;

/** Why run() returned. */
export const enum Stop {
  /** The thread executed SYSCALL: the core is in the kernel at IA32_LSTAR. */
  Syscall = 0,
  /** The core's clock reached the limit (the quantum ended or an interrupt is due). */
  Limit = 1,
  /** RIP reached the address the caller asked to stop at (tests). */
  StopAt = 2,
  /** The instruction budget ran out. */
  MaxInstructions = 3,
}

/** What an instruction handler tells the loop. */
export const enum Done {
  /** Retire it (count and charge its class). */
  Next = 0,
  /** SYSCALL ran (it retired itself): stop. */
  Syscall = 1,
  /** It retired itself (VMFUNC, RDTSC, CPUID); the translation context may have changed. */
  Self = 2,
  /** A REP string instruction stopped between iterations (the budget ran out): RIP stays
   *  at it, its registers say how far it got, and it resumes there. */
  Partial = 3,
}

export class Interpreter {
  readonly flags = new Flags();
  /** XMM0..15, four 32-bit lanes each (lane 0 lowest). */
  readonly xmm = new Int32Array(64);
  /** MXCSR (all exceptions masked, round to nearest: its reset value). */
  mxcsr = 0x1f80;
  /** FS.base for user code (set by the kernel; no user instruction writes it here). */
  fsBase = 0;
  /** The value last read by get()/read(), in two halves. */
  vLo = 0;
  vHi = 0;
  /** The current instruction's address and the next one's. */
  rip = 0;
  next = 0;
  /** Cycles for a taken branch beyond the class's cost (set by handlers). */
  extra = 0;
  /** Instructions the last run() retired, counted as the instruction counter counts them
   *  (each REP iteration one, valgrind's convention). */
  executed = 0;
  /** What is left of the current run's instruction budget (REP iterations check it). */
  left = 0;
  /** The last offset() computed, in two halves. */
  eaLo = 0;
  eaHi = 0;
  private la = 0;
  private laValid = false;
  private readonly costs: Float64Array;
  private lastLine = -1;
  private pageVa = -1;
  private pageHpa = 0;
  private table: (Insn | undefined)[] = [];
  private gen = -1;
  private readonly tlbL1: number;
  private readonly l1i: number;

  constructor(
    readonly core: Core,
    readonly cache: DecodeCache,
  ) {
    const p = core.profile;
    this.costs = core.classCost;
    this.tlbL1 = p.tlb.l1Latency;
    this.l1i = p.caches.l1i.latency;
  }

  /**
   * Runs user code from core.rip until SYSCALL, the core's clock reaching `limit`, RIP
   * reaching `stopAt`, or `maxInstructions` retired. A fault throws the Trap of its delivery.
   */
  run(limit: number, stopAt = -1, maxInstructions = Infinity): Stop {
    const core = this.core;
    this.flags.setRaw(core.rflags);
    this.lastLine = -1;
    this.pageVa = -1;
    // A finite budget either way, so that executed = budget - left is exact.
    const budget = Math.min(maxInstructions, Number.MAX_SAFE_INTEGER);
    this.left = budget;
    try {
      for (;;) {
        if (core.cycles >= limit) return Stop.Limit;
        const rip = core.rip;
        if (rip === stopAt) return Stop.StopAt;
        if (this.left <= 0) return Stop.MaxInstructions;
        const d = this.fetchDecode(rip);
        this.rip = rip;
        this.next = rip + d.len;
        this.laValid = false;
        this.extra = 0;
        const done = this.execute(d);
        if (done === Done.Next) {
          this.left--;
          core.ctr[C.instructions]++;
          core.charge(this.costs[d.cls]! + this.extra);
          core.rip = this.next;
        } else if (done === Done.Syscall) {
          this.left--;
          return Stop.Syscall;
        } else if (done === Done.Self) {
          this.left--;
          this.lastLine = -1;
          this.pageVa = -1;
        }
      }
    } finally {
      this.executed = budget - this.left;
      this.syncFlags();
    }
  }

  /** Writes the lazily kept arithmetic flags into core.rflags. */
  syncFlags(): void {
    this.core.rflags = (this.core.rflags & ~ARITH) | this.flags.get();
  }

  /** Cost of one more retired instruction of class `cls` (rep iterations). */
  retireExtra(cls: Cls, count: number): void {
    this.left -= count;
    this.core.ctr[C.instructions] += count;
    this.core.charge(this.costs[cls]! * count);
  }

  private execute(d: Insn): Done {
    if (d.op >= Op.MovXmm) return execSse(this, d);
    if (d.op >= Op.Movs && d.op <= Op.Cmps) return execString(this, d);
    return execInt(this, d);
  }

  // ---- Faults ---------------------------------------------------------------------------

  /** Delivers exception `vector` at the current instruction. */
  fault(vector: number, errorCode = -1): never {
    this.core.rip = this.rip;
    this.syncFlags();
    return this.core.raiseException(vector, errorCode);
  }

  // ---- Fetch and decode -----------------------------------------------------------------

  private fetchLine(la: number): number {
    const core = this.core;
    const hpa = core.mmu.translate(la, Access.Fetch);
    if (hpa < 0) {
      this.syncFlags();
      core.raiseTranslationFault(Access.Fetch);
    }
    const lat = core.env.caches.access(core.id, hpa, AccessKind.Fetch, core.owner, core.ctr);
    core.ctr[C.fetches]++;
    const t = core.ts.outLatency - this.tlbL1;
    const m = lat - this.l1i;
    if (t > 0 || m > 0) core.charge((t > 0 ? t : 0) + (m > 0 ? m : 0));
    this.lastLine = Math.floor(la / 64);
    const va = la - (la % 4096);
    if (va !== this.pageVa || this.gen !== this.cache.generation) {
      this.pageVa = va;
      this.pageHpa = hpa - (la % 4096);
      this.table = this.cache.page(this.pageHpa / 4096);
      this.gen = this.cache.generation;
    }
    return hpa;
  }

  private fetchDecode(rip: number): Insn {
    this.core.rip = rip;
    if (this.gen !== this.cache.generation) this.lastLine = -1;
    if (Math.floor(rip / 64) !== this.lastLine) this.fetchLine(rip);
    const off = rip - this.pageVa;
    let d = this.table[off];
    if (d === undefined) {
      d = this.decodeAt(rip, off);
    }
    // An instruction that ends in another line fetches that line too.
    const last = rip + d.len - 1;
    if (Math.floor(last / 64) !== this.lastLine) this.fetchLine(last);
    return d;
  }

  private decodeAt(rip: number, off: number): Insn {
    const mem = this.core.env.mem;
    const avail = 4096 - off;
    const first = mem.readBytes(this.pageHpa + off, Math.min(15, avail));
    let { insn, incomplete } = decodeOne(first, rip);
    if (!incomplete) {
      this.table[off] = insn;
      return insn;
    }
    // It continues on the next page: translate that page too (it may fault), never cache.
    const core = this.core;
    const hpa2 = core.mmu.translate(rip + avail, Access.Fetch);
    if (hpa2 < 0) {
      this.syncFlags();
      core.raiseTranslationFault(Access.Fetch);
    }
    const both = new Uint8Array(15);
    both.set(first);
    both.set(mem.readBytes(hpa2, 15 - avail), avail);
    ({ insn, incomplete } = decodeOne(both, rip));
    return insn;
  }

  // ---- Operands -------------------------------------------------------------------------

  /**
   * The effective address of `d`'s memory operand into eaLo/eaHi: base + index·scale +
   * displacement modulo 2^64 (2^32 with a 32-bit address size), before any segment base —
   * what LEA yields (SDM Vol. 1 §3.7.5).
   */
  offset(d: Insn): void {
    const lo = this.core.regs.lo;
    const hi = this.core.regs.hi;
    let l = d.dispLo >>> 0;
    let h = d.dispHi;
    if (d.base === 16) {
      const n = this.next;
      const nh = Math.floor(n / TWO32);
      l += n - nh * TWO32;
      h += nh;
    } else if (d.base >= 0) {
      l += lo[d.base]! >>> 0;
      h += hi[d.base]!;
    }
    if (d.index >= 0) {
      const s = d.scaleShift;
      const il = lo[d.index]!;
      const ih = hi[d.index]!;
      l += (il << s) >>> 0;
      h += s === 0 ? ih : (ih << s) | (il >>> (32 - s));
    }
    const c = Math.floor(l / TWO32);
    this.eaLo = (l - c * TWO32) | 0;
    this.eaHi = d.addr32 ? 0 : (h + c) | 0;
  }

  /** The linear address of `d`'s memory operand: its offset plus FS.base or GS.base under a
   *  segment prefix; #GP(0) (#SS(0) for a stack-based reference) if it is not canonical.
   *  Model addresses are 48-bit numbers. */
  ea(d: Insn): number {
    if (this.laValid) return this.la;
    this.offset(d);
    let l = this.eaLo >>> 0;
    let h = this.eaHi;
    if (d.seg !== 0) {
      const b = d.seg === 1 ? this.fsBase : this.core.gsBase;
      const bh = Math.floor(b / TWO32);
      l += b - bh * TWO32;
      h += bh + (l >= TWO32 ? 1 : 0);
      l = l >>> 0;
    }
    const la = this.canonical(l, h | 0, d.base === 4 || d.base === 5 ? Vector.SS : Vector.GP);
    this.la = la;
    this.laValid = true;
    return la;
  }

  /** Translates and charges one data access within one line; returns its host-physical
   *  address (a fault is delivered at the current instruction). */
  private access(la: number, write: boolean): number {
    const core = this.core;
    const hpa = core.mmu.translate(la, write ? Access.Write : Access.Read);
    if (hpa < 0) {
      core.rip = this.rip;
      this.syncFlags();
      core.raiseTranslationFault(write ? Access.Write : Access.Read);
    }
    core.ctr[write ? C.stores : C.loads]++;
    core.chargeBeyondHits(hpa, write);
    return hpa;
  }

  /** Reads `size` (1, 2, 4, 8) bytes at `la` into vLo/vHi (zero-extended). */
  read(la: number, size: number): void {
    const mem = this.core.env.mem;
    if ((la % 64) + size <= 64) {
      const hpa = this.access(la, false);
      if (size === 8) {
        this.vLo = mem.readU32(hpa) | 0;
        this.vHi = mem.readU32(hpa + 4) | 0;
      } else {
        this.vLo =
          size === 4 ? mem.readU32(hpa) | 0 : size === 2 ? mem.read16(hpa) : mem.read8(hpa);
        this.vHi = 0;
      }
      return;
    }
    // Split across two lines (and maybe pages): two accesses, bytes assembled.
    const n1 = 64 - (la % 64);
    const h1 = this.access(la, false);
    const h2 = this.access(la + n1, false);
    let lo = 0;
    let hi = 0;
    for (let i = size - 1; i >= 0; i--) {
      const b = i < n1 ? mem.read8(h1 + i) : mem.read8(h2 + i - n1);
      if (i >= 4) hi = (hi << 8) | b;
      else lo = (lo << 8) | b;
    }
    this.vLo = lo | 0;
    this.vHi = hi | 0;
  }

  /** Writes the low `size` bytes of (lo, hi) at `la`. */
  write(la: number, size: number, lo: number, hi: number): void {
    const mem = this.core.env.mem;
    if ((la % 64) + size <= 64) {
      const hpa = this.access(la, true);
      if (size === 8) {
        mem.writeU32(hpa, lo);
        mem.writeU32(hpa + 4, hi);
      } else if (size === 4) mem.writeU32(hpa, lo);
      else if (size === 2) mem.write16(hpa, lo & 0xffff);
      else mem.write8(hpa, lo & 0xff);
      return;
    }
    const n1 = 64 - (la % 64);
    const h1 = this.access(la, true);
    const h2 = this.access(la + n1, true);
    for (let i = 0; i < size; i++) {
      const b = (i < 4 ? lo >>> (8 * i) : hi >>> (8 * (i - 4))) & 0xff;
      if (i < n1) mem.write8(h1 + i, b);
      else mem.write8(h2 + i - n1, b);
    }
  }

  /** Reads operand (kind k, register r) of `d` at `size` bytes into vLo/vHi. */
  get(d: Insn, k: K, r: number, size: number): void {
    const regs = this.core.regs;
    switch (k) {
      case K.Reg: {
        const l = regs.lo[r]!;
        if (size === 8) {
          this.vLo = l;
          this.vHi = regs.hi[r]!;
        } else {
          this.vLo = size === 4 ? l : size === 2 ? l & 0xffff : l & 0xff;
          this.vHi = 0;
        }
        return;
      }
      case K.Hi8:
        this.vLo = (regs.lo[r]! >>> 8) & 0xff;
        this.vHi = 0;
        return;
      case K.Imm:
        if (size === 8) {
          this.vLo = d.immLo;
          this.vHi = d.immHi;
        } else {
          this.vLo = size === 4 ? d.immLo : size === 2 ? d.immLo & 0xffff : d.immLo & 0xff;
          this.vHi = 0;
        }
        return;
      case K.Mem:
        this.read(this.ea(d), size);
        return;
      default:
        this.fault(Vector.UD);
    }
  }

  /** Writes (lo, hi) to operand (k, r) of `d` at `size` bytes; a 32-bit register write
   *  zero-extends to 64 bits, 8- and 16-bit writes merge (SDM Vol. 1 §3.4.1.1). */
  put(d: Insn, k: K, r: number, size: number, lo: number, hi: number): void {
    const regs = this.core.regs;
    switch (k) {
      case K.Reg:
        if (size === 8) {
          regs.lo[r] = lo;
          regs.hi[r] = hi;
        } else if (size === 4) {
          regs.lo[r] = lo;
          regs.hi[r] = 0;
        } else if (size === 2) regs.lo[r] = (regs.lo[r]! & ~0xffff) | (lo & 0xffff);
        else regs.lo[r] = (regs.lo[r]! & ~0xff) | (lo & 0xff);
        return;
      case K.Hi8:
        regs.lo[r] = (regs.lo[r]! & ~0xff00) | ((lo & 0xff) << 8);
        return;
      case K.Mem:
        this.write(this.ea(d), size, lo, hi);
        return;
      default:
        this.fault(Vector.UD);
    }
  }

  /** Pushes a value of `size` (8, or 2 with an operand-size prefix); RSP changes only if
   *  the store succeeds. */
  push(lo: number, hi: number, size = 8): void {
    const regs = this.core.regs;
    const sl = (regs.lo[4]! >>> 0) - size;
    const nLo = sl | 0;
    const nHi = (regs.hi[4]! - (sl < 0 ? 1 : 0)) | 0;
    this.write(this.canonical(nLo, nHi, Vector.SS), size, lo, hi);
    regs.lo[4] = nLo;
    regs.hi[4] = nHi;
  }

  /** Pops a value of `size` (8 or 2) into vLo/vHi. */
  pop(size = 8): void {
    const regs = this.core.regs;
    const l = regs.lo[4]!;
    const h = regs.hi[4]!;
    this.read(this.canonical(l, h, Vector.SS), size);
    const sl = (l >>> 0) + size;
    regs.lo[4] = sl | 0;
    regs.hi[4] = (h + (sl >= TWO32 ? 1 : 0)) | 0;
  }

  /** The model's 48-bit linear address for the 64-bit (lo, hi), or `vector`(0) if it is
   *  not canonical (#SS for the stack, #GP otherwise). */
  canonical(lo: number, hi: number, vector: number): number {
    if (hi >= 0 && hi < 0x8000) return hi * TWO32 + (lo >>> 0);
    if (hi < 0 && hi >= -0x8000) return (hi & 0xffff) * TWO32 + (lo >>> 0);
    return this.fault(vector, 0);
  }
}
