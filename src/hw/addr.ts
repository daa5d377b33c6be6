// Address spaces and time, as branded numbers so one can never be passed for another.
// All are plain doubles: physical addresses are < 2^52 and linear addresses are kept as
// their low 48 bits (canonical form is checked where a 64-bit value enters the model), so
// every value is an exact integer and the hot paths stay on numbers, not bigints.

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Host-physical address (what the memory bus sees). */
export type Hpa = Brand<number, 'Hpa'>;
/** Guest-physical address (what the Subkernel thinks is physical; translated by EPT). */
export type Gpa = Brand<number, 'Gpa'>;
/** Linear (guest-virtual) address, bits 47:0. */
export type Gva = Brand<number, 'Gva'>;
/** A count of core clock cycles. */
export type Cycles = number;

export const hpa = (n: number): Hpa => n as Hpa;
export const gpa = (n: number): Gpa => n as Gpa;
export const gva = (n: number): Gva => n as Gva;

export const PAGE_4K = 0x1000;
export const PAGE_2M = 0x20_0000;
export const PAGE_1G = 0x4000_0000;
export const LINE = 64;
/** 2^32, for splitting numbers above 32 bits (JS bitwise operators are 32-bit). */
export const TWO32 = 0x1_0000_0000;
/** Linear addresses are 48 bits with 4-level paging (SDM Vol. 3A §4.5). */
export const LA_BITS = 48;
export const LA_LIMIT = 2 ** LA_BITS;
/** MAXPHYADDR of the modelled CPU (Skylake client reports 39; we allow up to 46). */
export const MAXPHYADDR = 46;

/** Page sizes as an enum small enough to live in a typed array. */
export const enum PageSize {
  Size4K = 0,
  Size2M = 1,
  Size1G = 2,
}
export const PAGE_BYTES = [PAGE_4K, PAGE_2M, PAGE_1G] as const;
export const PAGE_SHIFT = [12, 21, 30] as const;

/**
 * Converts a 64-bit linear address to the model's 48-bit form, or returns -1 if it is
 * not canonical (bits 63:47 not all equal; SDM Vol. 1 §3.3.7.1).
 */
export function canonicalToLinear(va: bigint): number {
  const top = va >> 47n;
  if (top !== 0n && top !== 0x1_ffffn) return -1;
  return Number(va & 0xffff_ffff_ffffn);
}

/** The 64-bit canonical form of a 48-bit linear address. */
export function linearToCanonical(la: number): bigint {
  const v = BigInt(la);
  return v >= 1n << 47n ? v | 0xffff_0000_0000_0000n : v;
}

export function hex(n: number | bigint): string {
  return '0x' + n.toString(16);
}
