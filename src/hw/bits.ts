// Hardware formats (page-table entries, EPT entries, EPTP, CR3) are 64-bit. They are read
// from memory as two 32-bit halves, lo (bits 31:0) and hi (bits 63:32), so that no field
// access allocates or needs a bigint. Each format is declared once as a table of fields
// (name, first bit, width), in the spirit of seL4's bitfield specifications, and every
// accessor is derived from that table.

import { TWO32 } from './addr.ts';

export interface Field {
  readonly lsb: number;
  readonly width: number;
}

export type Format<K extends string> = Readonly<Record<K, Field>>;

export function field(lsb: number, width = 1): Field {
  return { lsb, width };
}

/** Reads a field of a 64-bit value given as (lo, hi). Fields may not straddle bit 32. */
export function get(f: Field, lo: number, hi: number): number {
  const word = f.lsb >= 32 ? hi : lo;
  const shift = f.lsb & 31;
  if (f.width === 32) return word >>> 0;
  return (word >>> shift) & ((1 << f.width) - 1);
}

/** Returns the half (lo or hi) that `f` lives in, with the field set to `v`. */
export function setIn(f: Field, lo: number, hi: number, v: number): [number, number] {
  const shift = f.lsb & 31;
  const mask = f.width === 32 ? 0xffff_ffff : ((1 << f.width) - 1) << shift;
  if (f.lsb >= 32) return [lo >>> 0, ((hi & ~mask) | ((v << shift) & mask)) >>> 0];
  return [((lo & ~mask) | ((v << shift) & mask)) >>> 0, hi >>> 0];
}

/** Physical-address field of an entry: bits (maxPhys-1):12, as a number. */
export function addrOf(lo: number, hi: number, maxPhys: number): number {
  const hiMask = maxPhys >= 52 ? 0xf_ffff : (1 << (maxPhys - 32)) - 1;
  return (hi & hiMask) * TWO32 + ((lo & 0xffff_f000) >>> 0);
}

export function lo32(n: number): number {
  return (n % TWO32) >>> 0;
}

export function hi32(n: number): number {
  return Math.floor(n / TWO32) >>> 0;
}

export function fromHalves(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export function toHalves(v: bigint): [number, number] {
  return [Number(v & 0xffff_ffffn), Number((v >> 32n) & 0xffff_ffffn)];
}
