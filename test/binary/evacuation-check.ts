// A fixture rewritten with a page moved, the evacuation plan the rewriter followed, and the
// rewriter's own check of an output (verifyEvacuation) bound to that plan: for the tests that
// tamper with the output and expect the check to say what is wrong.

import { readElf } from '../../src/binary/elf-reader.ts';
import { verifyEvacuation } from '../../src/binary/evacuate-check.ts';
import { planEvacuation, type Evacuation } from '../../src/binary/evacuate.ts';
import { rewriteElf } from '../../src/binary/rewriter.ts';
import { scanElf } from '../../src/binary/scanner.ts';
import { fixtureBytes, type FixtureName } from './fixtures.ts';

export function evacuated(name: FixtureName): {
  input: Uint8Array;
  /** The rewritten file. */
  bytes: Uint8Array;
  movedTo: bigint;
  ev: Evacuation;
  delta: bigint;
  /** The check's complaints about `bytes` as an output of this rewrite ([] if none). */
  check: (bytes: Uint8Array) => string[];
} {
  const input = fixtureBytes(name);
  const r = rewriteElf(input);
  if (r.kind !== 'rewritten') throw new Error(r.kind);
  const s = scanElf(input);
  if (s.kind !== 'found') throw new Error(s.kind);
  const ev = planEvacuation(s.scan.elf, s.scan.maps, r.evacuated!.pages, []);
  const delta = r.evacuated!.movedTo - r.evacuated!.start;
  const check = (bytes: Uint8Array): string[] =>
    verifyEvacuation(s.scan.elf, s.scan.maps, readElf(bytes), ev, delta);
  return { input, bytes: r.bytes, movedTo: r.evacuated!.movedTo, ev, delta, check };
}
