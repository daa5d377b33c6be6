// Integer instructions: data movement, arithmetic and logic with their flags, control flow,
// the stack, and the system instructions a user program may execute. Each case follows its
// instruction's "Operation" and "Flags Affected" in the SDM Vol. 2.

import { cpuid, mdClear, rdtsc, syscall } from '../isa.ts';
import { vmfunc } from '../vmx.ts';
import { Vector } from '../traps.ts';
import { execBits } from './exec-bits.ts';
import { AF, CF, FK, OF, PF, SF, ZF } from './flags.ts';
import { type Insn, K, Op } from './insn.ts';
import { Done, type Interpreter } from './interpreter.ts';
import { execMulDiv } from './exec-muldiv.ts';
import { execShift } from './exec-shift.ts';

const TWO32 = 4294967296;

/** Sign-extends the low `size` bytes of (lo, hi) to 64 bits into it.vLo/vHi. */
export function signExtend(it: Interpreter, lo: number, hi: number, size: number): void {
  if (size === 8) {
    it.vLo = lo;
    it.vHi = hi;
  } else {
    const v = size === 4 ? lo | 0 : size === 2 ? (lo << 16) >> 16 : (lo << 24) >> 24;
    it.vLo = v;
    it.vHi = v >> 31;
  }
}

export function execInt(it: Interpreter, d: Insn): Done {
  const regs = it.core.regs;
  const f = it.flags;
  const size = d.size;
  switch (d.op) {
    case Op.Nop:
    case Op.Pause:
      return Done.Next;
    case Op.Mov:
      it.get(d, d.k1, d.r1, size);
      it.put(d, d.k0, d.r0, size, it.vLo, it.vHi);
      return Done.Next;
    case Op.Movzx:
      it.get(d, d.k1, d.r1, d.srcSize);
      it.put(d, d.k0, d.r0, size, it.vLo, it.vHi);
      return Done.Next;
    case Op.Movsx:
      it.get(d, d.k1, d.r1, d.srcSize);
      signExtend(it, it.vLo, it.vHi, d.srcSize);
      it.put(d, d.k0, d.r0, size, it.vLo, it.vHi);
      return Done.Next;
    case Op.Lea:
      // LEA yields the offset and never faults (no segment, no canonical check, no access).
      it.offset(d);
      it.put(d, d.k0, d.r0, size, it.eaLo, it.eaHi);
      return Done.Next;
    case Op.Xchg: {
      it.get(d, d.k0, d.r0, size);
      const aLo = it.vLo;
      const aHi = it.vHi;
      it.get(d, d.k1, d.r1, size);
      const bLo = it.vLo;
      const bHi = it.vHi;
      it.put(d, d.k1, d.r1, size, aLo, aHi);
      it.put(d, d.k0, d.r0, size, bLo, bHi);
      return Done.Next;
    }
    case Op.Cmov: {
      // The source is read (and may fault) whatever the condition; a 32-bit destination is
      // zero-extended even when the condition is false (SDM CMOVcc).
      it.get(d, d.k1, d.r1, size);
      if (f.test(d.cond)) it.put(d, d.k0, d.r0, size, it.vLo, it.vHi);
      else if (size === 4) regs.hi[d.r0] = 0;
      return Done.Next;
    }
    case Op.Setcc:
      it.put(d, d.k0, d.r0, 1, f.test(d.cond) ? 1 : 0, 0);
      return Done.Next;
    case Op.Add:
    case Op.Adc:
    case Op.Sub:
    case Op.Sbb:
    case Op.Cmp:
      return addSub(it, d);
    case Op.And:
    case Op.Or:
    case Op.Xor:
    case Op.Test: {
      it.get(d, d.k0, d.r0, size);
      const aLo = it.vLo;
      const aHi = it.vHi;
      it.get(d, d.k1, d.r1, size);
      let rLo: number;
      let rHi: number;
      if (d.op === Op.Or) {
        rLo = aLo | it.vLo;
        rHi = aHi | it.vHi;
      } else if (d.op === Op.Xor) {
        rLo = aLo ^ it.vLo;
        rHi = aHi ^ it.vHi;
      } else {
        rLo = aLo & it.vLo;
        rHi = aHi & it.vHi;
      }
      f.set(FK.Logic, size, aLo, aHi, it.vLo, it.vHi, rLo, rHi);
      if (d.op !== Op.Test) it.put(d, d.k0, d.r0, size, rLo, rHi);
      return Done.Next;
    }
    case Op.Inc:
    case Op.Dec: {
      const carry = f.cf() ? CF : 0;
      it.get(d, d.k0, d.r0, size);
      const aLo = it.vLo;
      const aHi = it.vHi;
      const inc = d.op === Op.Inc;
      const l = (aLo >>> 0) + (inc ? 1 : -1);
      const rLo = l | 0;
      const rHi = (aHi + (inc ? (l >= TWO32 ? 1 : 0) : l < 0 ? -1 : 0)) | 0;
      f.set(inc ? FK.Inc : FK.Dec, size, aLo, aHi, 1, 0, rLo, rHi);
      f.raw = carry;
      it.put(d, d.k0, d.r0, size, rLo, rHi);
      return Done.Next;
    }
    case Op.Neg: {
      it.get(d, d.k0, d.r0, size);
      const bLo = it.vLo;
      const bHi = it.vHi;
      const l = 0 - (bLo >>> 0);
      const rLo = l | 0;
      const rHi = (0 - bHi - (l < 0 ? 1 : 0)) | 0;
      f.set(FK.Sub, size, 0, 0, bLo, bHi, rLo, rHi);
      it.put(d, d.k0, d.r0, size, rLo, rHi);
      return Done.Next;
    }
    case Op.Not:
      it.get(d, d.k0, d.r0, size);
      it.put(d, d.k0, d.r0, size, ~it.vLo, ~it.vHi);
      return Done.Next;
    case Op.Cbw: {
      // CBW/CWDE/CDQE: the accumulator's lower half sign-extended into the whole.
      const half = size / 2;
      signExtend(it, regs.lo[0]!, 0, half);
      it.put(d, K.Reg, 0, size, it.vLo, it.vHi);
      return Done.Next;
    }
    case Op.Cwd: {
      // CWD/CDQ/CQO: rDX ← the sign of rAX.
      signExtend(it, regs.lo[0]!, regs.hi[0]!, size);
      const s = it.vHi >> 31;
      it.put(d, K.Reg, 2, size, s, s);
      return Done.Next;
    }
    case Op.Bswap: {
      it.get(d, d.k0, d.r0, size);
      const sw = (v: number): number =>
        (v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24) | 0;
      if (size === 8) it.put(d, d.k0, d.r0, 8, sw(it.vHi), sw(it.vLo));
      else it.put(d, d.k0, d.r0, 4, sw(it.vLo), 0);
      return Done.Next;
    }
    case Op.Xadd: {
      it.get(d, d.k0, d.r0, size);
      const aLo = it.vLo;
      const aHi = it.vHi;
      it.get(d, d.k1, d.r1, size);
      arith(it, size, false, 0, aLo, aHi, it.vLo, it.vHi);
      const rLo = it.vLo;
      const rHi = it.vHi;
      it.put(d, d.k1, d.r1, size, aLo, aHi);
      it.put(d, d.k0, d.r0, size, rLo, rHi);
      return Done.Next;
    }
    case Op.Cmpxchg: {
      // Compare the accumulator with the destination (flags as CMP); equal: destination ←
      // source; else accumulator ← destination (the destination is written back either
      // way, SDM CMPXCHG).
      it.get(d, K.Reg, 0, size);
      const aLo = it.vLo;
      const aHi = it.vHi;
      it.get(d, d.k0, d.r0, size);
      const dLo = it.vLo;
      const dHi = it.vHi;
      arith(it, size, true, 0, aLo, aHi, dLo, dHi);
      if (f.zf()) {
        it.get(d, d.k1, d.r1, size);
        it.put(d, d.k0, d.r0, size, it.vLo, it.vHi);
      } else {
        // A memory destination is written back unchanged (the locked cycle's write); a
        // register destination is left alone, upper half included (as the host does).
        if (d.k0 === K.Mem) it.put(d, d.k0, d.r0, size, dLo, dHi);
        it.put(d, K.Reg, 0, size, dLo, dHi);
      }
      return Done.Next;
    }
    case Op.Push:
      // PUSH RSP pushes the value before the decrement (SDM PUSH).
      it.get(d, d.k0, d.r0, size);
      it.push(it.vLo, it.vHi, size);
      return Done.Next;
    case Op.Pop: {
      it.pop(size);
      // POP into a memory operand addressed through RSP uses RSP after the pop (SDM POP).
      it.put(d, d.k0, d.r0, size, it.vLo, it.vHi);
      return Done.Next;
    }
    case Op.Leave: {
      regs.lo[4] = regs.lo[5]!;
      regs.hi[4] = regs.hi[5]!;
      it.pop();
      regs.lo[5] = it.vLo;
      regs.hi[5] = it.vHi;
      return Done.Next;
    }
    case Op.Jmp:
      if (d.k0 === K.None) it.next = it.next + d.rel;
      else {
        it.get(d, d.k0, d.r0, 8);
        it.next = target(it, it.vLo, it.vHi);
      }
      return Done.Next;
    case Op.Jcc:
      if (f.test(d.cond)) {
        it.next = it.next + d.rel;
        it.extra = takenExtra(it);
      }
      return Done.Next;
    case Op.Call: {
      let to: number;
      if (d.k0 === K.None) to = it.next + d.rel;
      else {
        it.get(d, d.k0, d.r0, 8);
        to = target(it, it.vLo, it.vHi);
      }
      const ret = it.next;
      const rh = Math.floor(ret / TWO32);
      it.push((ret - rh * TWO32) | 0, rh);
      it.next = to;
      return Done.Next;
    }
    case Op.Ret: {
      it.pop();
      const to = target(it, it.vLo, it.vHi);
      if (d.k0 === K.Imm) {
        const sl = (regs.lo[4]! >>> 0) + (d.immLo & 0xffff);
        regs.lo[4] = sl | 0;
        regs.hi[4] = (regs.hi[4]! + (sl >= TWO32 ? 1 : 0)) | 0;
      }
      it.next = to;
      return Done.Next;
    }
    case Op.Cld:
      it.core.rflags &= ~0x400;
      return Done.Next;
    case Op.Std:
      it.core.rflags |= 0x400;
      return Done.Next;
    case Op.Clc:
    case Op.Stc:
    case Op.Cmc: {
      const fl = f.get();
      const c = d.op === Op.Clc ? 0 : d.op === Op.Stc ? CF : (fl & CF) ^ CF;
      f.setRaw((fl & ~CF) | c);
      return Done.Next;
    }
    case Op.Lahf: {
      // AH ← SF:ZF:0:AF:0:PF:1:CF.
      const fl = f.get() & (SF | ZF | AF | PF | CF);
      regs.lo[0] = (regs.lo[0]! & ~0xff00) | ((fl | 2) << 8);
      return Done.Next;
    }
    case Op.Sahf: {
      const ah = (regs.lo[0]! >>> 8) & (SF | ZF | AF | PF | CF);
      f.setRaw((f.get() & OF) | ah);
      return Done.Next;
    }
    case Op.Pushf: {
      // RF and VM are cleared in the image (SDM PUSHF).
      it.syncFlags();
      it.push(it.core.rflags & ~0x30000, 0);
      return Done.Next;
    }
    case Op.Popf: {
      // At CPL 3, IOPL 0: IF, IOPL, VIP, VIF, VM, RF unchanged; the other status and control
      // flags (CF PF AF ZF SF TF DF OF NT AC ID) load (SDM POPF).
      it.pop();
      const mask =
        0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x4000 | 0x40000 | 0x200000;
      const c = it.core;
      c.rflags = (c.rflags & ~mask) | (it.vLo & mask) | 2;
      f.setRaw(c.rflags);
      return Done.Next;
    }
    case Op.Syscall:
      it.syncFlags();
      syscall(it.core, it.rip);
      return Done.Syscall;
    case Op.Vmfunc:
      it.syncFlags();
      vmfunc(it.core, it.rip);
      return Done.Self;
    case Op.Rdtsc: {
      const t = rdtsc(it.core, it.rip);
      const th = Math.floor(t / TWO32);
      regs.lo[0] = (t - th * TWO32) | 0;
      regs.hi[0] = 0;
      regs.lo[2] = th;
      regs.hi[2] = 0;
      return Done.Self;
    }
    case Op.Cpuid:
      it.syncFlags();
      cpuid(it.core, it.rip);
      return Done.Self;
    case Op.Ud2:
      return it.fault(Vector.UD);
    case Op.Int3:
      // A trap: the saved RIP is the next instruction's (SDM INT3).
      it.rip = it.next;
      return it.fault(Vector.BP);
    case Op.Verw: {
      // SDM VERR/VERW: ZF = 1 if the selector names a data segment writable at CPL 3. In the
      // model's GDT, as in Linux's, that is only the user data segment, 0x2b (any RPL: its
      // DPL is 3); a null or any other selector gives ZF = 0 (VERW never faults on the
      // selector's value). Only ZF changes. Then MD_CLEAR's buffer overwrite, which happens
      // whatever the check says (isa.ts mdClear) and retires the instruction.
      it.get(d, d.k0, d.r0, 2);
      const raw = f.get();
      f.setRaw((it.vLo & 0xfffc) === 0x28 ? raw | ZF : raw & ~ZF);
      it.syncFlags();
      mdClear(it.core, it.next);
      return Done.Self;
    }
    case Op.Privileged:
      return it.fault(Vector.GP, 0);
    case Op.Shl:
    case Op.Shr:
    case Op.Sar:
    case Op.Rol:
    case Op.Ror:
    case Op.Rcl:
    case Op.Rcr:
    case Op.Shld:
    case Op.Shrd:
      return execShift(it, d);
    case Op.Mul:
    case Op.Imul1:
    case Op.Imul:
    case Op.Div:
    case Op.Idiv:
      return execMulDiv(it, d);
    case Op.Bt:
    case Op.Bts:
    case Op.Btr:
    case Op.Btc:
    case Op.Bsf:
    case Op.Bsr:
    case Op.Tzcnt:
    case Op.Lzcnt:
    case Op.Popcnt:
      return execBits(it, d);
    default:
      return it.fault(Vector.UD);
  }
}

function addSub(it: Interpreter, d: Insn): Done {
  const size = d.size;
  const carry = d.op === Op.Adc || d.op === Op.Sbb ? (it.flags.cf() ? 1 : 0) : 0;
  it.get(d, d.k0, d.r0, size);
  const aLo = it.vLo;
  const aHi = it.vHi;
  it.get(d, d.k1, d.r1, size);
  arith(it, size, d.op !== Op.Add && d.op !== Op.Adc, carry, aLo, aHi, it.vLo, it.vHi);
  if (d.op !== Op.Cmp) it.put(d, d.k0, d.r0, size, it.vLo, it.vHi);
  return Done.Next;
}

/**
 * a + b + carry (`sub` false: ADD, ADC) or a − b − borrow (SUB, SBB, CMP, and the compares of
 * XADD, CMPXCHG, SCAS, CMPS) modulo 2^64, with its flags recorded; the result in
 * it.vLo/vHi.
 */
export function arith(
  it: Interpreter,
  size: number,
  sub: boolean,
  carry: number,
  aLo: number,
  aHi: number,
  bLo: number,
  bHi: number,
): void {
  let rLo: number;
  let rHi: number;
  if (!sub) {
    const l = (aLo >>> 0) + (bLo >>> 0) + carry;
    rLo = l | 0;
    rHi = (aHi + bHi + (l >= TWO32 ? 1 : 0)) | 0;
  } else {
    const l = (aLo >>> 0) - (bLo >>> 0) - carry;
    rLo = l | 0;
    rHi = (aHi - bHi - (l < 0 ? 1 : 0)) | 0;
  }
  const kind = sub ? (carry === 1 ? FK.Sbb : FK.Sub) : carry === 1 ? FK.Adc : FK.Add;
  it.flags.set(kind, size, aLo, aHi, bLo, bHi, rLo, rHi);
  it.vLo = rLo;
  it.vHi = rHi;
}

/** A branch target from a 64-bit value: #GP(0) at the branch if it is not canonical (SDM
 *  Vol. 1 §3.3.7.1). */
function target(it: Interpreter, lo: number, hi: number): number {
  return it.canonical(lo, hi, Vector.GP);
}

/** A taken conditional branch costs the taken-branch class instead of the branch class. */
function takenExtra(it: Interpreter): number {
  const p = it.core.profile.insn;
  return p.branchTaken - p.branch;
}
