// SSE2 lane movement (SDM Vol. 2 for each): bit shifts of words, dwords and quadwords
// (PSLL/PSRL W/D/Q, PSRA W/D) by an imm8 or by the low quadword of an XMM/m128 count (a count
// beyond the lane width clears the lane, or fills it with the sign for PSRA), byte shifts
// (PSLLDQ/PSRLDQ), PSHUFD/PSHUFLW/PSHUFHW, the unpacks (PUNPCKL/H BW/WD/DQ/QDQ and their
// floating-point names UNPCKLPS/UNPCKHPS/UNPCKHPD), the saturating packs (PACKSSWB,
// PACKSSDW, PACKUSWB), PEXTRW/PINSRW, MOVHLPS/MOVLHPS, SHUFPS/SHUFPD, MOVMSKPS/MOVMSKPD.

import { Vector } from '../traps.ts';
import { lanes, S, S16, S8, src128, SU16 } from './exec-sse-operands.ts';
import { type Insn, K, Op } from './insn.ts';
import { Done, type Interpreter } from './interpreter.ts';

/** The destination's lanes before the instruction (for outputs that read other lanes). */
const D = new Int32Array(4);
const D8 = new Uint8Array(D.buffer);
const D16 = new Int16Array(D.buffer);
const DU16 = new Uint16Array(D.buffer);

const sat8 = (v: number): number => (v > 127 ? 127 : v < -128 ? -128 : v);
const satU8 = (v: number): number => (v > 255 ? 255 : v < 0 ? 0 : v);
const sat16 = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);

export function execSseShuffle(it: Interpreter, d: Insn): Done {
  const x = it.xmm;
  const o4 = d.r0 * 4;
  const imm = d.immLo & 0xff;
  switch (d.op) {
    case Op.Psllw:
    case Op.Pslld:
    case Op.Psllq:
    case Op.Psrlw:
    case Op.Psrld:
    case Op.Psrlq:
    case Op.Psraw:
    case Op.Psrad:
      shift(it, d);
      return Done.Next;
    case Op.Pslldq:
    case Op.Psrldq: {
      const b = lanes(x).b;
      const o = d.r0 * 16;
      for (let i = 0; i < 4; i++) D[i] = x[o4 + i]!;
      const n = imm > 16 ? 16 : imm;
      if (d.op === Op.Pslldq) for (let i = 0; i < 16; i++) b[o + i] = i >= n ? D8[i - n]! : 0;
      else for (let i = 0; i < 16; i++) b[o + i] = i + n < 16 ? D8[i + n]! : 0;
      return Done.Next;
    }
    case Op.Pshufd:
      src128(it, d, d.k1, d.r1);
      for (let i = 0; i < 4; i++) x[o4 + i] = S[(imm >> (2 * i)) & 3]!;
      return Done.Next;
    case Op.Pshuflw:
    case Op.Pshufhw: {
      src128(it, d, d.k1, d.r1);
      const w = lanes(x).w;
      const o = d.r0 * 8;
      const hi = d.op === Op.Pshufhw ? 4 : 0;
      for (let i = 0; i < 8; i++) w[o + i] = SU16[i]!;
      for (let i = 0; i < 4; i++) w[o + hi + i] = SU16[hi + ((imm >> (2 * i)) & 3)]!;
      return Done.Next;
    }
    case Op.Punpcklbw:
    case Op.Punpckhbw: {
      src128(it, d, d.k1, d.r1);
      for (let i = 0; i < 4; i++) D[i] = x[o4 + i]!;
      const b = lanes(x).b;
      const o = d.r0 * 16;
      const from = d.op === Op.Punpckhbw ? 8 : 0;
      for (let i = 0; i < 8; i++) {
        b[o + 2 * i] = D8[from + i]!;
        b[o + 2 * i + 1] = S8[from + i]!;
      }
      return Done.Next;
    }
    case Op.Punpcklwd:
    case Op.Punpckhwd: {
      src128(it, d, d.k1, d.r1);
      for (let i = 0; i < 4; i++) D[i] = x[o4 + i]!;
      const w = lanes(x).w;
      const o = d.r0 * 8;
      const from = d.op === Op.Punpckhwd ? 4 : 0;
      for (let i = 0; i < 4; i++) {
        w[o + 2 * i] = DU16[from + i]!;
        w[o + 2 * i + 1] = SU16[from + i]!;
      }
      return Done.Next;
    }
    case Op.Punpckldq:
    case Op.Punpckhdq: {
      src128(it, d, d.k1, d.r1);
      const from = d.op === Op.Punpckhdq ? 2 : 0;
      const a0 = x[o4 + from]!;
      const a1 = x[o4 + from + 1]!;
      x[o4] = a0;
      x[o4 + 1] = S[from]!;
      x[o4 + 2] = a1;
      x[o4 + 3] = S[from + 1]!;
      return Done.Next;
    }
    case Op.Punpckhqdq:
      src128(it, d, d.k1, d.r1);
      x[o4] = x[o4 + 2]!;
      x[o4 + 1] = x[o4 + 3]!;
      x[o4 + 2] = S[2]!;
      x[o4 + 3] = S[3]!;
      return Done.Next;
    case Op.Packsswb:
    case Op.Packuswb: {
      src128(it, d, d.k1, d.r1);
      for (let i = 0; i < 4; i++) D[i] = x[o4 + i]!;
      const L = lanes(x);
      const o = d.r0 * 16;
      if (d.op === Op.Packsswb)
        for (let i = 0; i < 8; i++) {
          L.sb[o + i] = sat8(D16[i]!);
          L.sb[o + 8 + i] = sat8(S16[i]!);
        }
      else
        for (let i = 0; i < 8; i++) {
          L.b[o + i] = satU8(D16[i]!);
          L.b[o + 8 + i] = satU8(S16[i]!);
        }
      return Done.Next;
    }
    case Op.Packssdw: {
      src128(it, d, d.k1, d.r1);
      for (let i = 0; i < 4; i++) D[i] = x[o4 + i]!;
      const sw = lanes(x).sw;
      const o = d.r0 * 8;
      for (let i = 0; i < 4; i++) {
        sw[o + i] = sat16(D[i]!);
        sw[o + 4 + i] = sat16(S[i]!);
      }
      return Done.Next;
    }
    case Op.Pextrw:
      // PEXTRW r32/r64, xmm, imm8: the word, zero-extended.
      it.put(d, d.k0, d.r0, d.size, lanes(x).w[d.r1 * 8 + (imm & 7)]!, 0);
      return Done.Next;
    case Op.Pinsrw:
      // PINSRW xmm, r32/m16, imm8: the low word of the register or the m16.
      it.get(d, d.k1, d.r1, 2);
      lanes(x).w[d.r0 * 8 + (imm & 7)] = it.vLo;
      return Done.Next;
    case Op.Movhlps: {
      const s = d.r1 * 4;
      x[o4] = x[s + 2]!;
      x[o4 + 1] = x[s + 3]!;
      return Done.Next;
    }
    case Op.Movlhps: {
      const s = d.r1 * 4;
      x[o4 + 2] = x[s]!;
      x[o4 + 3] = x[s + 1]!;
      return Done.Next;
    }
    case Op.Shufps: {
      src128(it, d, d.k1, d.r1);
      for (let i = 0; i < 4; i++) D[i] = x[o4 + i]!;
      x[o4] = D[imm & 3]!;
      x[o4 + 1] = D[(imm >> 2) & 3]!;
      x[o4 + 2] = S[(imm >> 4) & 3]!;
      x[o4 + 3] = S[(imm >> 6) & 3]!;
      return Done.Next;
    }
    case Op.Shufpd: {
      src128(it, d, d.k1, d.r1);
      const lo = (imm & 1) * 2;
      const hi = ((imm >> 1) & 1) * 2;
      const a0 = x[o4 + lo]!;
      const a1 = x[o4 + lo + 1]!;
      x[o4] = a0;
      x[o4 + 1] = a1;
      x[o4 + 2] = S[hi]!;
      x[o4 + 3] = S[hi + 1]!;
      return Done.Next;
    }
    case Op.Movmskps:
    case Op.Movmskpd: {
      const s = d.r1 * 4;
      const m =
        d.op === Op.Movmskps
          ? (x[s]! >>> 31) |
            ((x[s + 1]! >>> 31) << 1) |
            ((x[s + 2]! >>> 31) << 2) |
            ((x[s + 3]! >>> 31) << 3)
          : (x[s + 1]! >>> 31) | ((x[s + 3]! >>> 31) << 1);
      it.put(d, d.k0, d.r0, d.size, m, 0);
      return Done.Next;
    }
    default:
      return it.fault(Vector.UD);
  }
}

/** PSLL/PSRL/PSRA by imm8 or by the low quadword of the XMM/m128 source. */
function shift(it: Interpreter, d: Insn): void {
  let n: number;
  if (d.k1 === K.Imm) n = d.immLo & 0xff;
  else {
    src128(it, d, d.k1, d.r1);
    n = S[1] !== 0 || S[0]! >>> 0 > 64 ? 64 : S[0]!;
  }
  const x = it.xmm;
  const o4 = d.r0 * 4;
  switch (d.op) {
    case Op.Psllw:
    case Op.Psrlw:
    case Op.Psraw: {
      const L = lanes(x);
      const o = d.r0 * 8;
      if (d.op === Op.Psraw) {
        const c = n > 15 ? 15 : n;
        for (let i = 0; i < 8; i++) L.sw[o + i] = L.sw[o + i]! >> c;
      } else if (n > 15) for (let i = 0; i < 8; i++) L.w[o + i] = 0;
      else if (d.op === Op.Psllw) for (let i = 0; i < 8; i++) L.w[o + i] = L.w[o + i]! << n;
      else for (let i = 0; i < 8; i++) L.w[o + i] = L.w[o + i]! >>> n;
      return;
    }
    case Op.Pslld:
    case Op.Psrld:
    case Op.Psrad:
      if (d.op === Op.Psrad) {
        const c = n > 31 ? 31 : n;
        for (let i = 0; i < 4; i++) x[o4 + i] = x[o4 + i]! >> c;
      } else if (n > 31) for (let i = 0; i < 4; i++) x[o4 + i] = 0;
      else if (d.op === Op.Pslld) for (let i = 0; i < 4; i++) x[o4 + i] = x[o4 + i]! << n;
      else for (let i = 0; i < 4; i++) x[o4 + i] = x[o4 + i]! >>> n;
      return;
    default:
      // PSLLQ / PSRLQ on the two quadwords.
      for (let q = o4; q < o4 + 4; q += 2) {
        const lo = x[q]!;
        const hi = x[q + 1]!;
        if (n > 63) {
          x[q] = 0;
          x[q + 1] = 0;
        } else if (n === 0) continue;
        else if (d.op === Op.Psllq) {
          x[q] = n < 32 ? lo << n : 0;
          x[q + 1] = n < 32 ? (hi << n) | (lo >>> (32 - n)) : lo << (n - 32);
        } else {
          x[q] = n < 32 ? (lo >>> n) | (hi << (32 - n)) : hi >>> (n - 32);
          x[q + 1] = n < 32 ? hi >>> n : 0;
        }
      }
  }
}
