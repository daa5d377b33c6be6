// MUL, IMUL (one, two and three operands), DIV and IDIV (SDM Vol. 2). Multiplication uses
// the exact limb products of wide.ts; division uses BigInt. #DE for a zero divisor or a
// quotient too large for its register (both checked before anything is written).

import { Vector } from '../traps.ts';
import { CF, OF } from './flags.ts';
import { type Insn, K, Op } from './insn.ts';
import { Done, type Interpreter } from './interpreter.ts';
import { OUT, mulS64, mulU32, mulU64, toBig } from './wide.ts';

const RAX = 0;
const RDX = 2;

function sx(v: number, size: number): number {
  return size === 4 ? v | 0 : size === 2 ? (v << 16) >> 16 : (v << 24) >> 24;
}

export function execMulDiv(it: Interpreter, d: Insn): Done {
  const size = d.size;
  const f = it.flags;
  const regs = it.core.regs;
  switch (d.op) {
    case Op.Mul:
    case Op.Imul1: {
      it.get(d, d.k0, d.r0, size);
      const bLo = it.vLo;
      const bHi = it.vHi;
      const signed = d.op === Op.Imul1;
      let over: boolean;
      if (size === 1 || size === 2) {
        const a = regs.lo[RAX]! & (size === 1 ? 0xff : 0xffff);
        const p = signed ? sx(a, size) * sx(bLo, size) : a * bLo;
        if (size === 1) {
          it.put(d, K.Reg, RAX, 2, p & 0xffff, 0);
          over = signed ? p !== sx(p & 0xff, 1) : p >>> 8 !== 0;
        } else {
          it.put(d, K.Reg, RAX, 2, p & 0xffff, 0);
          it.put(d, K.Reg, RDX, 2, (p >> 16) & 0xffff, 0);
          over = signed ? p !== sx(p & 0xffff, 2) : p >>> 16 !== 0;
        }
        f.setResult(size, p, 0, over ? CF | OF : 0);
        return Done.Next;
      }
      if (size === 4) {
        const a = regs.lo[RAX]!;
        if (signed) mulS64(a, a >> 31, bLo, bLo >> 31);
        else mulU32(a, bLo);
        const lo = OUT[0]!;
        const hi = OUT[1]!;
        it.put(d, K.Reg, RAX, 4, lo, 0);
        it.put(d, K.Reg, RDX, 4, hi, 0);
        over = signed ? hi !== lo >> 31 : hi !== 0;
        f.setResult(4, lo, 0, over ? CF | OF : 0);
        return Done.Next;
      }
      if (signed) mulS64(regs.lo[RAX]!, regs.hi[RAX]!, bLo, bHi);
      else mulU64(regs.lo[RAX]!, regs.hi[RAX]!, bLo, bHi);
      const [r0, r1, r2, r3] = [OUT[0]!, OUT[1]!, OUT[2]!, OUT[3]!];
      regs.lo[RAX] = r0;
      regs.hi[RAX] = r1;
      regs.lo[RDX] = r2;
      regs.hi[RDX] = r3;
      over = signed ? r2 !== r1 >> 31 || r3 !== r1 >> 31 : (r2 | r3) !== 0;
      f.setResult(8, r0, r1, over ? CF | OF : 0);
      return Done.Next;
    }
    case Op.Imul: {
      // Two operands: dst ← dst × src; three: dst ← src × imm. Truncated; CF = OF = the
      // signed product did not fit.
      const three = d.k2 !== K.None;
      it.get(d, three ? d.k1 : d.k0, three ? d.r1 : d.r0, size);
      const aLo = it.vLo;
      const aHi = it.vHi;
      it.get(d, three ? d.k2 : d.k1, three ? d.r2 : d.r1, size);
      const bLo = it.vLo;
      const bHi = it.vHi;
      let lo: number;
      let hi = 0;
      let over: boolean;
      if (size === 2) {
        const p = sx(aLo, 2) * sx(bLo, 2);
        lo = p & 0xffff;
        over = p !== sx(lo, 2);
      } else if (size === 4) {
        mulS64(aLo, aLo >> 31, bLo, bLo >> 31);
        lo = OUT[0]!;
        over = OUT[1]! !== lo >> 31;
      } else {
        mulS64(aLo, aHi, bLo, bHi);
        lo = OUT[0]!;
        hi = OUT[1]!;
        over = OUT[2]! !== hi >> 31 || OUT[3]! !== hi >> 31;
      }
      f.setResult(size, lo, hi, over ? CF | OF : 0);
      it.put(d, d.k0, d.r0, size, lo, hi);
      return Done.Next;
    }
    case Op.Div:
    case Op.Idiv:
      divide(it, d, d.op === Op.Idiv);
      return Done.Next;
    default:
      return it.fault(Vector.UD);
  }
}

/** DIV/IDIV: rDX:rAX (AX for bytes) by the operand; quotient to rAX (AL), remainder to
 *  rDX (AH). Flags are undefined and left as they were. */
function divide(it: Interpreter, d: Insn, signed: boolean): void {
  const size = d.size;
  const regs = it.core.regs;
  const w = BigInt(size * 8);
  it.get(d, d.k0, d.r0, size);
  let divisor = toBig(it.vLo, it.vHi) & ((1n << w) - 1n);
  let dividend: bigint;
  if (size === 1) dividend = BigInt(regs.lo[RAX]! & 0xffff);
  else if (size === 8)
    dividend = (toBig(regs.lo[RDX]!, regs.hi[RDX]!) << 64n) | toBig(regs.lo[RAX]!, regs.hi[RAX]!);
  else {
    const m = (1n << w) - 1n;
    dividend = ((BigInt(regs.lo[RDX]! >>> 0) & m) << w) | (BigInt(regs.lo[RAX]! >>> 0) & m);
  }
  if (divisor === 0n) it.fault(Vector.DE);
  if (signed) {
    divisor = BigInt.asIntN(Number(w), divisor);
    dividend = BigInt.asIntN(Number(w) * 2, dividend);
  }
  const q = dividend / divisor;
  const r = dividend % divisor;
  const fits = signed ? q >= -(1n << (w - 1n)) && q < 1n << (w - 1n) : q < 1n << w;
  if (!fits) it.fault(Vector.DE);
  const qLo = Number(BigInt.asIntN(32, q));
  const qHi = Number(BigInt.asIntN(32, q >> 32n));
  const rLo = Number(BigInt.asIntN(32, r));
  const rHi = Number(BigInt.asIntN(32, r >> 32n));
  if (size === 1) {
    regs.lo[RAX] = (regs.lo[RAX]! & ~0xffff) | (qLo & 0xff) | ((rLo & 0xff) << 8);
    return;
  }
  it.put(d, K.Reg, RAX, size, qLo, qHi);
  it.put(d, K.Reg, RDX, size, rLo, rHi);
}
