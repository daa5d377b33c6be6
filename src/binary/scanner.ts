// The scanner: finds every 0F 01 D4 in the executable segments of an ELF file (or in a raw
// code buffer) and says where each one lies. Byte search first (fast, native), then decode only
// the chunks that hold a hit, and only up to the hit (see chunk-decoder.ts, code-map.ts).
import { findVmfuncBytes } from './byte-search.ts';
import { ChunkDecoder, type DecodedInstruction } from './chunk-decoder.ts';
import {
  findChunk,
  mapExecutableSegments,
  mapSegment,
  type Chunk,
  type SegmentMap,
} from './code-map.ts';
import { readElf } from './elf-reader.ts';
import {
  STT_FUNC,
  isExecutableLoad,
  type ElfFile,
  type ElfHeaders,
  type ElfSymbol,
  type ProgramHeader,
} from './elf-types.ts';
import type { InstructionField } from './instruction-fields.ts';
import type { InstructionInfo, Occurrence } from './occurrence.ts';

export type ProgressFn = (done: number, total: number) => void;

export interface SegmentSummary {
  index: number;
  vaddr: bigint;
  fileOffset: number;
  size: number;
}

/** What a scan found, whether the file was in memory or streamed (scan-file.ts). */
export interface SegmentsScan {
  segments: SegmentSummary[];
  /** Bytes of executable segments searched. */
  bytesScanned: number;
  occurrences: Occurrence[];
  /** Code/data chunks of every executable segment (of those with a hit, when streamed). */
  maps: SegmentMap[];
}

export interface ElfScan extends SegmentsScan {
  elf: ElfFile;
}

/** One segment's file bytes: `bytes[0]` is the file byte at offset `base`. */
export type SegmentBytes = (seg: ProgramHeader) => { bytes: Uint8Array; base: number };

function uniqueRun(fields: InstructionField[]): InstructionField[] {
  return fields.filter((f, i) => i === 0 || fields[i - 1] !== f);
}

function part(d: DecodedInstruction, from: bigint, to: bigint): InstructionInfo {
  const a = Number((from > d.start ? from : d.start) - d.start);
  const b = Number((to < d.end ? to : d.end) - d.start);
  return { ...d.info, fields: uniqueRun(d.allFields.slice(a, b)) };
}

/** Says whether [start, end) is known to be code, and if not, why it may be data. */
export type CoverageFn = (start: bigint, end: bigint, chunk: Chunk) => string | undefined;

// Sections the linker fills with code only (PLT stubs, the init/fini prologue/epilogue).
const LINKER_CODE = new Set(['.plt', '.plt.got', '.plt.sec', '.iplt', '.init', '.fini']);

/**
 * Coverage by function symbols: an occurrence whose bytes no STT_FUNC symbol (with a size)
 * covers may be data that the sweep decoded, e.g. a constant table in hand-written assembly
 * of a stripped file. The interval list is built on the first call only (clean files: never).
 */
export function functionCoverage(elf: ElfHeaders): CoverageFn {
  let ranges: [bigint, bigint][] | undefined;
  const build = (): [bigint, bigint][] => {
    const list = elf.symbols
      .filter((s) => s.type === STT_FUNC && s.size > 0n)
      .map((s): [bigint, bigint] => [s.value, s.value + s.size])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const merged: [bigint, bigint][] = [];
    for (const r of list) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1]) last[1] = r[1] > last[1] ? r[1] : last[1];
      else merged.push([r[0], r[1]]);
    }
    return merged;
  };
  return (start, end, chunk) => {
    if (chunk.section !== undefined && LINKER_CODE.has(chunk.section)) return undefined;
    ranges ??= build();
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[mid][1] <= start) lo = mid + 1;
      else if (ranges[mid][0] > start) hi = mid - 1;
      else return ranges[mid][1] >= end ? undefined : 'runs past the end of its function symbol';
    }
    return 'no function symbol covers it';
  };
}

/** Classifies the hits (ascending virtual addresses) of one sorted, contiguous chunk list. */
export function classifyHits(
  bytes: Uint8Array,
  chunks: Chunk[],
  hits: bigint[],
  onHit?: (i: number) => void,
  coverage?: CoverageFn,
  base = 0,
): Occurrence[] {
  const dec = new ChunkDecoder(bytes, chunks, base);
  const out: Occurrence[] = [];
  try {
    hits.forEach((v, n) => {
      out.push(classifyOne(dec, chunks, v, coverage));
      onHit?.(n);
    });
  } finally {
    dec.free();
  }
  return out;
}

function classifyOne(
  dec: ChunkDecoder,
  chunks: Chunk[],
  v: bigint,
  coverage: CoverageFn | undefined,
): Occurrence {
  const ci = findChunk(chunks, v);
  const c = chunks[ci];
  // The chunk's symbol is the nearest preceding anchor: name the place symbol+offset.
  const symbol =
    c.symbol === undefined
      ? undefined
      : `${c.symbol || '(unnamed)'}+0x${(v - c.start).toString(16)}`;
  const where = {
    address: v,
    fileOffset: c.fileOffset + Number(v - c.start),
    section: c.section,
    symbol,
  };
  const end = v + 3n;
  if (c.kind === 'data') return { ...where, kind: 'data', reason: c.reason ?? 'not code' };
  const ins = dec.covering(ci, v, end);
  const reached = ins.length > 0 ? ins[ins.length - 1].end : v;
  if (reached < end && !ins.some((d) => d.invalid)) {
    const next = chunks[ci + 1];
    if (next && next.kind === 'code' && next.start === c.end)
      ins.push(...dec.covering(ci + 1, next.start, end));
    else {
      const into = next?.kind === 'data' ? (next.reason ?? 'data') : 'the end of the segment';
      return { ...where, kind: 'data', reason: `starts in code and runs into ${into}` };
    }
  }
  const bad = ins.find((d) => d.invalid);
  if (bad) {
    const from = `linear sweep from 0x${c.start.toString(16)}`;
    return {
      ...where,
      kind: 'undecodable',
      reason: `bytes at 0x${bad.start.toString(16)} do not decode as an instruction (${from})`,
    };
  }
  const first = ins[0].start;
  const last = ins[ins.length - 1].end;
  const invalid = dec.invalidBefore(ci, first);
  const possiblyData =
    invalid !== undefined
      ? `the linear sweep from 0x${c.start.toString(16)} met undecodable bytes at 0x${invalid.toString(16)} before it, so instruction boundaries here may be misplaced`
      : coverage?.(first, last, c);
  const doubt = possiblyData === undefined ? {} : { possiblyData };
  if (ins.length === 1) {
    const instruction = part(ins[0], v, end);
    return ins[0].isVmfunc
      ? { ...where, kind: 'vmfunc', instruction, ...doubt }
      : { ...where, kind: 'in-instruction', instruction, ...doubt };
  }
  return { ...where, kind: 'spanning', instructions: ins.map((d) => part(d, v, end)), ...doubt };
}

/**
 * Scans the executable segments of a parsed file, one at a time, with bytes from `bytesOf`.
 * With `symbolsOnHit`, `elf.symbols` starts empty and is filled by it before the first
 * segment with a hit is classified, and only such segments are mapped into chunks (a clean
 * file needs neither symbols nor chunks); otherwise every segment is mapped (the rewriter
 * needs them all). Throws nothing for headers readElfHeaders accepted (bytesOf and
 * symbolsOnHit may throw BinaryIoError).
 */
export function scanSegments(
  elf: ElfHeaders,
  bytesOf: SegmentBytes,
  onProgress?: ProgressFn,
  symbolsOnHit?: () => ElfSymbol[],
): SegmentsScan {
  const segs = elf.programHeaders.filter((p) => isExecutableLoad(p) && p.filesz > 0n);
  const all = symbolsOnHit ? undefined : mapExecutableSegments(elf);
  const maps: SegmentMap[] = all ?? [];
  const total = segs.reduce((s, p) => s + Number(p.filesz), 0);
  const occurrences: Occurrence[] = [];
  let coverage: CoverageFn | undefined;
  let done = 0;
  segs.forEach((seg, i) => {
    const start = Number(seg.offset);
    const size = Number(seg.filesz);
    const { bytes, base } = bytesOf(seg);
    const hits = findVmfuncBytes(bytes, start - base, start - base + size).map(
      (o) => seg.vaddr + BigInt(o + base - start),
    );
    if (hits.length > 0) {
      if (!coverage && symbolsOnHit) elf.symbols = symbolsOnHit();
      coverage ??= functionCoverage(elf);
      const m = all ? all[i] : mapSegment(elf, seg);
      if (!all) maps.push(m);
      occurrences.push(...classifyHits(bytes, m.chunks, hits, undefined, coverage, base));
    }
    done += size;
    onProgress?.(done, total);
  });
  const segments = segs.map((p) => ({
    index: p.index,
    vaddr: p.vaddr,
    fileOffset: Number(p.offset),
    size: Number(p.filesz),
  }));
  return { segments, bytesScanned: total, occurrences, maps };
}

/** Scans a parsed ELF file in memory. Throws nothing for a file readElf accepted. */
export function scanParsedElf(elf: ElfFile, onProgress?: ProgressFn): ElfScan {
  return { elf, ...scanSegments(elf, () => ({ bytes: elf.bytes, base: 0 }), onProgress) };
}

export type ScanOutcome =
  | { kind: 'clean'; scan: ElfScan }
  | { kind: 'found'; scan: ElfScan }
  | { kind: 'invalid'; message: string };

/** Library entry point: reads and scans an ELF image. Malformed input gives kind 'invalid'. */
export function scanElf(bytes: Uint8Array, onProgress?: ProgressFn): ScanOutcome {
  let elf: ElfFile;
  try {
    elf = readElf(bytes);
  } catch (err) {
    return { kind: 'invalid', message: err instanceof Error ? err.message : String(err) };
  }
  const scan = scanParsedElf(elf, onProgress);
  return scan.occurrences.length === 0 ? { kind: 'clean', scan } : { kind: 'found', scan };
}

/**
 * Scans a raw code buffer loaded at baseAddress, decoded by linear sweep from its first byte
 * (the whole buffer is taken to be code). For a loader that has code but no ELF around it.
 */
export function scanCode(bytes: Uint8Array, baseAddress: bigint): Occurrence[] {
  const chunk: Chunk = {
    kind: 'code',
    start: baseAddress,
    end: baseAddress + BigInt(bytes.length),
    fileOffset: 0,
    section: undefined,
    symbol: undefined,
    reason: undefined,
  };
  const hits = findVmfuncBytes(bytes).map((o) => baseAddress + BigInt(o));
  return classifyHits(bytes, [chunk], hits);
}
