// Shifts and rotates (SDM Vol. 2 SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD). The count
// is masked to 5 bits (6 with a 64-bit operand); a masked count of 0 changes nothing, not
// even the flags. OF is defined only for a count of 1; the model computes it by the 1-bit
// formula for every count.

import { Vector } from '../traps.ts';
import { CF, OF } from './flags.ts';
import { type Insn, K, Op } from './insn.ts';
import { Done, type Interpreter } from './interpreter.ts';
import { toBig } from './wide.ts';

const MASK64 = (1n << 64n) - 1n;

export function execShift(it: Interpreter, d: Insn): Done {
  const size = d.size;
  const w = size * 8;
  const double = d.op === Op.Shld || d.op === Op.Shrd;
  const ck = double ? d.k2 : d.k1;
  const cr = double ? d.r2 : d.r1;
  it.get(d, ck, cr, 1);
  const count = it.vLo & (size === 8 ? 63 : 31);
  it.get(d, d.k0, d.r0, size);
  const aLo = it.vLo;
  const aHi = it.vHi;
  if (count === 0) {
    // The destination is still written: a 32-bit register's upper half is cleared.
    if (d.k0 === K.Reg && size === 4) it.put(d, d.k0, d.r0, 4, aLo, 0);
    return Done.Next;
  }
  const f = it.flags;
  const a = toBig(aLo, aHi) & ((1n << BigInt(w)) - 1n);
  const top = (v: bigint): number => Number((v >> BigInt(w - 1)) & 1n);
  const mask = (1n << BigInt(w)) - 1n;
  const n = BigInt(count);
  let r: bigint;
  let cf: number;
  let of: number;
  switch (d.op) {
    case Op.Shl:
      r = (a << n) & mask;
      cf = count <= w ? Number((a >> BigInt(w - count)) & 1n) : 0;
      of = top(r) ^ cf;
      break;
    case Op.Shr:
      r = a >> n;
      cf = Number((a >> BigInt(count - 1)) & 1n);
      of = top(a);
      break;
    case Op.Sar: {
      const s = BigInt.asIntN(w, a);
      r = BigInt.asUintN(w, s >> n);
      cf = Number((s >> BigInt(count - 1)) & 1n);
      of = 0;
      break;
    }
    case Op.Rol:
    case Op.Ror: {
      const k = BigInt(count % w);
      r =
        d.op === Op.Rol
          ? ((a << k) | (a >> (BigInt(w) - k))) & mask
          : ((a >> k) | (a << (BigInt(w) - k))) & mask;
      if (d.op === Op.Rol) {
        cf = Number(r & 1n);
        of = top(r) ^ cf;
      } else {
        cf = top(r);
        of = top(r) ^ Number((r >> BigInt(w - 2)) & 1n);
      }
      rotateFlags(it, cf, of);
      put(it, d, r);
      return Done.Next;
    }
    case Op.Rcl:
    case Op.Rcr: {
      // Rotation through CF over w+1 bits; 8- and 16-bit counts are taken modulo 9 and 17.
      const k = size <= 2 ? count % (w + 1) : count;
      let c = f.cf() ? 1n : 0n;
      r = a;
      for (let i = 0; i < k; i++) {
        if (d.op === Op.Rcl) {
          const out = (r >> BigInt(w - 1)) & 1n;
          r = ((r << 1n) | c) & mask;
          c = out;
        } else {
          const out = r & 1n;
          r = (r >> 1n) | (c << BigInt(w - 1));
          c = out;
        }
      }
      cf = Number(c);
      of = d.op === Op.Rcl ? top(r) ^ cf : top(r) ^ Number((r >> BigInt(w - 2)) & 1n);
      rotateFlags(it, cf, of);
      put(it, d, r);
      return Done.Next;
    }
    case Op.Shld:
    case Op.Shrd: {
      it.get(d, d.k1, d.r1, size);
      const b = toBig(it.vLo, it.vHi) & mask;
      if (d.op === Op.Shld) {
        r = ((a << n) | (b >> BigInt(w - count))) & mask;
        cf = Number((a >> BigInt(w - count)) & 1n);
      } else {
        r = ((a >> n) | (b << BigInt(w - count))) & mask;
        cf = Number((a >> BigInt(count - 1)) & 1n);
      }
      of = top(r) ^ top(a);
      break;
    }
    default:
      return it.fault(Vector.UD);
  }
  const rLo = Number(BigInt.asIntN(32, r));
  const rHi = Number(BigInt.asIntN(32, r >> 32n));
  f.setResult(size, rLo, rHi, (cf ? CF : 0) | (of ? OF : 0));
  it.put(d, d.k0, d.r0, size, rLo, rHi);
  return Done.Next;
}

/** Rotates change only CF and OF (SDM RCL/RCR/ROL/ROR "Flags Affected"). */
function rotateFlags(it: Interpreter, cf: number, of: number): void {
  const fl = it.flags.get();
  it.flags.setRaw((fl & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0));
}

function put(it: Interpreter, d: Insn, r: bigint): void {
  r &= MASK64;
  it.put(d, d.k0, d.r0, d.size, Number(BigInt.asIntN(32, r)), Number(BigInt.asIntN(32, r >> 32n)));
}
