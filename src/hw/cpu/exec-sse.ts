// SSE/SSE2, the entry for every XMM instruction: here the 128-bit moves, MOVQ/MOVD, MOVSD,
// MOVHPD/MOVLPD, scalar double arithmetic with the SDM's NaN rules (Vol. 1 §4.8.3.5, Table
// 4-7: a NaN source is returned quieted, the first source's if both are NaNs; an invalid
// operation returns the default NaN), CVTSI2SD/CVT(T)SD2SI, (U)COMISD and the bitwise
// operations; packed integer arithmetic is in exec-sse-int.ts, shifts and shuffles in
// exec-sse-shuffle.ts, single precision and packed floating point in exec-sse-float.ts.
// MXCSR is at its reset value (round to nearest, all exceptions masked), which JavaScript's
// doubles implement. Legacy-SSE memory operands of 16 bytes must be 16-byte aligned (#GP(0))
// except for the unaligned moves (MOVDQU, MOVUPS, MOVUPD, LDDQU).

import { Vector } from '../traps.ts';
import { execSseFloat, f64Arith, putInt } from './exec-sse-float.ts';
import { execSseInt } from './exec-sse-int.ts';
import { bits, fromDouble, lowSource, put128, S, src128, toDouble } from './exec-sse-operands.ts';
import { execSseShuffle } from './exec-sse-shuffle.ts';
import { CF, PF, ZF } from './flags.ts';
import { type Insn, K, Op } from './insn.ts';
import { Done, type Interpreter } from './interpreter.ts';

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
      fromDouble(v);
      x[d.r0 * 4] = bits.lo;
      x[d.r0 * 4 + 1] = bits.hi;
      return Done.Next;
    }
    case Op.Cvttsd2si:
    case Op.Cvtsd2si: {
      lowSource(it, d);
      putInt(it, d, toDouble(it.vLo, it.vHi), d.op === Op.Cvttsd2si);
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
      packed(it, d);
      return Done.Next;
    case Op.Paddq:
    case Op.Psubq:
    case Op.Pcmpeqb:
      return execSseInt(it, d);
    case Op.Pmovmskb: {
      const o = d.r1 * 4;
      let m = 0;
      for (let i = 0; i < 16; i++)
        if (((x[o + (i >> 2)]! >>> (8 * (i & 3) + 7)) & 1) !== 0) m |= 1 << i;
      it.put(d, d.k0, d.r0, d.size, m, 0);
      return Done.Next;
    }
    default:
      if (d.op >= Op.Addss) return execSseFloat(it, d);
      if (d.op >= Op.Psllw) return execSseShuffle(it, d);
      if (d.op >= Op.Paddb) return execSseInt(it, d);
      return it.fault(Vector.UD);
  }
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
  }
}

/** ADDSD, SUBSD, MULSD, DIVSD, MINSD, MAXSD, SQRTSD: the low lane; the high one is kept. */
function scalar(it: Interpreter, d: Insn): void {
  const x = it.xmm;
  const o = d.r0 * 4;
  lowSource(it, d);
  f64Arith(d.op - Op.Addsd, x[o]!, x[o + 1]!, it.vLo, it.vHi);
  x[o] = bits.lo;
  x[o + 1] = bits.hi;
}
