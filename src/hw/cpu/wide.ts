// 64- and 128-bit integer arithmetic on 32-bit halves, without allocating: results go to
// the shared OUT array (OUT[0] lowest). Multiplication by 16-bit limbs keeps every partial
// product exact in a double. Division uses BigInt (DIV/IDIV are rare and slow on the real
// core too: tens of cycles).

export const OUT = new Int32Array(4);

const TWO32 = 4294967296;

/** Unsigned 32 × 32 → 64: OUT[0] low, OUT[1] high. */
export function mulU32(a: number, b: number): void {
  a >>>= 0;
  b >>>= 0;
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  OUT[0] = ((mid & 0xffff) << 16) | (p00 & 0xffff);
  OUT[1] = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
}

/** Unsigned 64 × 64 → 128 into OUT[0..3]. */
export function mulU64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  mulU32(aLo, bLo);
  const ll0 = OUT[0]!;
  const ll1 = OUT[1]! >>> 0;
  mulU32(aLo, bHi);
  const lh0 = OUT[0]! >>> 0;
  const lh1 = OUT[1]! >>> 0;
  mulU32(aHi, bLo);
  const hl0 = OUT[0]! >>> 0;
  const hl1 = OUT[1]! >>> 0;
  mulU32(aHi, bHi);
  const hh0 = OUT[0]! >>> 0;
  const hh1 = OUT[1]! >>> 0;
  const t1 = ll1 + lh0 + hl0;
  const c1 = Math.floor(t1 / TWO32);
  const t2 = lh1 + hl1 + hh0 + c1;
  const c2 = Math.floor(t2 / TWO32);
  OUT[0] = ll0;
  OUT[1] = t1 | 0;
  OUT[2] = t2 | 0;
  OUT[3] = (hh1 + c2) | 0;
}

/** Signed 64 × 64 → 128 into OUT[0..3]: the unsigned product, minus b·2^64 if a < 0 and
 *  a·2^64 if b < 0 (two's complement). */
export function mulS64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  mulU64(aLo, aHi, bLo, bHi);
  let lo = OUT[2]! >>> 0;
  let hi = OUT[3]! >>> 0;
  if (aHi < 0) {
    const l = lo - (bLo >>> 0);
    hi = hi - (bHi >>> 0) - (l < 0 ? 1 : 0);
    lo = l < 0 ? l + TWO32 : l;
  }
  if (bHi < 0) {
    const l = lo - (aLo >>> 0);
    hi = hi - (aHi >>> 0) - (l < 0 ? 1 : 0);
    lo = l < 0 ? l + TWO32 : l;
  }
  OUT[2] = lo | 0;
  OUT[3] = hi | 0;
}

export const toBig = (lo: number, hi: number): bigint =>
  (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/** Parity flag of a byte: 1 when the number of set bits is even (SDM Vol. 1 §3.4.3.1). */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  PARITY[i] = (b & 1) === 0 ? 1 : 0;
}

/** Count of leading zeros of a 64-bit value (64 if zero). */
export function clz64(lo: number, hi: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

/** Count of trailing zeros of a 64-bit value (64 if zero). */
export function ctz64(lo: number, hi: number): number {
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  if (hi !== 0) return 63 - Math.clz32(hi & -hi);
  return 64;
}

export function popcnt32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
