// The sixteen general-purpose registers, exactly 64 bits each. User code is machine code that
// can put any 64-bit value in any register, and the kernel saves and restores them through
// the TCB, so they cannot live in doubles (exact only below 2^53). Each register is two
// 32-bit halves; the interpreter works on the halves directly, kernel code through get/set.

const TWO32 = 0x1_0000_0000;

export class RegisterFile {
  /** Low and high 32 bits of each register (two's complement halves). */
  readonly lo = new Int32Array(16);
  readonly hi = new Int32Array(16);

  /** The register as an unsigned integer: exact below 2^53; above, the nearest double
   *  (kernel code treats such a value as out of range for any pointer, index or count). */
  get(i: number): number {
    return (this.hi[i]! >>> 0) * TWO32 + (this.lo[i]! >>> 0);
  }

  /** Sets a register from an integer in [-2^63, 2^64): negative values are stored in two's
   *  complement (so -1 is all ones), as a MOV of a sign-extended immediate would. */
  set(i: number, v: number): void {
    const hi = Math.floor(v / TWO32);
    this.hi[i] = hi | 0;
    this.lo[i] = (v - hi * TWO32) | 0;
  }

  /** The register as a signed integer (two's complement): exact within ±2^53. */
  getSigned(i: number): number {
    return this.hi[i]! * TWO32 + (this.lo[i]! >>> 0);
  }

  getBig(i: number): bigint {
    return (BigInt(this.hi[i]! >>> 0) << 32n) | BigInt(this.lo[i]! >>> 0);
  }

  setBig(i: number, v: bigint): void {
    this.lo[i] = Number(BigInt.asIntN(32, v));
    this.hi[i] = Number(BigInt.asIntN(32, v >> 32n));
  }

  /** The low 32 bits, unsigned (ECX of a VMFUNC, EAX of CPUID). */
  low32(i: number): number {
    return this.lo[i]! >>> 0;
  }
}
