// Writes a rewritten ELF file: the original bytes with in-place patches, plus new code in a
// new executable segment appended at the end of the file.
//
// Layout chosen (documented in README.md): the program header table cannot grow in place
// (the bytes after it belong to .interp and friends), so a copy with two more entries is
// appended at the end of the file, in a new read-only PT_LOAD, and e_phoff and PT_PHDR point
// to it. gABI: PT_PHDR "may occur only if the program header table is part of the memory
// image", and loaders (glibc rtld, Linux binfmt_elf) find the table through it or through
// the PT_LOAD holding e_phoff. After it, page-aligned, comes the new code in a PT_LOAD with
// PF_R|PF_X. PT_LOAD entries must be sorted by p_vaddr (gABI), so the new ones go right after
// the last old one, at addresses above every old segment. A section header ".skybridge.text"
// describes the new code, so that objdump and our own scanner see it as code; the section
// name string table and the section header table are appended too (old copies stay behind,
// unreferenced).
//
// File offsets: the new segments start at the first page boundary after the file's contents
// (packed), page-congruent with their addresses, so .bss and address-space gaps cost no file
// space. When it costs at most CONGRUENT_SLACK more, they instead keep the first PT_LOAD's
// p_vaddr - p_offset: loaders that take the table's address to be that load's base + e_phoff
// (Linux before 5.18, valgrind for a file without PT_PHDR) then find it too.
import { ElfFormatError } from './errors.ts';
import type { SegmentSplit } from './nx-pages.ts';
import {
  EHDR_SIZE,
  PF_R,
  PF_X,
  PHDR_SIZE,
  PT_LOAD,
  PT_PHDR,
  SHDR_SIZE,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHT_PROGBITS,
  type ElfFile,
  type ProgramHeader,
  type SectionHeader,
} from './elf-types.ts';

export const NEW_SECTION_NAME = '.skybridge.text';
const PAGE = 0x1000n;
export const CONGRUENT_SLACK = 1n << 20n;
// Where user space ends on x86-64: 47-bit (4-level paging) unless the file is already above
// that (5-level paging, 57-bit); a file in the upper half (a kernel) may go up to 2^64.
const USER_47 = 1n << 47n;
const USER_56 = 1n << 56n;
const TOP = 1n << 64n;

export interface AppendPlan {
  phdrOffset: number;
  phdrVaddr: bigint;
  phdrCount: number;
  /** Read-only data after the table, in the same segment (new unwind tables). */
  dataOffset: number;
  dataVaddr: bigint;
  dataSize: number;
  codeOffset: number;
  codeVaddr: bigint;
  /** The new code must end at or below this address. */
  limit: bigint;
}

export interface Patch {
  fileOffset: number;
  bytes: Uint8Array;
}

function alignUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/**
 * Where the new program header table and the new code will live; `extraPhdrs` more entries
 * (the pieces a split segment adds, nx-pages.ts) and `dataSize` bytes of read-only data after
 * the table are reserved.
 */
export function planAppend(elf: ElfFile, extraPhdrs = 0, dataSize = 0): AppendPlan {
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
  if (loads.length === 0)
    throw new ElfFormatError('no PT_LOAD segment: not an executable or shared object');
  const first = loads.reduce((a, b) => (b.vaddr < a.vaddr ? b : a));
  let maxEnd = 0n;
  for (const p of loads) if (p.vaddr + p.memsz > maxEnd) maxEnd = p.vaddr + p.memsz;
  const limit = first.vaddr >= 1n << 63n ? TOP : maxEnd <= USER_47 ? USER_47 : USER_56;
  const fileEnd = alignUp(BigInt(elf.bytes.length), PAGE);
  const vaddr = alignUp(maxEnd, PAGE);
  let phdrOffset = fileEnd;
  let phdrVaddr = vaddr;
  const delta = first.vaddr - first.offset;
  if (delta % PAGE === 0n) {
    const congruent = vaddr - delta > fileEnd ? vaddr - delta : fileEnd;
    if (congruent - fileEnd <= CONGRUENT_SLACK) {
      phdrOffset = congruent;
      phdrVaddr = congruent + delta;
    }
  }
  const phdrCount = elf.header.phnum + 2 + extraPhdrs;
  const dataAt = alignUp(BigInt(phdrCount * PHDR_SIZE), 8n);
  const phdrPages = alignUp(dataAt + BigInt(dataSize), PAGE);
  if (phdrVaddr + phdrPages + PAGE > limit)
    throw new ElfFormatError(
      `no room for a new segment: the segments end at ${hex(maxEnd)}, too close to ${hex(limit)}`,
    );
  return {
    phdrOffset: Number(phdrOffset),
    phdrVaddr,
    phdrCount,
    dataOffset: Number(phdrOffset + dataAt),
    dataVaddr: phdrVaddr + dataAt,
    dataSize,
    codeOffset: Number(phdrOffset + phdrPages),
    codeVaddr: phdrVaddr + phdrPages,
    limit,
  };
}

function putPhdr(v: DataView, o: number, p: Omit<ProgramHeader, 'index'>): void {
  v.setUint32(o, p.type, true);
  v.setUint32(o + 4, p.flags, true);
  v.setBigUint64(o + 8, p.offset, true);
  v.setBigUint64(o + 16, p.vaddr, true);
  v.setBigUint64(o + 24, p.paddr, true);
  v.setBigUint64(o + 32, p.filesz, true);
  v.setBigUint64(o + 40, p.memsz, true);
  v.setBigUint64(o + 48, p.align, true);
}

function putShdr(v: DataView, o: number, s: Omit<SectionHeader, 'index' | 'name'>): void {
  v.setUint32(o, s.nameOffset, true);
  v.setUint32(o + 4, s.type, true);
  v.setBigUint64(o + 8, s.flags, true);
  v.setBigUint64(o + 16, s.addr, true);
  v.setBigUint64(o + 24, s.offset, true);
  v.setBigUint64(o + 32, s.size, true);
  v.setUint32(o + 40, s.link, true);
  v.setUint32(o + 44, s.info, true);
  v.setBigUint64(o + 48, s.addralign, true);
  v.setBigUint64(o + 56, s.entsize, true);
}

/** Besides code: data after the new table, and program headers replaced by index. */
export interface AppendExtra {
  data?: Uint8Array;
  replace?: { index: number; piece: Omit<ProgramHeader, 'index'> }[];
}

/** The new file: patched original, new PHDR table, new code, new .shstrtab and SHDR table. */
export function writeWithCodeSegment(
  elf: ElfFile,
  patches: Patch[],
  code: Uint8Array,
  plan: AppendPlan,
  splits: SegmentSplit[] = [],
  more: AppendExtra = {},
): Uint8Array {
  const h = elf.header;
  if (plan.codeVaddr + BigInt(code.length) > plan.limit)
    throw new ElfFormatError(
      `no room for ${code.length} bytes of new code below ${hex(plan.limit)}`,
    );
  // Without new code (only split segments) there is no code segment and no new section.
  const hasCode = code.length > 0;
  const pieces = new Map(splits.map((s) => [s.index, s.pieces]));
  const extra = splits.reduce((n, s) => n + s.pieces.length - 1, 0);
  const phdrCount = h.phnum + 1 + (hasCode ? 1 : 0) + extra;
  if (phdrCount > plan.phdrCount) throw new Error('internal: more program headers than planned');
  const phdrSize = phdrCount * PHDR_SIZE;
  const data = more.data ?? new Uint8Array(0);
  if (data.length > plan.dataSize) throw new Error('internal: more data than planned');
  const tableEnd = data.length > 0 ? plan.dataOffset + data.length : plan.phdrOffset + phdrSize;
  const codeEnd = hasCode ? plan.codeOffset + code.length : tableEnd;
  const hasSections = elf.sections.length > 0 && hasCode;
  const oldStr = hasSections ? elf.sections[h.shstrndx] : undefined;
  const name = new TextEncoder().encode(`${NEW_SECTION_NAME}\0`);
  const strOffset = codeEnd;
  const strSize = oldStr ? Number(oldStr.size) + name.length : 0;
  const shOffset = Number(alignUp(BigInt(strOffset + strSize), 8n));
  const shCount = hasSections ? elf.sections.length + 1 : 0;
  const out = new Uint8Array(hasSections ? shOffset + shCount * SHDR_SIZE : codeEnd);
  out.set(elf.bytes);
  for (const p of patches) out.set(p.bytes, p.fileOffset);
  const v = new DataView(out.buffer);

  // Program headers: old ones (PT_PHDR moved), the two new PT_LOADs after the last old one.
  const lastLoad = elf.programHeaders.reduce((i, p, k) => (p.type === PT_LOAD ? k : i), -1);
  let o = plan.phdrOffset;
  const put = (p: Omit<ProgramHeader, 'index'>): void => {
    putPhdr(v, o, p);
    o += PHDR_SIZE;
  };
  const replaced = new Map((more.replace ?? []).map((r) => [r.index, r.piece]));
  elf.programHeaders.forEach((p, k) => {
    const split = pieces.get(p.index);
    const other = replaced.get(p.index);
    if (split) split.forEach(put);
    else if (other) put(other);
    else if (p.type === PT_PHDR) {
      const size = BigInt(phdrSize);
      put({
        ...p,
        offset: BigInt(plan.phdrOffset),
        vaddr: plan.phdrVaddr,
        paddr: plan.phdrVaddr,
        filesz: size,
        memsz: size,
      });
    } else put(p);
    if (k === lastLoad) {
      const size = BigInt(tableEnd - plan.phdrOffset);
      put({
        type: PT_LOAD,
        flags: PF_R,
        offset: BigInt(plan.phdrOffset),
        vaddr: plan.phdrVaddr,
        paddr: plan.phdrVaddr,
        filesz: size,
        memsz: size,
        align: PAGE,
      });
      const csize = BigInt(code.length);
      if (hasCode)
        put({
          type: PT_LOAD,
          flags: PF_R | PF_X,
          offset: BigInt(plan.codeOffset),
          vaddr: plan.codeVaddr,
          paddr: plan.codeVaddr,
          filesz: csize,
          memsz: csize,
          align: PAGE,
        });
    }
  });
  if (hasCode) out.set(code, plan.codeOffset);
  if (data.length > 0) out.set(data, plan.dataOffset);
  v.setBigUint64(32, BigInt(plan.phdrOffset), true); // e_phoff
  v.setUint16(56, phdrCount, true); // e_phnum

  if (hasSections && oldStr) {
    out.set(
      elf.bytes.subarray(Number(oldStr.offset), Number(oldStr.offset) + Number(oldStr.size)),
      strOffset,
    );
    out.set(name, strOffset + Number(oldStr.size));
    let so = shOffset;
    for (const s of elf.sections) {
      const moved =
        s.index === h.shstrndx ? { ...s, offset: BigInt(strOffset), size: BigInt(strSize) } : s;
      putShdr(v, so, moved);
      so += SHDR_SIZE;
    }
    putShdr(v, so, {
      nameOffset: Number(oldStr.size),
      type: SHT_PROGBITS,
      flags: SHF_ALLOC | SHF_EXECINSTR,
      addr: plan.codeVaddr,
      offset: BigInt(plan.codeOffset),
      size: BigInt(code.length),
      link: 0,
      info: 0,
      addralign: 16n,
      entsize: 0n,
    });
    v.setBigUint64(40, BigInt(shOffset), true); // e_shoff
    v.setUint16(60, shCount, true); // e_shnum
  }
  if (out.length < EHDR_SIZE)
    throw new ElfFormatError('internal: output smaller than an ELF header');
  return out;
}

/** Only in-place patches: same size as the input. */
export function writePatched(elf: ElfFile, patches: Patch[]): Uint8Array {
  const out = new Uint8Array(elf.bytes);
  for (const p of patches) out.set(p.bytes, p.fileOffset);
  return out;
}
