// Comparing native and simulated runs of the same cases (differential.test.ts and
// bench/differential.bench.ts).

import fc from 'fast-check';
import { GPR_NAMES, runNative, type NativeCase, type NativeResult } from './native.ts';
import { arbCase, definedFlagsMask, disassemble, type InsnClass } from './random-code.ts';
import type { Simulator } from './simulate.ts';

/** The first difference between a native and a simulated result, or null. */
export function difference(c: NativeCase, n: NativeResult, s: NativeResult): string | null {
  if (n.kind !== s.kind) return `native ${describe1(n)}, simulated ${describe1(s)}`;
  if (n.kind === 'signal' && s.kind === 'signal') {
    if (n.signal !== s.signal || n.rip !== s.rip)
      return `native ${describe1(n)}, simulated ${describe1(s)}`;
    return null;
  }
  if (n.kind !== 'ok' || s.kind !== 'ok') return null;
  const a = n.out;
  const b = s.out;
  for (let i = 0; i < 16; i++)
    if (a.gpr[i] !== b.gpr[i])
      return `${GPR_NAMES[i]}: native 0x${a.gpr[i]!.toString(16)}, simulated 0x${b.gpr[i]!.toString(16)}`;
  const mask = definedFlagsMask(c.code);
  if (((a.rflags ^ b.rflags) & mask) !== 0)
    return `flags (defined 0x${mask.toString(16)}): native 0x${(a.rflags & mask).toString(16)}, simulated 0x${(b.rflags & mask).toString(16)}`;
  for (let i = 0; i < 16; i++)
    for (let h = 0; h < 2; h++)
      if (a.xmm[i]![h] !== b.xmm[i]![h])
        return `xmm${i}[${h}]: native 0x${a.xmm[i]![h]!.toString(16)}, simulated 0x${b.xmm[i]![h]!.toString(16)}`;
  for (let i = 0; i < a.mem.length; i++)
    if (a.mem[i] !== b.mem[i]) return `data byte ${i}: native ${a.mem[i]}, simulated ${b.mem[i]}`;
  return null;
}

function describe1(r: NativeResult): string {
  return r.kind === 'ok' ? 'completed' : `${r.signal} at 0x${r.rip.toString(16)}`;
}

/** Runs `count` random cases of `classes` both ways; returns the failures' reports. */
export function compareBatch(
  sim: Simulator,
  classes: readonly InsnClass[],
  count: number,
  seed: number,
): string[] {
  const cases = fc.sample(arbCase({ classes }), { numRuns: count, seed });
  const native = runNative(cases);
  const failures: string[] = [];
  cases.forEach((c, i) => {
    let s: NativeResult;
    try {
      s = sim.run(c);
    } catch (e) {
      failures.push(`${disassemble(c.code).join('; ')}\n    host exception: ${(e as Error).stack}`);
      return;
    }
    const d = difference(c, native[i]!, s);
    if (d !== null) failures.push(`${disassemble(c.code).join('; ')}\n    ${d}`);
  });
  return failures;
}
