// Random input states for the CPU differential tests: register values mixing edge cases and
// random ones, doubles with NaNs/infinities/denormals/-0, a random data area.
import fc from 'fast-check';
import { ARITH_FLAGS, DATA_BASE, DATA_BYTES, type CpuState } from './native.ts';

/** R15 holds this in every generated input; memory operands are [r15 + disp]. */
export const R15_VALUE = DATA_BASE + 0x800n;
/** RSP in every generated input; pushes go below it, still inside the data area. */
export const RSP_VALUE = DATA_BASE + BigInt(DATA_BYTES) - 256n;
const RSP = 4;
const R15 = 15;

const U64 = 2n ** 64n - 1n;
const hexes = (text: string): bigint[] => text.split(/\s+/).map((h) => BigInt(`0x${h}`));
const EDGE64 = hexes(`0 1 2 ffffffffffffffff fffffffffffffffe 7f 80 ff 7fff 8000 ffff 7fffffff
  80000000 ffffffff 100000000 8000000000000000 7fffffffffffffff ffffffff80000000 ffffffffffff8000`);
/** A 64-bit register value: edge values, small signed, one bit, 32-bit, anything. */
export const arbU64: fc.Arbitrary<bigint> = fc.oneof(
  fc.constantFrom(...EDGE64),
  fc.integer({ min: -300, max: 300 }).map((v) => BigInt.asUintN(64, BigInt(v))),
  fc.integer({ min: 0, max: 63 }).map((b) => 1n << BigInt(b)),
  fc.bigInt({ min: 0n, max: 0xffff_ffffn }),
  fc.bigInt({ min: 0n, max: U64 }),
);

const f64Bits = (x: number): bigint => new BigUint64Array(new Float64Array([x]).buffer)[0];
const SPECIAL_F64 = [
  // ±0, ±inf, NaNs (quiet, negative quiet, signalling, with payload), denormals (min, max,
  // negative min), min normal, max finite
  ...hexes(`0 8000000000000000 7ff0000000000000 fff0000000000000 7ff8000000000000
    fff8000000000000 7ff0000000000001 7ff40000deadbeef 1 000fffffffffffff 8000000000000001
    0010000000000000 7fefffffffffffff`),
  // rounding ties and the edges of cvt(t)sd2si
  ...[1, -1, 0.5, 1.5, 2.5, -2.5, 3.5, 2 ** 31, -(2 ** 31), 2 ** 31 - 0.5, 2 ** 63, -(2 ** 63)].map(
    f64Bits,
  ),
  ...[2 ** 64, 1e300, 1e-300].map(f64Bits),
];
/** A 64-bit lane seen as a double: specials (NaNs, infinities, denormals, -0), plain doubles, any bits. */
export const arbF64Bits: fc.Arbitrary<bigint> = fc.oneof(
  fc.constantFrom(...SPECIAL_F64),
  fc.double().map(f64Bits),
  fc.integer({ min: -1000, max: 1000 }).map(f64Bits),
  fc.bigInt({ min: 0n, max: U64 }),
);

/** Random bytes from a seed (xorshift32; fast-check for 8 KiB byte by byte would be slow), with
 * special doubles and edge integers planted at 8-aligned slots, mostly near R15. */
export const arbMem: fc.Arbitrary<Uint8Array> = fc
  .record({
    seed: fc.integer({ min: 1, max: 0x7fff_ffff }),
    plants: fc.array(
      fc.tuple(
        fc.oneof(fc.integer({ min: 0xe0, max: 0x11f }), fc.nat({ max: DATA_BYTES / 8 - 1 })),
        fc.oneof(arbF64Bits, arbU64),
      ),
      { maxLength: 24 },
    ),
  })
  .map(({ seed, plants }) => {
    const mem = new Uint8Array(DATA_BYTES);
    const words = new Uint32Array(mem.buffer);
    let x = seed;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    const view = new DataView(mem.buffer);
    for (const [slot, v] of plants) view.setBigUint64(slot * 8, v, true);
    return mem;
  });

/** A random input state; RSP = RSP_VALUE and R15 = R15_VALUE (the generator relies on both). */
export const arbState: fc.Arbitrary<CpuState> = fc
  .record({
    gpr: fc.array(arbU64, { minLength: 16, maxLength: 16 }),
    rflags: fc.integer({ min: 0, max: 0xfff }).map((f) => f & ARITH_FLAGS),
    xmm: fc.array(fc.tuple(arbF64Bits, arbF64Bits), { minLength: 16, maxLength: 16 }),
    mem: arbMem,
  })
  .map((s) => {
    const gpr = s.gpr.slice(); // generated values are shared with shrinking: copy, don't mutate
    gpr[RSP] = RSP_VALUE;
    gpr[R15] = R15_VALUE;
    return { ...s, gpr };
  });
