// Floating point beyond scalar double (SDM Vol. 2 for each; Vol. 1 §4.8.3.5 and Table 4-7
// for NaNs): scalar single (MOVSS, ADDSS..MAXSS, SQRTSS, CMPSS, UCOMISS/COMISS), packed
// single and double arithmetic (ADDPS..MAXPS, SQRTPS, ADDPD..MAXPD, SQRTPD), the compares
// CMPPS/CMPPD/CMPSD with the eight legacy predicates, and the conversions between singles,
// doubles and integers. MXCSR is at its reset value (round to nearest even, all exceptions
// masked, no DAZ/FTZ): singles are computed in doubles and rounded once to single
// precision, which is exact for +, -, ×, ÷ and √ (a double carries more than 2·24 + 2 bits).
// NaN rules, per lane: a NaN source is returned quieted, the first source's if both are;
// an invalid operation gives the default NaN; MIN/MAX return the second source if either is
// a NaN or both are zeros.

import { Vector } from '../traps.ts';
import {
  bits,
  DEFAULT_NAN_32,
  DEFAULT_NAN_HI,
  fromDouble,
  fromSingle,
  isNaN32,
  isNaNBits,
  low32Source,
  lowSource,
  QUIET_32,
  QUIET_HI,
  roundEven,
  S,
  src128,
  src64,
  toDouble,
  toInt32,
  toSingle,
  TWO32,
} from './exec-sse-operands.ts';
import { CF, PF, ZF } from './flags.ts';
import { type Insn, K, Op } from './insn.ts';
import { Done, type Interpreter } from './interpreter.ts';

/** Arithmetic kinds, in the order of the Op runs (ADDSD..MAXSD, ADDSS..MAXSS, ...). */
const enum Fp {
  Add = 0,
  Sub,
  Mul,
  Div,
  Sqrt,
  Min,
  Max,
}

/** One double lane: `kind` of (a, b) (SQRT of b), the result's halves in `bits`. */
export function f64Arith(kind: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  if (kind === Fp.Min || kind === Fp.Max) {
    const a = toDouble(aLo, aHi);
    const b = toDouble(bLo, bHi);
    const pickA = kind === Fp.Min ? a < b : a > b;
    bits.lo = pickA ? aLo : bLo;
    bits.hi = pickA ? aHi : bHi;
  } else if (kind === Fp.Sqrt) {
    const b = toDouble(bLo, bHi);
    if (isNaNBits(bLo, bHi)) {
      bits.lo = bLo;
      bits.hi = bHi | QUIET_HI;
    } else if (b < 0) {
      bits.lo = 0;
      bits.hi = DEFAULT_NAN_HI;
    } else fromDouble(Math.sqrt(b));
  } else if (isNaNBits(aLo, aHi)) {
    bits.lo = aLo;
    bits.hi = aHi | QUIET_HI;
  } else if (isNaNBits(bLo, bHi)) {
    bits.lo = bLo;
    bits.hi = bHi | QUIET_HI;
  } else {
    const a = toDouble(aLo, aHi);
    const b = toDouble(bLo, bHi);
    const r = kind === Fp.Add ? a + b : kind === Fp.Sub ? a - b : kind === Fp.Mul ? a * b : a / b;
    if (r !== r) {
      bits.lo = 0;
      bits.hi = DEFAULT_NAN_HI;
    } else fromDouble(r);
  }
}

/** One single lane: `kind` of the bit patterns a and b; returns the result's bits. */
function f32Arith(kind: number, a: number, b: number): number {
  if (kind === Fp.Min || kind === Fp.Max) {
    const fa = toSingle(a);
    const fb = toSingle(b);
    return (kind === Fp.Min ? fa < fb : fa > fb) ? a : b;
  }
  if (kind === Fp.Sqrt) {
    if (isNaN32(b)) return b | QUIET_32;
    const fb = toSingle(b);
    return fb < 0 ? DEFAULT_NAN_32 : fromSingle(Math.sqrt(fb));
  }
  if (isNaN32(a)) return a | QUIET_32;
  if (isNaN32(b)) return b | QUIET_32;
  const fa = toSingle(a);
  const fb = toSingle(b);
  const r =
    kind === Fp.Add ? fa + fb : kind === Fp.Sub ? fa - fb : kind === Fp.Mul ? fa * fb : fa / fb;
  return r !== r ? DEFAULT_NAN_32 : fromSingle(r);
}

/** The eight legacy compare predicates (imm8 bits 2:0): EQ LT LE UNORD NEQ NLT NLE ORD. */
function compare(pred: number, a: number, b: number): boolean {
  switch (pred & 7) {
    case 0:
      return a === b;
    case 1:
      return a < b;
    case 2:
      return a <= b;
    case 3:
      return a !== a || b !== b;
    case 4:
      return !(a === b);
    case 5:
      return !(a < b);
    case 6:
      return !(a <= b);
    default:
      return a === a && b === b;
  }
}

/** A single's bits widened to a double in `bits` (exact; a NaN keeps its payload, quieted). */
function singleToDouble(v: number): void {
  if (isNaN32(v)) {
    const f = (v & 0x7f_ffff) | QUIET_32;
    bits.hi = (v & (0x8000_0000 | 0)) | 0x7ff0_0000 | (f >>> 3);
    bits.lo = (f & 7) << 29;
  } else fromDouble(toSingle(v));
}

/** A double's bits rounded to a single (to nearest even; a NaN keeps the top of its payload). */
function doubleToSingle(lo: number, hi: number): number {
  if (isNaNBits(lo, hi))
    return (hi & (0x8000_0000 | 0)) | 0x7f80_0000 | QUIET_32 | ((hi & 0xfffff) << 3) | (lo >>> 29);
  return fromSingle(toDouble(lo, hi));
}

/** A signed 64-bit integer rounded once to single precision (a double first would round
 *  twice: 2^60 + 2^36 + 1 would become 2^60 instead of 2^60 + 2^37). */
function int64ToSingle(lo: number, hi: number): number {
  const v = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
  const mag = v < 0n ? -v : v;
  if (mag < 1n << 53n) return fromSingle(Number(v));
  const shift = BigInt(mag.toString(2).length - 24);
  let keep = mag >> shift;
  const rest = mag - (keep << shift);
  const half = 1n << (shift - 1n);
  if (rest > half || (rest === half && (keep & 1n) === 1n)) keep++;
  const r = Number(keep) * 2 ** Number(shift);
  return fromSingle(v < 0n ? -r : r);
}

/** CVT(T)SS2SI / CVT(T)SD2SI: `v` truncated or rounded to the destination's 32 or 64 bits;
 *  out of range or NaN gives the "integer indefinite" value, the sign bit alone. */
export function putInt(it: Interpreter, d: Insn, v: number, truncate: boolean): void {
  const t = truncate ? Math.trunc(v) : roundEven(v);
  const size = d.size;
  const lim = size === 8 ? 2 ** 63 : 2 ** 31;
  if (!(t >= -lim && t < lim))
    it.put(d, d.k0, d.r0, size, size === 8 ? 0 : 0x8000_0000 | 0, 0x8000_0000 | 0);
  else {
    const h = Math.floor(t / TWO32);
    it.put(d, d.k0, d.r0, size, (t - h * TWO32) | 0, h | 0);
  }
}

export function execSseFloat(it: Interpreter, d: Insn): Done {
  const x = it.xmm;
  const o = d.r0 * 4;
  const op = d.op;
  if (op <= Op.Maxss) {
    x[o] = f32Arith(op - Op.Addss, x[o]!, low32Source(it, d));
    return Done.Next;
  }
  if (op <= Op.Maxps) {
    src128(it, d, d.k1, d.r1);
    for (let i = 0; i < 4; i++) x[o + i] = f32Arith(op - Op.Addps, x[o + i]!, S[i]!);
    return Done.Next;
  }
  if (op <= Op.Maxpd) {
    src128(it, d, d.k1, d.r1);
    for (let q = 0; q < 4; q += 2) {
      f64Arith(op - Op.Addpd, x[o + q]!, x[o + q + 1]!, S[q]!, S[q + 1]!);
      x[o + q] = bits.lo;
      x[o + q + 1] = bits.hi;
    }
    return Done.Next;
  }
  switch (op) {
    case Op.Movss:
      // MOVSS xmm, xmm merges the low dword; from m32 it zero-extends; to m32 it stores.
      if (d.k0 === K.Xmm) {
        if (d.k1 === K.Xmm) x[o] = x[d.r1 * 4]!;
        else {
          it.read(it.ea(d), 4);
          x[o] = it.vLo;
          x[o + 1] = 0;
          x[o + 2] = 0;
          x[o + 3] = 0;
        }
      } else it.write(it.ea(d), 4, x[d.r1 * 4]!, 0);
      return Done.Next;
    case Op.Cmpss: {
      const b = toSingle(low32Source(it, d));
      x[o] = compare(d.immLo, toSingle(x[o]!), b) ? -1 : 0;
      return Done.Next;
    }
    case Op.CmpsdXmm: {
      lowSource(it, d);
      const b = toDouble(it.vLo, it.vHi);
      const r = compare(d.immLo, toDouble(x[o]!, x[o + 1]!), b) ? -1 : 0;
      x[o] = r;
      x[o + 1] = r;
      return Done.Next;
    }
    case Op.Cmpps:
      src128(it, d, d.k1, d.r1);
      for (let i = 0; i < 4; i++)
        x[o + i] = compare(d.immLo, toSingle(x[o + i]!), toSingle(S[i]!)) ? -1 : 0;
      return Done.Next;
    case Op.Cmppd:
      src128(it, d, d.k1, d.r1);
      for (let q = 0; q < 4; q += 2) {
        const a = toDouble(x[o + q]!, x[o + q + 1]!);
        const r = compare(d.immLo, a, toDouble(S[q]!, S[q + 1]!)) ? -1 : 0;
        x[o + q] = r;
        x[o + q + 1] = r;
      }
      return Done.Next;
    case Op.Ucomiss:
    case Op.Comiss: {
      const b = toSingle(low32Source(it, d));
      const a = toSingle(x[o]!);
      // Unordered: ZF PF CF = 111; greater 000; less 001; equal 100. OF, SF, AF cleared.
      it.flags.setRaw(a !== a || b !== b ? ZF | PF | CF : a > b ? 0 : a < b ? CF : ZF);
      return Done.Next;
    }
    case Op.Cvtss2sd:
      singleToDouble(low32Source(it, d));
      x[o] = bits.lo;
      x[o + 1] = bits.hi;
      return Done.Next;
    case Op.Cvtsd2ss:
      lowSource(it, d);
      x[o] = doubleToSingle(it.vLo, it.vHi);
      return Done.Next;
    case Op.Cvtsi2ss:
      it.get(d, d.k1, d.r1, d.srcSize);
      x[o] = d.srcSize === 8 ? int64ToSingle(it.vLo, it.vHi) : fromSingle(it.vLo | 0);
      return Done.Next;
    case Op.Cvttss2si:
    case Op.Cvtss2si:
      putInt(it, d, toSingle(low32Source(it, d)), op === Op.Cvttss2si);
      return Done.Next;
    case Op.Cvtdq2pd:
      src64(it, d);
      for (let i = 1; i >= 0; i--) {
        fromDouble(S[i]!);
        x[o + 2 * i] = bits.lo;
        x[o + 2 * i + 1] = bits.hi;
      }
      return Done.Next;
    case Op.Cvtps2pd:
      src64(it, d);
      for (let i = 1; i >= 0; i--) {
        singleToDouble(S[i]!);
        x[o + 2 * i] = bits.lo;
        x[o + 2 * i + 1] = bits.hi;
      }
      return Done.Next;
    case Op.Cvtdq2ps:
      src128(it, d, d.k1, d.r1);
      for (let i = 0; i < 4; i++) x[o + i] = fromSingle(S[i]!);
      return Done.Next;
    case Op.Cvtpd2ps:
      src128(it, d, d.k1, d.r1);
      x[o] = doubleToSingle(S[0]!, S[1]!);
      x[o + 1] = doubleToSingle(S[2]!, S[3]!);
      x[o + 2] = 0;
      x[o + 3] = 0;
      return Done.Next;
    case Op.Cvttpd2dq:
    case Op.Cvtpd2dq: {
      src128(it, d, d.k1, d.r1);
      const t = op === Op.Cvttpd2dq;
      x[o] = toInt32(toDouble(S[0]!, S[1]!), t);
      x[o + 1] = toInt32(toDouble(S[2]!, S[3]!), t);
      x[o + 2] = 0;
      x[o + 3] = 0;
      return Done.Next;
    }
    case Op.Cvttps2dq:
    case Op.Cvtps2dq: {
      src128(it, d, d.k1, d.r1);
      const t = op === Op.Cvttps2dq;
      for (let i = 0; i < 4; i++) x[o + i] = toInt32(toSingle(S[i]!), t);
      return Done.Next;
    }
    default:
      return it.fault(Vector.UD);
  }
}
