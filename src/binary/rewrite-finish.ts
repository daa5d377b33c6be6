// The last step of a rewrite: the output must parse, be shown equivalent edit by edit
// (verify.ts), have its split segments as planned (nx-pages.ts) and the code moved off pages
// as planned (evacuate-check.ts), and re-scan clean, new segment included. Then each moved
// run's `after` text is read back from the output.
import type { ElfScan } from './scanner.ts';
import { readElf } from './elf-reader.ts';
import { isExecutableLoad, type ElfFile } from './elf-types.ts';
import { Decoder, DecoderOptions, Formatter, FormatterSyntax } from './iced.ts';
import { checkSplits, type SegmentSplit } from './nx-pages.ts';
import type { Evacuation } from './evacuate.ts';
import { verifyEvacuation } from './evacuate-check.ts';
import type { Occurrence } from './occurrence.ts';
import type { Relocation } from './relocate.ts';
import { scanParsedElf } from './scanner.ts';
import { freeAll } from './site.ts';
import { verifyEdits, type EditRecord } from './verify.ts';

export type Finished =
  { ok: true; after: ElfScan } | { ok: false; reason: string; occurrences: Occurrence[] };

/**
 * Checks the output; fills in `after` of each change in `relocations`. `evacuated`: code
 * moved off pages by delta (evacuate.ts), checked by evacuate-check.ts.
 */
export function finish(
  elf: ElfFile,
  scan: ElfScan,
  out: Uint8Array,
  record: EditRecord,
  splits: SegmentSplit[],
  relocations: Map<{ after: string[] }, Relocation[]>,
  evacuated?: { ev: Evacuation; delta: bigint },
): Finished {
  let outElf: ElfFile;
  try {
    outElf = readElf(out);
  } catch (err) {
    const why = `internal: the rewritten file does not parse (${(err as Error).message})`;
    return { ok: false, reason: why, occurrences: [] };
  }
  const toFile = (addr: bigint): number | undefined => {
    const seg = outElf.programHeaders.find(
      (p) => isExecutableLoad(p) && p.vaddr <= addr && addr < p.vaddr + p.filesz,
    );
    return seg ? Number(seg.offset + (addr - seg.vaddr)) : undefined;
  };
  const pages = new Set(evacuated?.ev.pages ?? []);
  const problems = [
    ...verifyEdits(elf, out, record, toFile),
    ...checkSplits(elf, scan.maps, outElf, splits, pages),
    ...(evacuated ? verifyEvacuation(elf, scan.maps, outElf, evacuated.ev, evacuated.delta) : []),
  ];
  if (problems.length > 0)
    return {
      ok: false,
      reason: `cannot show the rewrite equivalent: ${problems[0]}`,
      occurrences: [],
    };
  const after = scanParsedElf(outElf);
  if (after.occurrences.length > 0) {
    const why = `the rewritten file still contains ${after.occurrences.length} occurrence(s)`;
    return { ok: false, reason: why, occurrences: after.occurrences };
  }
  for (const [c, list] of relocations) {
    c.after = list.flatMap((r, i) => {
      const text = describeBlock(out, toFile(r.entry)!, r.code.length - r.pad, r.entry);
      // Later segments: the callee returned to r.runStart, whose jump leads here.
      return i === 0
        ? text
        : [`[0x${r.runStart.toString(16)}: jmp 0x${r.entry.toString(16)}]`, ...text];
    });
  }
  return { ok: true, after };
}

function describeBlock(out: Uint8Array, off: number, len: number, ip: bigint): string[] {
  const f = new Formatter(FormatterSyntax.Gas);
  f.uppercaseHex = false;
  f.branchLeadingZeros = false;
  const d = new Decoder(64, out.subarray(off, off + len), DecoderOptions.None);
  d.ip = ip;
  const list = d.decodeAll();
  d.free();
  try {
    return list.map((i) => f.format(i));
  } finally {
    freeAll(list);
    f.free();
  }
}
