// Shared by the SSE handlers (exec-sse*.ts): XMM and memory operands as 128-bit lanes, the
// legacy-SSE alignment rule, and the bit-level helpers of IEEE doubles and singles (NaNs are
// handled as bits: a JavaScript number does not keep a signalling NaN's payload).

import { Vector } from '../traps.ts';
import { type Insn, K } from './insn.ts';
import type { Interpreter } from './interpreter.ts';

export const TWO32 = 4294967296;

// ---- Bits of doubles and singles ------------------------------------------------------------

const f64 = new Float64Array(1);
const u32 = new Int32Array(f64.buffer);
const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** The quiet bit of a double's high half and of a single. */
export const QUIET_HI = 0x0008_0000;
export const QUIET_32 = 0x0040_0000;
/** The default NaN ("QNaN floating-point indefinite"): 0xFFF8_0000_0000_0000, 0xFFC0_0000. */
export const DEFAULT_NAN_HI = 0xfff8_0000 | 0;
export const DEFAULT_NAN_32 = 0xffc0_0000 | 0;
/** The "integer indefinite" result of an out-of-range or NaN conversion to 32 bits. */
export const INT_INDEFINITE = 0x8000_0000 | 0;

export const isNaNBits = (lo: number, hi: number): boolean =>
  (hi & 0x7ff0_0000) === 0x7ff0_0000 && ((hi & 0xfffff) | lo) !== 0;
export const isNaN32 = (v: number): boolean => (v & 0x7fff_ffff) > 0x7f80_0000;

export function toDouble(lo: number, hi: number): number {
  u32[0] = lo;
  u32[1] = hi;
  return f64[0]!;
}
/** Sets `out` [lo, hi] to the bits of `v` (never a NaN: callers make NaNs from bits). */
export function fromDouble(v: number): void {
  f64[0] = v;
  bits.lo = u32[0]!;
  bits.hi = u32[1]!;
}
/** The halves fromDouble and the conversions leave. */
export const bits = { lo: 0, hi: 0 };

export function toSingle(v: number): number {
  i32[0] = v;
  return f32[0]!;
}
/** The bits of `v` rounded to single precision (round to nearest even; not a NaN). */
export function fromSingle(v: number): number {
  f32[0] = v;
  return i32[0]!;
}

/** Round to nearest, ties to even (MXCSR.RC = 00). */
export function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A double (or single, as a number) converted to a signed 32-bit integer, truncated or
 *  rounded to nearest even; the integer indefinite if it is a NaN or out of range. */
export function toInt32(v: number, truncate: boolean): number {
  const t = truncate ? Math.trunc(v) : roundEven(v);
  return t >= -2147483648 && t < 2147483648 ? t | 0 : INT_INDEFINITE;
}

// ---- 128-bit operands -------------------------------------------------------------------

/** The source operand's lanes (a copy: the destination may be the same register). */
export const S = new Int32Array(4);
export const S8 = new Uint8Array(S.buffer);
export const S16 = new Int16Array(S.buffer);
export const SU16 = new Uint16Array(S.buffer);

/** A 128-bit source (XMM or m128, aligned unless the instruction is an unaligned move) into S. */
export function src128(it: Interpreter, d: Insn, k: K, r: number): void {
  if (k === K.Xmm) {
    const x = it.xmm;
    const o = r * 4;
    S[0] = x[o]!;
    S[1] = x[o + 1]!;
    S[2] = x[o + 2]!;
    S[3] = x[o + 3]!;
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

/** S to the destination (XMM or m128, aligned unless the move is unaligned). */
export function put128(it: Interpreter, d: Insn): void {
  if (d.k0 === K.Xmm) {
    const x = it.xmm;
    const o = d.r0 * 4;
    x[o] = S[0]!;
    x[o + 1] = S[1]!;
    x[o + 2] = S[2]!;
    x[o + 3] = S[3]!;
    return;
  }
  const la = it.ea(d);
  if (d.align16 && la % 16 !== 0) it.fault(Vector.GP, 0);
  it.write(la, 8, S[0]!, S[1]!);
  it.write(la + 8, 8, S[2]!, S[3]!);
}

/** The low 64 bits of the source operand (XMM register or m64) into vLo/vHi. */
export function lowSource(it: Interpreter, d: Insn): void {
  if (d.k1 === K.Xmm) {
    it.vLo = it.xmm[d.r1 * 4]!;
    it.vHi = it.xmm[d.r1 * 4 + 1]!;
  } else it.read(it.ea(d), 8);
}

/** The low 32 bits of the source operand (XMM register or m32). */
export function low32Source(it: Interpreter, d: Insn): number {
  if (d.k1 === K.Xmm) return it.xmm[d.r1 * 4]!;
  it.read(it.ea(d), 4);
  return it.vLo;
}

/** The low 64 bits of the source (XMM or m64, no alignment) into S[0..1]; S[2..3] zero. */
export function src64(it: Interpreter, d: Insn): void {
  lowSource(it, d);
  S[0] = it.vLo;
  S[1] = it.vHi;
  S[2] = 0;
  S[3] = 0;
}

// ---- Lane views of the XMM registers ------------------------------------------------------

/** Byte, word and dword views of an interpreter's XMM file (register r at element
 *  r * 16 / width; the host is little-endian, as x86 is). */
export interface XmmLanes {
  b: Uint8Array;
  sb: Int8Array;
  w: Uint16Array;
  sw: Int16Array;
  d: Int32Array;
}

let lastFile: Int32Array | null = null;
let lastLanes: XmmLanes | null = null;

export function lanes(x: Int32Array): XmmLanes {
  if (x !== lastFile || lastLanes === null) {
    const buf = x.buffer;
    const o = x.byteOffset;
    lastLanes = {
      b: new Uint8Array(buf, o, 256),
      sb: new Int8Array(buf, o, 256),
      w: new Uint16Array(buf, o, 128),
      sw: new Int16Array(buf, o, 128),
      d: x,
    };
    lastFile = x;
  }
  return lastLanes;
}
