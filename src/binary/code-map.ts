// Decides which bytes of the executable segments are code and where linear decoding starts.
//
// The rule (documented in README.md):
// - Only PT_LOAD segments with PF_X are examined, and only their file-backed bytes
//   (p_filesz; the zero fill up to p_memsz cannot hold 0F 01 D4).
// - Bytes of such a segment that lie in a section with SHF_EXECINSTR (.init, .plt, .text,
//   .fini, ...) are code, except where a symbol of type STT_OBJECT covers them: compilers
//   and assemblers mark data placed in .text that way (gABI "Symbol Table": STT_OBJECT is
//   "a data object"). Every other byte of the segment (ELF header, .rodata merged into a
//   R+X segment, padding between sections) is data.
// - Code is decoded by linear sweep, restarted at each section start, at each STT_FUNC symbol
//   and after each data object: each such "chunk" is decoded on its own from its first byte,
//   so an instruction can never run across a chunk boundary.
// - A file without section headers has no such knowledge: each executable segment is then one
//   code chunk decoded from its first byte.
import {
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHT_NOBITS,
  STT_FUNC,
  STT_OBJECT,
  isExecutableLoad,
  type ElfHeaders,
  type ProgramHeader,
  type SectionHeader,
} from './elf-types.ts';

export interface Chunk {
  kind: 'code' | 'data';
  /** Virtual address of the first byte. */
  start: bigint;
  /** Virtual address one past the last byte. */
  end: bigint;
  fileOffset: number;
  /** Section holding the chunk, if any. */
  section: string | undefined;
  /** Function or data symbol starting the chunk, if any. */
  symbol: string | undefined;
  /** For data: why these bytes are not decoded. */
  reason: string | undefined;
}

export interface SegmentMap {
  segment: ProgramHeader;
  chunks: Chunk[];
}

function isExecSection(sh: SectionHeader): boolean {
  return (
    (sh.flags & SHF_EXECINSTR) !== 0n && (sh.flags & SHF_ALLOC) !== 0n && sh.type !== SHT_NOBITS
  );
}

function sectionAt(elf: ElfHeaders, addr: bigint): SectionHeader | undefined {
  return elf.sections.find(
    (s) =>
      (s.flags & SHF_ALLOC) !== 0n &&
      s.type !== SHT_NOBITS &&
      s.addr <= addr &&
      addr < s.addr + s.size,
  );
}

interface Mark {
  at: bigint;
  func?: string;
  objStart?: string;
}

function splitSection(
  elf: ElfHeaders,
  sh: SectionHeader,
  lo: bigint,
  hi: bigint,
  fileBase: (a: bigint) => number,
): Chunk[] {
  const marks: Mark[] = [{ at: lo }, { at: hi }];
  const objects: [bigint, bigint, string][] = [];
  for (const s of elf.symbols) {
    if (s.value < lo || s.value >= hi) continue;
    if (s.type === STT_FUNC) marks.push({ at: s.value, func: s.name });
    else if (s.type === STT_OBJECT && s.size > 0n) {
      const end = s.value + s.size < hi ? s.value + s.size : hi;
      objects.push([s.value, end, s.name]);
      marks.push({ at: s.value, objStart: s.name }, { at: end });
    }
  }
  marks.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const chunks: Chunk[] = [];
  for (let i = 0; i < marks.length - 1; i++) {
    const start = marks[i].at;
    if (start === marks[i + 1].at) {
      // Keep the names of coinciding marks for the chunk that does start here.
      marks[i + 1].func ??= marks[i].func;
      marks[i + 1].objStart ??= marks[i].objStart;
      continue;
    }
    const obj = objects.find(([a, b]) => a <= start && start < b);
    chunks.push({
      kind: obj ? 'data' : 'code',
      start,
      end: marks[i + 1].at,
      fileOffset: fileBase(start),
      section: sh.name,
      symbol: obj ? obj[2] : marks[i].func,
      reason: obj ? `inside data object ${obj[2] || '(unnamed)'}` : undefined,
    });
  }
  return chunks;
}

/** The code/data chunks of one executable segment, in address order, covering it exactly. */
export function mapSegment(elf: ElfHeaders, seg: ProgramHeader): SegmentMap {
  const lo = seg.vaddr;
  const hi = seg.vaddr + seg.filesz;
  const fileBase = (a: bigint): number => Number(seg.offset + (a - seg.vaddr));
  if (elf.sections.length === 0) {
    const reason = undefined;
    return {
      segment: seg,
      chunks: [
        {
          kind: 'code',
          start: lo,
          end: hi,
          fileOffset: fileBase(lo),
          section: undefined,
          symbol: undefined,
          reason,
        },
      ],
    };
  }
  const execs = elf.sections
    .filter((s) => isExecSection(s) && s.size > 0n && s.addr < hi && s.addr + s.size > lo)
    .sort((a, b) => (a.addr < b.addr ? -1 : 1));
  const chunks: Chunk[] = [];
  let cursor = lo;
  // Data between code sections: one chunk per section (or gap), so that an occurrence names
  // the section it lies in (.rodata, .eh_frame, …).
  const allocs = elf.sections
    .filter((x) => (x.flags & SHF_ALLOC) !== 0n && x.type !== SHT_NOBITS && x.size > 0n)
    .sort((x, y) => (x.addr < y.addr ? -1 : 1));
  const pushData = (a: bigint, b: bigint): void => {
    while (a < b) {
      const sec = sectionAt(elf, a);
      const next = allocs.find((x) => x.addr > a && x.addr < b);
      const end = sec && sec.addr + sec.size < b ? sec.addr + sec.size : (next?.addr ?? b);
      chunks.push({
        kind: 'data',
        start: a,
        end,
        fileOffset: fileBase(a),
        section: sec?.name,
        symbol: undefined,
        reason: 'not in an executable section',
      });
      a = end;
    }
  };
  for (const sh of execs) {
    const a = sh.addr > cursor ? sh.addr : cursor;
    const b = sh.addr + sh.size < hi ? sh.addr + sh.size : hi;
    if (b <= a) continue;
    pushData(cursor, a);
    chunks.push(...splitSection(elf, sh, a, b, fileBase));
    cursor = b;
  }
  pushData(cursor, hi);
  return { segment: seg, chunks };
}

export function mapExecutableSegments(elf: ElfHeaders): SegmentMap[] {
  return elf.programHeaders
    .filter((p) => isExecutableLoad(p) && p.filesz > 0n)
    .map((p) => mapSegment(elf, p));
}

/** Index of the chunk holding addr (chunks sorted and contiguous), or -1. */
export function findChunk(chunks: Chunk[], addr: bigint): number {
  let lo = 0;
  let hi = chunks.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (chunks[mid].end <= addr) lo = mid + 1;
    else if (chunks[mid].start > addr) hi = mid - 1;
    else return mid;
  }
  return -1;
}
