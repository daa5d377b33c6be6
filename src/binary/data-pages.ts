// Data holding 0F 01 D4 inside executable segments, for the rewriter: the pages holding it
// lose execute (nx-pages.ts); where such a page also holds code, that code is first moved out
// (evacuate.ts). Data is never changed.
import { ehHdrHeader } from './eh-frame.ts';
import type { ElfFile } from './elf-types.ts';
import type { AppendExtra, AppendPlan, Patch } from './elf-writer.ts';
import { RewriteRefusedError } from './errors.ts';
import { buildEvacuation, planEvacuation, type Evacuation } from './evacuate.ts';
import { hex } from './image.ts';
import { PAGE, planSplits, sharedCodePages, type SegmentSplit } from './nx-pages.ts';
import type { Occurrence } from './occurrence.ts';
import type { ElfScan } from './scanner.ts';

export const DATA_ADVICE =
  'data is never changed, only the pages holding it and no code (or code that can be moved out) lose execute permission: ' +
  'move it away from code (e.g. into .rodata, or link with -z separate-code)';

/** Pages that lost execute permission because they hold data occurrences and no live code. */
export interface NonExecutable {
  start: bigint;
  end: bigint;
  /** The data occurrences in [start, end). */
  occurrences: bigint[];
}

/** Code moved off pages holding such data (evacuate.ts). */
export interface Evacuated {
  /** The moved range [start, end) (whole functions) and where its copy starts. */
  start: bigint;
  end: bigint;
  movedTo: bigint;
  /** The pages that held both code and data and now hold no code that runs. */
  pages: bigint[];
  /** Direct branches, calls and RIP-relative operands re-pointed at the copy. */
  codeReferences: number;
  /** e_entry, DT_INIT/DT_FINI, relocations and .dynsym values re-pointed at the copy. */
  loaderReferences: number;
  /** FDEs copied for the new addresses (new .eh_frame_hdr). */
  unwindEntries: number;
  /** Jump tables given a copy leading to the moved code (evacuate-tables.ts). */
  jumpTables: number;
}

export type DataPlan =
  | { kind: 'ok'; splits: SegmentSplit[]; evacuation: Evacuation | undefined }
  | { kind: 'refused'; reason: string; occurrences: Occurrence[] };

export function nonExecutable(splits: SegmentSplit[], data: Occurrence[]): NonExecutable[] {
  return splits.flatMap((s) =>
    s.nonExecutable.map((r) => ({
      ...r,
      occurrences: data
        .filter((o) => o.address >= r.start && o.address < r.end)
        .map((o) => o.address),
    })),
  );
}

/** What to do with the `data` occurrences; `code` ones must not lie in code that moves. */
export function planDataPages(
  elf: ElfFile,
  scan: ElfScan,
  data: Occurrence[],
  code: Occurrence[],
): DataPlan {
  if (data.length === 0) return { kind: 'ok', splits: [], evacuation: undefined };
  const pages = sharedCodePages(scan.maps, data);
  let evacuation: Evacuation | undefined;
  if (pages.length > 0) {
    try {
      evacuation = planEvacuation(elf, scan.maps, pages, code);
    } catch (err) {
      if (!(err instanceof RewriteRefusedError)) throw err;
      const on = data.filter((o) => pages.some((p) => o.address + 2n >= p && o.address < p + PAGE));
      const list = pages.map(hex).join(', ');
      return {
        kind: 'refused',
        reason: `the page(s) ${list} holding data at ${on.map((o) => hex(o.address)).join(', ')} also hold code, which cannot be moved out: ${err.message}; ${DATA_ADVICE}`,
        occurrences: on,
      };
    }
  }
  const splits = planSplits(elf, scan.maps, data, new Set(evacuation ? pages : []));
  if (!Array.isArray(splits))
    return {
      kind: 'refused',
      reason: `${splits.reason}; ${DATA_ADVICE}`,
      occurrences: splits.occurrences,
    };
  return { kind: 'ok', splits, evacuation };
}

export interface PlacedEvacuation {
  delta: bigint;
  /** INT3 padding and the copy: the first bytes of the new code segment. */
  code: Uint8Array;
  patches: Patch[];
  extra: AppendExtra;
  summary: Evacuated;
}

/**
 * Builds the copy at the start of the new code segment, page-congruent with the original (so
 * every alignment is kept), the patches and the new unwind data. Throws RewriteRefusedError.
 */
export function placeEvacuation(elf: ElfFile, ev: Evacuation, plan: AppendPlan): PlacedEvacuation {
  const pad = ev.lo % PAGE;
  const delta = plan.codeVaddr + pad - ev.lo;
  const built = buildEvacuation(elf, ev, delta, plan.dataVaddr);
  const code = new Uint8Array(Number(pad) + built.copy.length).fill(0xcc);
  code.set(built.copy, Number(pad));
  const extra: AppendExtra = {};
  if (built.data.length > 0) extra.data = built.data;
  if (ev.eh) extra.replace = [ehHdrHeader(elf, ev.eh, plan.dataVaddr, plan.dataOffset)];
  return {
    delta,
    code,
    patches: built.patches,
    extra,
    summary: {
      start: ev.lo,
      end: ev.hi,
      movedTo: ev.lo + delta,
      pages: ev.pages,
      codeReferences: ev.incoming.length,
      loaderReferences: ev.data.length + ev.symbols.length,
      unwindEntries: ev.eh?.fdes.length ?? 0,
      jumpTables: ev.tables.length,
    },
  };
}

/** The first patch of `a` that overlaps one of `b`, if any. */
export function overlapping(a: Patch[], b: Patch[]): Patch | undefined {
  return a.find((p) =>
    b.some(
      (q) =>
        p.fileOffset < q.fileOffset + q.bytes.length &&
        q.fileOffset < p.fileOffset + p.bytes.length,
    ),
  );
}
