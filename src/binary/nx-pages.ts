// Data in executable segments (README.md, "Data is never changed"): an executable PT_LOAD
// holding a `data` occurrence is split at page boundaries so that every page with no byte of
// live code loses execute permission; the data stays where it is, unchanged and readable.
// A page holding both code and such an occurrence loses execute only if its code was moved
// out (evacuate.ts): the caller says which pages those are.
import type { Chunk, SegmentMap } from './code-map.ts';
import { PF_X, PT_LOAD, type ElfHeaders, type ProgramHeader } from './elf-types.ts';
import type { Occurrence } from './occurrence.ts';

export const PAGE = 0x1000n;

export type Piece = Omit<ProgramHeader, 'index'>;

export interface SegmentSplit {
  /** Index of the executable PT_LOAD in the program header table. */
  index: number;
  /** The PT_LOADs replacing it, in address order. */
  pieces: Piece[];
  /** The address ranges that lost execute permission. */
  nonExecutable: { start: bigint; end: bigint }[];
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

const pageOf = (a: bigint): bigint => a - (a % PAGE);

/** Pages of [start, end) that hold code bytes of the segment map. */
function codePages(m: SegmentMap): Set<bigint> {
  const out = new Set<bigint>();
  for (const c of m.chunks)
    if (c.kind === 'code') for (let p = pageOf(c.start); p < c.end; p += PAGE) out.add(p);
  return out;
}

/** Pages with code that still runs there: not moved out. */
function livePages(m: SegmentMap, evacuated: Set<bigint>): Set<bigint> {
  const out = codePages(m);
  for (const p of evacuated) out.delete(p);
  return out;
}

/** The code on `page` nearest to `addr`, named. */
function codeNear(m: SegmentMap, page: bigint, addr: bigint): string {
  const dist = (c: Chunk): bigint => (c.end <= addr ? addr - c.end : c.start - addr);
  const on = m.chunks.filter((x) => x.kind === 'code' && x.start < page + PAGE && x.end > page);
  const c = on.reduce((a, b) => (dist(b) < dist(a) ? b : a));
  return `${c.section ?? 'code'}${c.symbol ? ` (${c.symbol})` : ''}`;
}

/** Pieces of `seg` at page boundaries, X only where `exec(page)`. */
function pieces(seg: ProgramHeader, exec: (page: bigint) => boolean): Piece[] {
  const end = seg.vaddr + seg.memsz;
  const fileEnd = seg.vaddr + seg.filesz;
  const out: Piece[] = [];
  let start = seg.vaddr;
  while (start < end) {
    const x = exec(pageOf(start));
    let stop = pageOf(start) + PAGE;
    while (stop < end && exec(stop) === x) stop += PAGE;
    if (stop > end) stop = end;
    const filesz = fileEnd <= start ? 0n : (fileEnd < stop ? fileEnd : stop) - start;
    out.push({
      type: PT_LOAD,
      flags: x ? seg.flags : seg.flags & ~PF_X,
      offset: seg.offset + (start - seg.vaddr),
      vaddr: start,
      paddr: seg.paddr + (start - seg.vaddr),
      filesz,
      memsz: stop - start,
      align: seg.align,
    });
    start = stop;
  }
  return out;
}

/** The pages holding a byte of a `data` occurrence and a byte of code: their code must move. */
export function sharedCodePages(maps: SegmentMap[], data: Occurrence[]): bigint[] {
  const out = new Set<bigint>();
  for (const m of maps) {
    const code = codePages(m);
    for (const o of data)
      for (const page of [pageOf(o.address), pageOf(o.address + 2n)])
        if (code.has(page)) out.add(page);
  }
  return [...out].sort((a, b) => (a < b ? -1 : 1));
}

/**
 * The splits that take every `data` occurrence out of executable memory, or why not: a page
 * holding one also holds code that is not moved out (`evacuated`), or is shared with another
 * segment.
 */
export function planSplits(
  elf: ElfHeaders,
  maps: SegmentMap[],
  data: Occurrence[],
  evacuated: Set<bigint> = new Set(),
): SegmentSplit[] | { reason: string; occurrences: Occurrence[] } {
  const out: SegmentSplit[] = [];
  for (const m of maps) {
    const seg = m.segment;
    const mine = data.filter((o) => o.address >= seg.vaddr && o.address < seg.vaddr + seg.filesz);
    if (mine.length === 0) continue;
    const code = livePages(m, evacuated);
    // A page another segment also maps keeps its permissions (the loader maps it whole).
    const shared = new Set<bigint>();
    const [lo, hi] = [pageOf(seg.vaddr), pageOf(seg.vaddr + seg.memsz - 1n)];
    for (const p of elf.programHeaders) {
      if (p.type !== PT_LOAD || p.index === seg.index || p.memsz === 0n) continue;
      for (const a of [pageOf(p.vaddr), pageOf(p.vaddr + p.memsz - 1n)])
        if (a >= lo && a <= hi) shared.add(a);
    }
    const exec = (page: bigint): boolean => code.has(page) || shared.has(page);
    for (const o of mine) {
      for (const page of new Set([pageOf(o.address), pageOf(o.address + 2n)])) {
        if (!exec(page)) continue;
        const why = code.has(page)
          ? `also holds code (${codeNear(m, page, o.address)}), which is not moved out`
          : 'is shared with another segment';
        return {
          reason: `the page ${hex(page)} holding data at ${hex(o.address)} ${why}`,
          occurrences: [o],
        };
      }
    }
    const list = pieces(seg, exec);
    out.push({
      index: seg.index,
      pieces: list,
      nonExecutable: list
        .filter((p) => (p.flags & PF_X) === 0)
        .map((p) => ({ start: p.vaddr, end: p.vaddr + p.memsz })),
    });
  }
  return out;
}

/**
 * Checks a written split against the input: each split segment is replaced by PT_LOADs that
 * cover it exactly, with its file mapping, and its flags or its flags without execute, the
 * latter only on pages with no code that still runs there. Returns the problems found.
 */
export function checkSplits(
  before: ElfHeaders,
  maps: SegmentMap[],
  after: ElfHeaders,
  splits: SegmentSplit[],
  evacuated: Set<bigint> = new Set(),
): string[] {
  const problems: string[] = [];
  for (const s of splits) {
    const seg = before.programHeaders[s.index];
    const m = maps.find((x) => x.segment.index === s.index)!;
    const code = livePages(m, evacuated);
    const got = after.programHeaders.filter(
      (p) => p.type === PT_LOAD && p.vaddr >= seg.vaddr && p.vaddr < seg.vaddr + seg.memsz,
    );
    let at = seg.vaddr;
    const fileEnd = seg.vaddr + seg.filesz;
    for (const p of got) {
      const end = p.vaddr + p.memsz;
      const filesz = fileEnd <= p.vaddr ? 0n : (fileEnd < end ? fileEnd : end) - p.vaddr;
      const ok =
        p.vaddr === at &&
        p.filesz === filesz &&
        p.vaddr - p.offset === seg.vaddr - seg.offset &&
        (p.flags === seg.flags || p.flags === (seg.flags & ~PF_X));
      if (!ok) problems.push(`segment ${s.index}: piece at ${hex(p.vaddr)} is not as planned`);
      if ((p.flags & PF_X) === 0)
        for (let q = pageOf(p.vaddr); q < p.vaddr + p.memsz; q += PAGE)
          if (code.has(q)) problems.push(`page ${hex(q)} holds code but is not executable`);
      at = p.vaddr + p.memsz;
    }
    if (at !== seg.vaddr + seg.memsz)
      problems.push(`segment ${s.index}: pieces do not cover it exactly`);
  }
  return problems;
}
