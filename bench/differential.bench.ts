// The differential test of the interpreter against the host CPU at scale: 100,000 random
// instruction sequences of every class (test/hw/cpu/differential.test.ts runs a few
// thousand in npm test). Prints the number that differ and the first few.

import { performance } from 'node:perf_hooks';
import { compareBatch } from '../test/hw/cpu/compare.ts';
import { INSN_CLASSES } from '../test/hw/cpu/random-code.ts';
import { nativeUnavailable } from '../test/hw/cpu/native.ts';
import { Simulator } from '../test/hw/cpu/simulate.ts';

export async function bench(): Promise<void> {
  const skip = nativeUnavailable();
  if (skip !== undefined) {
    console.log(`differential: skipped (${skip})`);
    return;
  }
  const sim = new Simulator();
  const total = 100_000;
  const batch = 5_000;
  let failures: string[] = [];
  const t0 = performance.now();
  for (let done = 0, seed = 1; done < total; done += batch, seed++) {
    // Each batch mixes all classes; the seed makes the run repeatable.
    failures = failures.concat(compareBatch(sim, INSN_CLASSES, batch, 0xbe7c + seed));
  }
  const s = (performance.now() - t0) / 1000;
  console.log(
    `random sequences compared with the host: ${total}, differing: ${failures.length} (${(total / s).toFixed(0)} cases/s)`,
  );
  for (const f of failures.slice(0, 5)) console.log(`  ${f}`);
}
