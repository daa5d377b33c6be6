// The SSE/SSE2 subset gcc emits for integer C and scalar double arithmetic (SQLite's): 128-bit
// moves, MOVQ/MOVD, MOVSD, scalar double arithmetic with the SDM's NaN rules (Vol. 1
// §4.8.3.5, Table 4-7: a NaN source is returned quieted, the first source's if both are
// NaNs; an invalid operation returns the default NaN), conversions, (U)COMISD, and the bitwise
// and 64-bit-lane integer operations. MXCSR is at its reset value (round to nearest, all
// exceptions masked), which JavaScript's doubles implement. Legacy-SSE memory operands of
// 16 bytes must be 16-byte aligned (#GP(0)) except for the unaligned moves.

import { Vector } from '../traps.ts';
import { CF, PF, ZF } from './flags.ts';
import { type Insn, K, Op } from './insn.ts';
import { Done, type Interpreter } from './interpreter.ts';

const f64 = new Float64Array(1);
const u32 = new Int32Array(f64.buffer);
const QUIET_HI = 0x0008_0000;
/** The default NaN ("QNaN floating-point indefinite"): 0xFFF8_0000_0000_0000. */
const DEFAULT_NAN_HI = 0xfff8_0000 | 0;
const TWO32 = 4294967296;

const isNaNBits = (lo: number, hi: number): boolean =>
  (hi & 0x7ff0_0000) === 0x7ff0_0000 && ((hi & 0xfffff) | lo) !== 0;

function toDouble(lo: number, hi: number): number {
  u32[0] = lo;
  u32[1] = hi;
  return f64[0]!;
}

export function execSse(it: Interpreter, d: Insn): Done {
  const x = it.xmm;
  switch (d.op) {
    case Op.MovXmm: {
      src128(it, d, d.k1, d.r1);
      put128(it, d);
      return Done.Next;
    }
    case Op.MovqXmm: {
      // MOVD/MOVQ: to an XMM register the value is zero-extended to 128 bits.
      if (d.k0 === K.Xmm) {
        if (d.k1 === K.Xmm) {
          it.vLo = x[d.r1 * 4]!;
          it.vHi = x[d.r1 * 4 + 1]!;
        } else it.get(d, d.k1, d.r1, d.srcSize);
        const o = d.r0 * 4;
        x[o] = it.vLo;
        x[o + 1] = d.srcSize === 4 ? 0 : it.vHi;
        x[o + 2] = 0;
        x[o + 3] = 0;
      } else {
        const o = d.r1 * 4;
        it.put(d, d.k0, d.r0, d.size, x[o]!, x[o + 1]!);
      }
      return Done.Next;
    }
    case Op.Movsd: {
      if (d.k0 === K.Xmm) {
        const o = d.r0 * 4;
        if (d.k1 === K.Xmm) {
          x[o] = x[d.r1 * 4]!;
          x[o + 1] = x[d.r1 * 4 + 1]!;
        } else {
          it.read(it.ea(d), 8);
          x[o] = it.vLo;
          x[o + 1] = it.vHi;
          x[o + 2] = 0;
          x[o + 3] = 0;
        }
      } else it.write(it.ea(d), 8, x[d.r1 * 4]!, x[d.r1 * 4 + 1]!);
      return Done.Next;
    }
    case Op.Movhpd:
    case Op.Movlpd: {
      const lane = d.op === Op.Movhpd ? 2 : 0;
      if (d.k0 === K.Xmm) {
        it.read(it.ea(d), 8);
        x[d.r0 * 4 + lane] = it.vLo;
        x[d.r0 * 4 + lane + 1] = it.vHi;
      } else it.write(it.ea(d), 8, x[d.r1 * 4 + lane]!, x[d.r1 * 4 + lane + 1]!);
      return Done.Next;
    }
    case Op.Addsd:
    case Op.Subsd:
    case Op.Mulsd:
    case Op.Divsd:
    case Op.Minsd:
    case Op.Maxsd:
    case Op.Sqrtsd:
      scalar(it, d);
      return Done.Next;
    case Op.Cvtsi2sd: {
      it.get(d, d.k1, d.r1, d.srcSize);
      const v =
        d.srcSize === 8 ? Number((BigInt(it.vHi) << 32n) | BigInt(it.vLo >>> 0)) : it.vLo | 0;
      f64[0] = v;
      x[d.r0 * 4] = u32[0]!;
      x[d.r0 * 4 + 1] = u32[1]!;
      return Done.Next;
    }
    case Op.Cvttsd2si:
    case Op.Cvtsd2si: {
      lowSource(it, d);
      const v = toDouble(it.vLo, it.vHi);
      const t = d.op === Op.Cvttsd2si ? Math.trunc(v) : roundEven(v);
      const size = d.size;
      const lim = size === 8 ? 2 ** 63 : 2 ** 31;
      // Out of range or NaN: the "integer indefinite" value, the sign bit alone.
      if (!(t >= -lim && t < lim))
        it.put(d, d.k0, d.r0, size, size === 8 ? 0 : 0x8000_0000 | 0, 0x8000_0000 | 0);
      else {
        const hi = Math.floor(t / TWO32);
        it.put(d, d.k0, d.r0, size, (t - hi * TWO32) | 0, hi | 0);
      }
      return Done.Next;
    }
    case Op.Ucomisd:
    case Op.Comisd: {
      lowSource(it, d);
      const b = toDouble(it.vLo, it.vHi);
      const a = toDouble(x[d.r0 * 4]!, x[d.r0 * 4 + 1]!);
      // Unordered: ZF PF CF = 111; greater 000; less 001; equal 100. OF, SF, AF cleared.
      const fl = a !== a || b !== b ? ZF | PF | CF : a > b ? 0 : a < b ? CF : ZF;
      it.flags.setRaw(fl);
      return Done.Next;
    }
    case Op.Xorpd:
    case Op.Andpd:
    case Op.Andnpd:
    case Op.Orpd:
    case Op.Unpcklpd:
    case Op.Punpcklqdq:
    case Op.Paddq:
    case Op.Psubq:
    case Op.Pcmpeqb:
      packed(it, d);
      return Done.Next;
    case Op.Pmovmskb: {
      const o = d.r1 * 4;
      let m = 0;
      for (let i = 0; i < 16; i++)
        if (((x[o + (i >> 2)]! >>> (8 * (i & 3) + 7)) & 1) !== 0) m |= 1 << i;
      it.put(d, d.k0, d.r0, d.size, m, 0);
      return Done.Next;
    }
    default:
      return it.fault(Vector.UD);
  }
}

/** The low 64 bits of the source operand (XMM register or m64) into vLo/vHi. */
function lowSource(it: Interpreter, d: Insn): void {
  if (d.k1 === K.Xmm) {
    it.vLo = it.xmm[d.r1 * 4]!;
    it.vHi = it.xmm[d.r1 * 4 + 1]!;
  } else it.read(it.ea(d), 8);
}

const S = new Int32Array(4);

/** A 128-bit source (XMM or m128, aligned unless the move is unaligned) into S. */
function src128(it: Interpreter, d: Insn, k: K, r: number): void {
  if (k === K.Xmm) {
    for (let i = 0; i < 4; i++) S[i] = it.xmm[r * 4 + i]!;
    return;
  }
  const la = it.ea(d);
  if (d.align16 && la % 16 !== 0) it.fault(Vector.GP, 0);
  it.read(la, 8);
  S[0] = it.vLo;
  S[1] = it.vHi;
  it.read(la + 8, 8);
  S[2] = it.vLo;
  S[3] = it.vHi;
}

function put128(it: Interpreter, d: Insn): void {
  if (d.k0 === K.Xmm) {
    for (let i = 0; i < 4; i++) it.xmm[d.r0 * 4 + i] = S[i]!;
    return;
  }
  const la = it.ea(d);
  if (d.align16 && la % 16 !== 0) it.fault(Vector.GP, 0);
  it.write(la, 8, S[0]!, S[1]!);
  it.write(la + 8, 8, S[2]!, S[3]!);
}

function packed(it: Interpreter, d: Insn): void {
  src128(it, d, d.k1, d.r1);
  const x = it.xmm;
  const o = d.r0 * 4;
  switch (d.op) {
    case Op.Xorpd:
      for (let i = 0; i < 4; i++) x[o + i] = x[o + i]! ^ S[i]!;
      return;
    case Op.Andpd:
      for (let i = 0; i < 4; i++) x[o + i] = x[o + i]! & S[i]!;
      return;
    case Op.Andnpd:
      for (let i = 0; i < 4; i++) x[o + i] = ~x[o + i]! & S[i]!;
      return;
    case Op.Orpd:
      for (let i = 0; i < 4; i++) x[o + i] = x[o + i]! | S[i]!;
      return;
    case Op.Unpcklpd:
    case Op.Punpcklqdq:
      x[o + 2] = S[0]!;
      x[o + 3] = S[1]!;
      return;
    case Op.Paddq:
    case Op.Psubq:
      for (let q = 0; q < 4; q += 2) {
        const sub = d.op === Op.Psubq;
        const l = (x[o + q]! >>> 0) + (sub ? -(S[q]! >>> 0) : S[q]! >>> 0);
        x[o + q] = l | 0;
        x[o + q + 1] =
          (x[o + q + 1]! + (sub ? -S[q + 1]! : S[q + 1]!) + (l >= TWO32 ? 1 : l < 0 ? -1 : 0)) | 0;
      }
      return;
    case Op.Pcmpeqb:
      for (let i = 0; i < 4; i++) {
        let r = 0;
        for (let b = 0; b < 32; b += 8)
          if (((x[o + i]! >>> b) & 0xff) === ((S[i]! >>> b) & 0xff)) r |= 0xff << b;
        x[o + i] = r;
      }
      return;
  }
}

function scalar(it: Interpreter, d: Insn): void {
  const x = it.xmm;
  const o = d.r0 * 4;
  lowSource(it, d);
  const bLo = it.vLo;
  const bHi = it.vHi;
  const aLo = x[o]!;
  const aHi = x[o + 1]!;
  let rLo: number;
  let rHi: number;
  if (d.op === Op.Minsd || d.op === Op.Maxsd) {
    // MINSD/MAXSD: the second source if either is a NaN or both are zeros, else the
    // smaller/larger (SDM MINSD, MAXSD).
    const a = toDouble(aLo, aHi);
    const b = toDouble(bLo, bHi);
    const pickA = d.op === Op.Minsd ? a < b : a > b;
    rLo = pickA ? aLo : bLo;
    rHi = pickA ? aHi : bHi;
  } else if (d.op === Op.Sqrtsd) {
    const b = toDouble(bLo, bHi);
    if (isNaNBits(bLo, bHi)) {
      rLo = bLo;
      rHi = bHi | QUIET_HI;
    } else if (b < 0) {
      rLo = 0;
      rHi = DEFAULT_NAN_HI;
    } else {
      f64[0] = Math.sqrt(b);
      rLo = u32[0]!;
      rHi = u32[1]!;
    }
  } else if (isNaNBits(aLo, aHi)) {
    rLo = aLo;
    rHi = aHi | QUIET_HI;
  } else if (isNaNBits(bLo, bHi)) {
    rLo = bLo;
    rHi = bHi | QUIET_HI;
  } else {
    const a = toDouble(aLo, aHi);
    const b = toDouble(bLo, bHi);
    const r =
      d.op === Op.Addsd ? a + b : d.op === Op.Subsd ? a - b : d.op === Op.Mulsd ? a * b : a / b;
    if (r !== r) {
      rLo = 0;
      rHi = DEFAULT_NAN_HI;
    } else {
      f64[0] = r;
      rLo = u32[0]!;
      rHi = u32[1]!;
    }
  }
  x[o] = rLo;
  x[o + 1] = rHi;
}

/** Round to nearest, ties to even (MXCSR.RC = 00). */
function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
