// Writes a rewritten ELF file: the original bytes with in-place patches, plus new code in a
// new executable segment appended at the end of the file.
//
// Layout chosen (documented in README.md): the program header table cannot grow in place
// (the bytes after it belong to .interp and friends), so a copy with two more entries is
// appended at the end of the file, in a new read-only PT_LOAD, and e_phoff and PT_PHDR point
// to it. gABI: PT_PHDR "may occur only if the program header table is part of the memory
// image", and loaders (glibc rtld, Linux binfmt_elf) find the table through it or through
// the PT_LOAD holding e_phoff. After it, page-aligned, comes the new code in a PT_LOAD with
// PF_R|PF_X. New segments keep vaddr - offset equal to that of the first PT_LOAD, so that
// even loaders that compute the table's address as load base + e_phoff find it. PT_LOAD
// entries must be sorted by p_vaddr (gABI), so the new ones go right after the last old one,
// at addresses above every old segment. A section header ".skybridge.text" describes the new
// code, so that objdump and our own scanner see it as code; the section name string table
// and the section header table are appended too (old copies stay behind, unreferenced).
import { ElfFormatError } from './errors.ts';
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

export interface AppendPlan {
  phdrOffset: number;
  phdrVaddr: bigint;
  phdrCount: number;
  codeOffset: number;
  codeVaddr: bigint;
}

export interface Patch {
  fileOffset: number;
  bytes: Uint8Array;
}

function alignUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

/** Where the new program header table and the new code will live. */
export function planAppend(elf: ElfFile): AppendPlan {
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
  if (loads.length === 0)
    throw new ElfFormatError('no PT_LOAD segment: not an executable or shared object');
  const first = loads.reduce((a, b) => (b.vaddr < a.vaddr ? b : a));
  const delta = first.vaddr - first.offset;
  if (delta % PAGE !== 0n) throw new ElfFormatError('first PT_LOAD is not page-congruent');
  let maxEnd = 0n;
  let align = PAGE;
  for (const p of loads) {
    if (p.vaddr + p.memsz > maxEnd) maxEnd = p.vaddr + p.memsz;
    if (p.align > align && p.align <= 0x200000n) align = p.align;
  }
  const fileLen = BigInt(elf.bytes.length);
  const lowest = maxEnd - delta > fileLen ? maxEnd - delta : fileLen;
  const phdrOffset = alignUp(lowest, align);
  const phdrCount = elf.header.phnum + 2;
  const codeOffset = phdrOffset + alignUp(BigInt(phdrCount * PHDR_SIZE), PAGE);
  return {
    phdrOffset: Number(phdrOffset),
    phdrVaddr: phdrOffset + delta,
    phdrCount,
    codeOffset: Number(codeOffset),
    codeVaddr: codeOffset + delta,
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

/** The new file: patched original, new PHDR table, new code, new .shstrtab and SHDR table. */
export function writeWithCodeSegment(
  elf: ElfFile,
  patches: Patch[],
  code: Uint8Array,
  plan: AppendPlan,
): Uint8Array {
  const h = elf.header;
  const phdrSize = plan.phdrCount * PHDR_SIZE;
  const codeEnd = plan.codeOffset + code.length;
  const hasSections = elf.sections.length > 0;
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
  elf.programHeaders.forEach((p, k) => {
    if (p.type === PT_PHDR) {
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
      const size = BigInt(phdrSize);
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
  out.set(code, plan.codeOffset);
  v.setBigUint64(32, BigInt(plan.phdrOffset), true); // e_phoff
  v.setUint16(56, plan.phdrCount, true); // e_phnum

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
