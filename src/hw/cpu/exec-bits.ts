// Bit tests and scans (SDM Vol. 2 BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT, POPCNT).

import { Vector } from '../traps.ts';
import { CF, ZF } from './flags.ts';
import { type Insn, K, Op } from './insn.ts';
import { Done, type Interpreter } from './interpreter.ts';
import { clz64, ctz64, popcnt32 } from './wide.ts';

export function execBits(it: Interpreter, d: Insn): Done {
  const size = d.size;
  const w = size * 8;
  const f = it.flags;
  switch (d.op) {
    case Op.Bt:
    case Op.Bts:
    case Op.Btr:
    case Op.Btc: {
      // With a register offset and a memory base the offset is signed and selects any bit
      // of memory from the operand's address; otherwise it is taken modulo the width.
      it.get(d, d.k1, d.r1, size);
      let off = it.vLo;
      let la = -1;
      if (d.k0 === K.Mem && d.k1 === K.Reg) {
        const bits =
          size === 8
            ? it.vHi * 4294967296 + (it.vLo >>> 0)
            : size === 4
              ? it.vLo | 0
              : (it.vLo << 16) >> 16;
        const unit = Math.floor(bits / w);
        off = bits - unit * w;
        la = it.ea(d) + unit * size;
      } else off = (off >>> 0) % w;
      let lo: number;
      let hi: number;
      if (la >= 0) {
        it.read(la, size);
      } else it.get(d, d.k0, d.r0, size);
      lo = it.vLo;
      hi = it.vHi;
      const bit = off >= 32 ? (hi >>> (off - 32)) & 1 : (lo >>> off) & 1;
      // CF ← the bit; ZF unchanged; OF, SF, AF, PF undefined (kept here).
      f.setRaw((f.get() & ~CF) | (bit ? CF : 0));
      if (d.op === Op.Bt) return Done.Next;
      const m = off >= 32 ? 1 << (off - 32) : 1 << off;
      const hiPart = off >= 32;
      const set = d.op === Op.Bts ? true : d.op === Op.Btr ? false : bit === 0;
      if (hiPart) hi = set ? hi | m : hi & ~m;
      else lo = set ? lo | m : lo & ~m;
      if (la >= 0) it.write(la, size, lo, hi);
      else it.put(d, d.k0, d.r0, size, lo, hi);
      return Done.Next;
    }
    case Op.Bsf:
    case Op.Bsr: {
      it.get(d, d.k1, d.r1, size);
      const lo = it.vLo;
      const hi = size === 8 ? it.vHi : 0;
      if ((lo | hi) === 0) {
        // Source 0: ZF = 1, the destination is left as it was.
        f.setRaw(ZF);
        return Done.Next;
      }
      const idx = d.op === Op.Bsf ? ctz64(lo, hi) : 63 - clz64(lo, hi);
      f.setRaw(0);
      it.put(d, d.k0, d.r0, size, idx, 0);
      return Done.Next;
    }
    case Op.Tzcnt:
    case Op.Lzcnt: {
      it.get(d, d.k1, d.r1, size);
      const lo = it.vLo;
      const hi = size === 8 ? it.vHi : 0;
      let n: number;
      if (d.op === Op.Tzcnt) n = Math.min(ctz64(lo, hi), w);
      else n = clz64(lo, hi) - (64 - w);
      // CF = source was 0; ZF = result is 0.
      f.setRaw((n === w ? CF : 0) | (n === 0 ? ZF : 0));
      it.put(d, d.k0, d.r0, size, n, 0);
      return Done.Next;
    }
    case Op.Popcnt: {
      it.get(d, d.k1, d.r1, size);
      const n = popcnt32(it.vLo) + (size === 8 ? popcnt32(it.vHi) : 0);
      f.setRaw(n === 0 ? ZF : 0);
      it.put(d, d.k0, d.r0, size, n, 0);
      return Done.Next;
    }
    default:
      return it.fault(Vector.UD);
  }
}
