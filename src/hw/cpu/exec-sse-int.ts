// Packed SSE2 integer arithmetic on XMM registers (SDM Vol. 2 for each): wrapping and
// saturating add and subtract (PADD/PSUB B/W/D/Q, PADDS/PSUBS B/W, PADDUS/PSUBUS B/W),
// compares (PCMPEQ B/W/D, PCMPGT B/W/D, signed), PMINUB/PMAXUB/PMINSW/PMAXSW, PAVGB/PAVGW
// (rounded up), the multiplies (PMULLW, PMULHW, PMULHUW, PMULUDQ, PMADDWD) and PSADBW. The
// source is an XMM register or an aligned m128 (#GP(0) otherwise).

import { Vector } from '../traps.ts';
import { lanes, S, S16, S8, src128, SU16, TWO32 } from './exec-sse-operands.ts';
import { type Insn, Op } from './insn.ts';
import { Done, type Interpreter } from './interpreter.ts';

const SS8 = new Int8Array(S.buffer);

const sat8 = (v: number): number => (v > 127 ? 127 : v < -128 ? -128 : v);
const satU8 = (v: number): number => (v > 255 ? 255 : v < 0 ? 0 : v);
const sat16 = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);
const satU16 = (v: number): number => (v > 65535 ? 65535 : v < 0 ? 0 : v);

export function execSseInt(it: Interpreter, d: Insn): Done {
  src128(it, d, d.k1, d.r1);
  const L = lanes(it.xmm);
  const x = L.d;
  const o4 = d.r0 * 4;
  const o8 = d.r0 * 8;
  const o16 = d.r0 * 16;
  const b = L.b;
  const sb = L.sb;
  const w = L.w;
  const sw = L.sw;
  switch (d.op) {
    // Typed-array stores wrap: Uint8Array and Uint16Array keep the low bits.
    case Op.Paddb:
      for (let i = 0; i < 16; i++) b[o16 + i] = b[o16 + i]! + S8[i]!;
      break;
    case Op.Paddw:
      for (let i = 0; i < 8; i++) w[o8 + i] = w[o8 + i]! + SU16[i]!;
      break;
    case Op.Paddd:
      for (let i = 0; i < 4; i++) x[o4 + i] = (x[o4 + i]! + S[i]!) | 0;
      break;
    case Op.Psubb:
      for (let i = 0; i < 16; i++) b[o16 + i] = b[o16 + i]! - S8[i]!;
      break;
    case Op.Psubw:
      for (let i = 0; i < 8; i++) w[o8 + i] = w[o8 + i]! - SU16[i]!;
      break;
    case Op.Psubd:
      for (let i = 0; i < 4; i++) x[o4 + i] = (x[o4 + i]! - S[i]!) | 0;
      break;
    case Op.Paddq:
    case Op.Psubq: {
      const sub = d.op === Op.Psubq;
      for (let q = 0; q < 4; q += 2) {
        const l = (x[o4 + q]! >>> 0) + (sub ? -(S[q]! >>> 0) : S[q]! >>> 0);
        x[o4 + q] = l | 0;
        x[o4 + q + 1] =
          (x[o4 + q + 1]! + (sub ? -S[q + 1]! : S[q + 1]!) + (l >= TWO32 ? 1 : l < 0 ? -1 : 0)) | 0;
      }
      break;
    }
    case Op.Paddsb:
      for (let i = 0; i < 16; i++) sb[o16 + i] = sat8(sb[o16 + i]! + SS8[i]!);
      break;
    case Op.Paddsw:
      for (let i = 0; i < 8; i++) sw[o8 + i] = sat16(sw[o8 + i]! + S16[i]!);
      break;
    case Op.Paddusb:
      for (let i = 0; i < 16; i++) b[o16 + i] = satU8(b[o16 + i]! + S8[i]!);
      break;
    case Op.Paddusw:
      for (let i = 0; i < 8; i++) w[o8 + i] = satU16(w[o8 + i]! + SU16[i]!);
      break;
    case Op.Psubsb:
      for (let i = 0; i < 16; i++) sb[o16 + i] = sat8(sb[o16 + i]! - SS8[i]!);
      break;
    case Op.Psubsw:
      for (let i = 0; i < 8; i++) sw[o8 + i] = sat16(sw[o8 + i]! - S16[i]!);
      break;
    case Op.Psubusb:
      for (let i = 0; i < 16; i++) b[o16 + i] = satU8(b[o16 + i]! - S8[i]!);
      break;
    case Op.Psubusw:
      for (let i = 0; i < 8; i++) w[o8 + i] = satU16(w[o8 + i]! - SU16[i]!);
      break;
    // Compares: all ones where true (-1 stores as 0xFF.. in every width).
    case Op.Pcmpeqb:
      for (let i = 0; i < 16; i++) b[o16 + i] = b[o16 + i] === S8[i] ? 0xff : 0;
      break;
    case Op.Pcmpeqw:
      for (let i = 0; i < 8; i++) w[o8 + i] = w[o8 + i] === SU16[i] ? 0xffff : 0;
      break;
    case Op.Pcmpeqd:
      for (let i = 0; i < 4; i++) x[o4 + i] = x[o4 + i] === S[i] ? -1 : 0;
      break;
    case Op.Pcmpgtb:
      for (let i = 0; i < 16; i++) sb[o16 + i] = sb[o16 + i]! > SS8[i]! ? -1 : 0;
      break;
    case Op.Pcmpgtw:
      for (let i = 0; i < 8; i++) sw[o8 + i] = sw[o8 + i]! > S16[i]! ? -1 : 0;
      break;
    case Op.Pcmpgtd:
      for (let i = 0; i < 4; i++) x[o4 + i] = x[o4 + i]! > S[i]! ? -1 : 0;
      break;
    case Op.Pminub:
      for (let i = 0; i < 16; i++) if (S8[i]! < b[o16 + i]!) b[o16 + i] = S8[i]!;
      break;
    case Op.Pmaxub:
      for (let i = 0; i < 16; i++) if (S8[i]! > b[o16 + i]!) b[o16 + i] = S8[i]!;
      break;
    case Op.Pminsw:
      for (let i = 0; i < 8; i++) if (S16[i]! < sw[o8 + i]!) sw[o8 + i] = S16[i]!;
      break;
    case Op.Pmaxsw:
      for (let i = 0; i < 8; i++) if (S16[i]! > sw[o8 + i]!) sw[o8 + i] = S16[i]!;
      break;
    case Op.Pavgb:
      for (let i = 0; i < 16; i++) b[o16 + i] = (b[o16 + i]! + S8[i]! + 1) >> 1;
      break;
    case Op.Pavgw:
      for (let i = 0; i < 8; i++) w[o8 + i] = (w[o8 + i]! + SU16[i]! + 1) >> 1;
      break;
    // Multiplies: 16 × 16 products fit in 32 bits (exact as numbers).
    case Op.Pmullw:
      for (let i = 0; i < 8; i++) sw[o8 + i] = sw[o8 + i]! * S16[i]!;
      break;
    case Op.Pmulhw:
      for (let i = 0; i < 8; i++) sw[o8 + i] = (sw[o8 + i]! * S16[i]!) >> 16;
      break;
    case Op.Pmulhuw:
      for (let i = 0; i < 8; i++) w[o8 + i] = (w[o8 + i]! * SU16[i]!) >>> 16;
      break;
    case Op.Pmuludq:
      // Lanes 0 and 2, unsigned 32 × 32 → 64 bits, split in 16-bit halves to stay exact.
      for (let q = 0; q < 4; q += 2) {
        const a = x[o4 + q]! >>> 0;
        const c = S[q]! >>> 0;
        const aH = a >>> 16;
        const aL = a & 0xffff;
        const cH = c >>> 16;
        const cL = c & 0xffff;
        const t = (aH * cL + aL * cH) * 65536 + aL * cL; // < 2^50: exact
        const carry = Math.floor(t / TWO32);
        x[o4 + q] = (t - carry * TWO32) | 0;
        x[o4 + q + 1] = (aH * cH + carry) | 0;
      }
      break;
    case Op.Pmaddwd:
      // Two signed products summed into 32 bits; only 0x8000·0x8000 twice wraps (to 0x8000_0000).
      for (let i = 0; i < 4; i++)
        x[o4 + i] = (sw[o8 + 2 * i]! * S16[2 * i]! + sw[o8 + 2 * i + 1]! * S16[2 * i + 1]!) | 0;
      break;
    case Op.Psadbw:
      // Per quadword, the sum of the eight bytes' absolute differences in its low word.
      for (let q = 0; q < 2; q++) {
        let sum = 0;
        for (let i = 8 * q; i < 8 * q + 8; i++) sum += Math.abs(b[o16 + i]! - S8[i]!);
        x[o4 + 2 * q] = sum;
        x[o4 + 2 * q + 1] = 0;
      }
      break;
    default:
      return it.fault(Vector.UD);
  }
  return Done.Next;
}
