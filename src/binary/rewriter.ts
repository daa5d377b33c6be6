// The rewriter: removes every 0F 01 D4 from the code of an ELF file, keeping behaviour.
// Order of preference per site (the instructions an occurrence touches): an in-place
// re-encoding of the same length (in-place.ts), else moving a run of whole instructions to a
// new executable segment (relocate.ts, elf-writer.ts). Data holding the bytes stays, and the
// pages holding it lose execute (nx-pages.ts), after the code sharing such a page, if any, has
// been moved out (evacuate.ts, data-pages.ts). The result is then shown equivalent edit by
// edit (verify.ts, rewrite-finish.ts) and re-scanned, the new segment included; if that fails,
// or an occurrence cannot be handled, nothing is written and the outcome says why.
import { readElf } from './elf-reader.ts';
import type { ElfFile } from './elf-types.ts';
import { planAppend, writePatched, writeWithCodeSegment, type AppendPlan } from './elf-writer.ts';
import { ElfFormatError, RewriteRefusedError } from './errors.ts';
import { isCodeOccurrence, possiblyDataReason, type Occurrence } from './occurrence.ts';
import {
  DATA_ADVICE,
  overlapping,
  placeEvacuation,
  planDataPages,
  nonExecutable,
  type Evacuated,
  type NonExecutable,
  type PlacedEvacuation,
} from './data-pages.ts';
import { evacuationDataSize } from './evacuate.ts';
import { finish } from './rewrite-finish.ts';
import { scanParsedElf, type ElfScan, type ProgressFn } from './scanner.ts';
import { Rewrite, type Change } from './site-rewrite.ts';
import { groupSites } from './site.ts';

export interface RewriteOptions {
  /** Refuse instead of rewriting occurrences classified as possibly data. */
  strict?: boolean;
}

export type { Evacuated, NonExecutable } from './data-pages.ts';
export type { Change } from './site-rewrite.ts';
export { DATA_ADVICE };

export type RewriteOutcome =
  | { kind: 'unchanged'; scan: ElfScan }
  | {
      kind: 'rewritten';
      bytes: Uint8Array;
      changes: Change[];
      nonExecutable: NonExecutable[];
      /** Code moved off pages holding data with the bytes, if any (evacuate.ts). */
      evacuated?: Evacuated;
      before: ElfScan;
      after: ElfScan;
    }
  | { kind: 'refused'; reason: string; occurrences: Occurrence[] }
  | { kind: 'invalid'; message: string };

/**
 * Library entry point: rewrites an ELF image so that its executable segments hold no 0F 01 D4.
 * Occurrences classified as possibly data are rewritten as code (their changes carry
 * `possiblyData`) unless options.strict, which refuses them.
 */
export function rewriteElf(
  bytes: Uint8Array,
  onProgress?: ProgressFn,
  options: RewriteOptions = {},
): RewriteOutcome {
  let elf: ElfFile;
  try {
    elf = readElf(bytes);
  } catch (err) {
    return { kind: 'invalid', message: err instanceof Error ? err.message : String(err) };
  }
  const scan = scanParsedElf(elf, onProgress);
  if (scan.occurrences.length === 0) return { kind: 'unchanged', scan };
  const undecodable = scan.occurrences.filter((o) => o.kind === 'undecodable');
  if (undecodable.length > 0) {
    return {
      kind: 'refused',
      reason: `${undecodable.length} occurrence(s) are not in decodable code; ${DATA_ADVICE}`,
      occurrences: undecodable,
    };
  }
  // Data stays as it is; the pages holding it lose execute permission (nx-pages.ts), once
  // the code sharing them, if any, has moved out (evacuate.ts).
  const data = scan.occurrences.filter((o) => o.kind === 'data');
  const codeOccs = scan.occurrences.filter(isCodeOccurrence);
  const dp = planDataPages(elf, scan, data, codeOccs);
  if (dp.kind === 'refused') return dp;
  const { splits, evacuation: ev } = dp;
  const doubtful = scan.occurrences.filter((o) => possiblyDataReason(o) !== undefined);
  if (options.strict && doubtful.length > 0) {
    return {
      kind: 'refused',
      reason: `${doubtful.length} occurrence(s) may be data (strict mode rewrites only what is known to be code)`,
      occurrences: doubtful,
    };
  }
  // Headers that leave no room for a new segment (absurd sizes or addresses) make the file
  // invalid for a rewrite that needs one; in-place edits need none.
  let plan: AppendPlan | undefined;
  let planError = '';
  try {
    plan = planAppend(
      elf,
      splits.reduce((n, x) => n + x.pieces.length - 1, 0),
      ev ? evacuationDataSize(ev) : 0,
    );
  } catch (err) {
    if (!(err instanceof ElfFormatError)) throw err;
    planError = err.message;
  }
  const rw = new Rewrite(elf, scan, plan);
  try {
    if ((splits.length > 0 || ev) && !plan) return { kind: 'invalid', message: planError };
    let moved: PlacedEvacuation | undefined;
    if (ev && plan) {
      try {
        moved = placeEvacuation(elf, ev, plan);
      } catch (err) {
        if (!(err instanceof RewriteRefusedError)) throw err;
        return {
          kind: 'refused',
          reason: `moving code off ${ev.pages.map((p) => `0x${p.toString(16)}`).join(', ')}: ${err.message}`,
          occurrences: data,
        };
      }
      rw.blocks.push(moved.code);
      rw.codeSize = moved.code.length;
      rw.record.other = moved.patches;
    }
    for (const s of groupSites(scan, codeOccs)) {
      const why = rw.site(s);
      if (why && rw.neededPlan) return { kind: 'invalid', message: planError };
      if (why)
        return {
          kind: 'refused',
          reason: `cannot rewrite at 0x${s.start.toString(16)}: ${why}`,
          occurrences: s.occs,
        };
    }
    const clash = moved && overlapping(moved.patches, rw.patches);
    if (clash)
      return {
        kind: 'refused',
        reason: `file offset 0x${clash.fileOffset.toString(16)}: a rewritten instruction also leads into the code moved off a page; both at once is not supported`,
        occurrences: scan.occurrences,
      };
    let out: Uint8Array;
    try {
      out =
        (rw.record.moved.length > 0 || splits.length > 0 || moved) && plan
          ? writeWithCodeSegment(
              elf,
              [...rw.patches, ...(moved?.patches ?? [])],
              rw.code(),
              plan,
              splits,
              moved?.extra,
            )
          : writePatched(elf, rw.patches);
    } catch (err) {
      if (err instanceof ElfFormatError) return { kind: 'invalid', message: err.message };
      throw err;
    }
    const evac = ev && moved ? { ev, delta: moved.delta } : undefined;
    const done = finish(elf, scan, out, rw.record, splits, rw.relocations, evac);
    if (!done.ok) return { kind: 'refused', reason: done.reason, occurrences: done.occurrences };
    const result: RewriteOutcome = {
      kind: 'rewritten',
      bytes: out,
      changes: rw.changes,
      nonExecutable: nonExecutable(splits, data),
      before: scan,
      after: done.after,
    };
    if (moved) result.evacuated = moved.summary;
    return result;
  } finally {
    rw.free();
  }
}
