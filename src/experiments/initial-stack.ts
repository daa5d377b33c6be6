// The stack a new program starts on, as Linux's execve builds it (System V x86-64 psABI
// §3.4.1, fs/binfmt_elf.c create_elf_tables): at RSP argc, then argv pointers and NULL, envp
// and NULL (we pass no environment), then the auxiliary vector; the strings and the
// AT_RANDOM bytes lie above, at the top of the stack. RSP is 16-byte aligned.

import { createHash } from 'node:crypto';

export const AT_NULL = 0;
export const AT_PAGESZ = 6;
export const AT_RANDOM = 25;

export interface InitialStack {
  /** The program's RSP at its first instruction. */
  rsp: number;
  /** User address of `bytes[0]`; the image ends at the stack top. */
  base: number;
  bytes: Uint8Array;
}

/** The 16 bytes AT_RANDOM points at, derived from `seed` (deterministic). */
export function atRandomBytes(seed: number): Uint8Array {
  return Uint8Array.from(createHash('sha256').update(`AT_RANDOM ${seed}`).digest().subarray(0, 16));
}

/**
 * Lays out argv and the auxiliary vector below `top` (exclusive). Throws a RangeError when
 * they need more than `limit` bytes (Linux's E2BIG).
 */
export function buildInitialStack(
  top: number,
  args: readonly string[],
  seed: number,
  limit: number,
): InitialStack {
  const enc = new TextEncoder();
  const strings = args.map((a) => enc.encode(`${a}\0`));
  // From the top down: argv strings, then the random bytes (Linux puts the platform
  // string and the random bytes below the strings; we have no platform string).
  let at = top;
  const argv: number[] = [];
  for (let i = strings.length - 1; i >= 0; i--) {
    at -= strings[i]!.length;
    argv[i] = at;
  }
  at -= 16;
  const random = at;
  // argc, argv[], NULL, envp NULL, then three auxv pairs.
  const words = [args.length, ...argv, 0, 0, AT_PAGESZ, 4096, AT_RANDOM, random, AT_NULL, 0];
  const rsp = Math.floor((at - words.length * 8) / 16) * 16;
  if (top - rsp > limit)
    throw new RangeError(
      `arguments need ${top - rsp} bytes of stack, more than the ${limit} allowed (E2BIG)`,
    );
  const bytes = new Uint8Array(top - rsp);
  const v = new DataView(bytes.buffer);
  words.forEach((w, i) => v.setBigUint64(i * 8, BigInt(w), true));
  bytes.set(atRandomBytes(seed), random - rsp);
  strings.forEach((s, i) => bytes.set(s, argv[i]! - rsp));
  return { rsp, base: rsp, bytes };
}
