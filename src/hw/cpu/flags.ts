// The six arithmetic flags, computed lazily (Bochs's lazy_flags): an instruction records
// its operation, operand size, operands and result; CF, PF, AF, ZF, SF and OF are derived
// only when something reads them. Definitions: SDM Vol. 1 §3.4.3.1 and Appendix A, and each
// instruction's "Flags Affected" in Vol. 2.

import { PARITY } from './wide.ts';

export const CF = 1 << 0;
export const PF = 1 << 2;
export const AF = 1 << 4;
export const ZF = 1 << 6;
export const SF = 1 << 7;
export const OF = 1 << 11;
export const ARITH = CF | PF | AF | ZF | SF | OF;

export const enum FK {
  /** All six flags are in `raw`. */
  Raw = 0,
  Add,
  /** ADC with a carry-in of 1 (with 0 it is Add). */
  Adc,
  Sub,
  /** SBB with a borrow-in of 1. */
  Sbb,
  /** AND/OR/XOR/TEST: CF = OF = 0, AF = 0 (undefined in the SDM; 0 on Intel cores). */
  Logic,
  /** INC/DEC: as ADD/SUB of 1, CF kept (in `cf`). */
  Inc,
  Dec,
  /** ZF, SF, PF from the result; CF, OF and AF given (shifts, multiplies, ...). */
  Result,
}

function sign(lo: number, hi: number, size: number): number {
  switch (size) {
    case 8:
      return hi >>> 31;
    case 4:
      return lo >>> 31;
    case 2:
      return (lo >>> 15) & 1;
    default:
      return (lo >>> 7) & 1;
  }
}

function zero(lo: number, hi: number, size: number): boolean {
  switch (size) {
    case 8:
      return (lo | hi) === 0;
    case 4:
      return lo === 0;
    case 2:
      return (lo & 0xffff) === 0;
    default:
      return (lo & 0xff) === 0;
  }
}

/** Unsigned a < b at `size` bytes. */
function below(aLo: number, aHi: number, bLo: number, bHi: number, size: number): boolean {
  if (size === 8) {
    const ah = aHi >>> 0;
    const bh = bHi >>> 0;
    return ah < bh || (ah === bh && aLo >>> 0 < bLo >>> 0);
  }
  const m = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
  return (aLo & m) >>> 0 < (bLo & m) >>> 0;
}

export class Flags {
  kind: FK = FK.Raw;
  size = 8;
  rLo = 0;
  rHi = 0;
  aLo = 0;
  aHi = 0;
  bLo = 0;
  bHi = 0;
  /** Raw: all six; Result/Inc/Dec: the given CF, OF, AF bits. */
  raw = 0;

  /** Records an operation (a, b, result at `size` bytes). */
  set(
    kind: FK,
    size: number,
    aLo: number,
    aHi: number,
    bLo: number,
    bHi: number,
    rLo: number,
    rHi: number,
  ): void {
    this.kind = kind;
    this.size = size;
    this.aLo = aLo;
    this.aHi = aHi;
    this.bLo = bLo;
    this.bHi = bHi;
    this.rLo = rLo;
    this.rHi = rHi;
  }

  /** A result whose CF/OF/AF are given explicitly (as bits CF|OF|AF in `given`). */
  setResult(size: number, rLo: number, rHi: number, given: number): void {
    this.kind = FK.Result;
    this.size = size;
    this.rLo = rLo;
    this.rHi = rHi;
    this.raw = given;
  }

  setRaw(bits: number): void {
    this.kind = FK.Raw;
    this.raw = bits & ARITH;
  }

  cf(): boolean {
    const s = this.size;
    switch (this.kind) {
      case FK.Raw:
      case FK.Result:
      case FK.Inc:
      case FK.Dec:
        return (this.raw & CF) !== 0;
      case FK.Add:
        return below(this.rLo, this.rHi, this.aLo, this.aHi, s);
      case FK.Adc:
        return !below(this.aLo, this.aHi, this.rLo, this.rHi, s);
      case FK.Sub:
        return below(this.aLo, this.aHi, this.bLo, this.bHi, s);
      case FK.Sbb:
        return !below(this.bLo, this.bHi, this.aLo, this.aHi, s);
      default:
        return false;
    }
  }

  zf(): boolean {
    if (this.kind === FK.Raw) return (this.raw & ZF) !== 0;
    return zero(this.rLo, this.rHi, this.size);
  }

  sf(): boolean {
    if (this.kind === FK.Raw) return (this.raw & SF) !== 0;
    return sign(this.rLo, this.rHi, this.size) === 1;
  }

  pf(): boolean {
    if (this.kind === FK.Raw) return (this.raw & PF) !== 0;
    return PARITY[this.rLo & 0xff] === 1;
  }

  of(): boolean {
    const { aLo, aHi, bLo, bHi, rLo, rHi, size } = this;
    switch (this.kind) {
      case FK.Raw:
      case FK.Result:
        return (this.raw & OF) !== 0;
      case FK.Add:
      case FK.Adc:
      case FK.Inc:
        return sign((aLo ^ rLo) & (bLo ^ rLo), (aHi ^ rHi) & (bHi ^ rHi), size) === 1;
      case FK.Sub:
      case FK.Sbb:
      case FK.Dec:
        return sign((aLo ^ bLo) & (aLo ^ rLo), (aHi ^ bHi) & (aHi ^ rHi), size) === 1;
      default:
        return false;
    }
  }

  af(): boolean {
    switch (this.kind) {
      case FK.Raw:
      case FK.Result:
        return (this.raw & AF) !== 0;
      case FK.Logic:
        return false;
      default:
        return ((this.aLo ^ this.bLo ^ this.rLo) & 0x10) !== 0;
    }
  }

  /** The six flags as RFLAGS bits. */
  get(): number {
    if (this.kind === FK.Raw) return this.raw;
    return (
      (this.cf() ? CF : 0) |
      (this.pf() ? PF : 0) |
      (this.af() ? AF : 0) |
      (this.zf() ? ZF : 0) |
      (this.sf() ? SF : 0) |
      (this.of() ? OF : 0)
    );
  }

  /** Condition `cc` (x86 encoding order, SDM Vol. 1 Appendix B). */
  test(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0:
        r = this.of();
        break;
      case 1:
        r = this.cf();
        break;
      case 2:
        r = this.zf();
        break;
      case 3:
        r = this.cf() || this.zf();
        break;
      case 4:
        r = this.sf();
        break;
      case 5:
        r = this.pf();
        break;
      case 6:
        r = this.sf() !== this.of();
        break;
      default:
        r = this.zf() || this.sf() !== this.of();
    }
    return (cc & 1) === 0 ? r : !r;
  }
}
