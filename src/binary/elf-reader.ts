// Reads an ELF64 little-endian x86-64 file: header, program headers, section headers and the
// .symtab/.dynsym symbols. Every offset and size is checked against the file before use, so a
// malformed file becomes one ElfFormatError, never an out-of-bounds read.
// Layouts: gABI "ELF Header", "Program Header", "Sections", "Symbol Table" (Elf64_* types).
import { ElfFormatError } from './errors.ts';
import {
  ELF_MAGIC,
  ELFCLASS64,
  ELFDATA2LSB,
  EM_X86_64,
  EHDR_SIZE,
  PHDR_SIZE,
  PT_LOAD,
  SHDR_SIZE,
  SHT_DYNSYM,
  SHT_NOBITS,
  SHT_SYMTAB,
  SYM_SIZE,
  type ElfFile,
  type ElfHeader,
  type ElfSymbol,
  type ProgramHeader,
  type SectionHeader,
} from './elf-types.ts';

const U64_MAX = (1n << 64n) - 1n;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A range [offset, offset+size) must lie inside the file; returns offset as a safe number. */
function inFile(bytes: Uint8Array, offset: bigint, size: bigint, what: string): number {
  if (offset + size > BigInt(bytes.length)) {
    throw new ElfFormatError(
      `${what} (offset 0x${offset.toString(16)}, size 0x${size.toString(16)}) extends past the end of the file (0x${bytes.length.toString(16)} bytes)`,
    );
  }
  return Number(offset);
}

export function readElfHeader(bytes: Uint8Array): ElfHeader {
  if (bytes.length < 4 || ELF_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new ElfFormatError('not an ELF file (bad magic number)');
  }
  if (bytes.length < 6) throw new ElfFormatError('truncated ELF identification');
  if (bytes[4] !== ELFCLASS64) {
    throw new ElfFormatError(
      `unsupported ELF class ${bytes[4]}: only 64-bit (ELFCLASS64) files are handled`,
    );
  }
  if (bytes[5] !== ELFDATA2LSB) {
    throw new ElfFormatError(
      `unsupported ELF data encoding ${bytes[5]}: only little-endian files are handled`,
    );
  }
  if (bytes.length < EHDR_SIZE) throw new ElfFormatError('truncated ELF header');
  const v = view(bytes);
  const h: ElfHeader = {
    type: v.getUint16(16, true),
    machine: v.getUint16(18, true),
    entry: v.getBigUint64(24, true),
    phoff: v.getBigUint64(32, true),
    shoff: v.getBigUint64(40, true),
    flags: v.getUint32(48, true),
    ehsize: v.getUint16(52, true),
    phentsize: v.getUint16(54, true),
    phnum: v.getUint16(56, true),
    shentsize: v.getUint16(58, true),
    shnum: v.getUint16(60, true),
    shstrndx: v.getUint16(62, true),
  };
  if (h.machine !== EM_X86_64) {
    throw new ElfFormatError(
      `unsupported machine ${h.machine}: only x86-64 (EM_X86_64) is handled`,
    );
  }
  if (h.phnum > 0 && h.phentsize !== PHDR_SIZE) {
    throw new ElfFormatError(
      `bad program header entry size ${h.phentsize} (expected ${PHDR_SIZE})`,
    );
  }
  if (h.shnum > 0 && h.shentsize !== SHDR_SIZE) {
    throw new ElfFormatError(
      `bad section header entry size ${h.shentsize} (expected ${SHDR_SIZE})`,
    );
  }
  // gABI: phnum == PN_XNUM (0xffff) and shnum == 0 with shoff != 0 mean extended numbering.
  if (h.phnum === 0xffff || (h.shnum === 0 && h.shoff !== 0n)) {
    throw new ElfFormatError('extended section/segment numbering is not supported');
  }
  return h;
}

export function readProgramHeaders(bytes: Uint8Array, h: ElfHeader): ProgramHeader[] {
  const base = inFile(bytes, h.phoff, BigInt(h.phnum * PHDR_SIZE), 'program header table');
  const v = view(bytes);
  const out: ProgramHeader[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const o = base + i * PHDR_SIZE;
    const ph: ProgramHeader = {
      index: i,
      type: v.getUint32(o, true),
      flags: v.getUint32(o + 4, true),
      offset: v.getBigUint64(o + 8, true),
      vaddr: v.getBigUint64(o + 16, true),
      paddr: v.getBigUint64(o + 24, true),
      filesz: v.getBigUint64(o + 32, true),
      memsz: v.getBigUint64(o + 40, true),
      align: v.getBigUint64(o + 48, true),
    };
    if (ph.filesz > 0n) inFile(bytes, ph.offset, ph.filesz, `segment ${i}`);
    if (ph.type === PT_LOAD) {
      if (ph.memsz < ph.filesz)
        throw new ElfFormatError(`segment ${i}: p_memsz is smaller than p_filesz`);
      if (ph.vaddr + ph.memsz > U64_MAX)
        throw new ElfFormatError(`segment ${i}: address range wraps around`);
    }
    out.push(ph);
  }
  checkLoadsDisjoint(out);
  return out;
}

/** gABI: PT_LOAD entries are sorted by p_vaddr; two loads mapping the same byte is malformed. */
function checkLoadsDisjoint(phs: ProgramHeader[]): void {
  const loads = phs.filter((p) => p.type === PT_LOAD && p.memsz > 0n);
  const sorted = [...loads].sort((a, b) => (a.vaddr < b.vaddr ? -1 : a.vaddr > b.vaddr ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (prev.vaddr + prev.memsz > cur.vaddr) {
      throw new ElfFormatError(`segments ${prev.index} and ${cur.index} overlap in memory`);
    }
  }
}

function cString(bytes: Uint8Array, start: number, end: number): string {
  let i = start;
  while (i < end && bytes[i] !== 0) i++;
  if (i >= end) throw new ElfFormatError('unterminated string in a string table');
  return new TextDecoder('latin1').decode(bytes.subarray(start, i));
}

export function readSectionHeaders(bytes: Uint8Array, h: ElfHeader): SectionHeader[] {
  if (h.shnum === 0) return [];
  const base = inFile(bytes, h.shoff, BigInt(h.shnum * SHDR_SIZE), 'section header table');
  const v = view(bytes);
  const out: SectionHeader[] = [];
  for (let i = 0; i < h.shnum; i++) {
    const o = base + i * SHDR_SIZE;
    const sh: SectionHeader = {
      index: i,
      name: '',
      nameOffset: v.getUint32(o, true),
      type: v.getUint32(o + 4, true),
      flags: v.getBigUint64(o + 8, true),
      addr: v.getBigUint64(o + 16, true),
      offset: v.getBigUint64(o + 24, true),
      size: v.getBigUint64(o + 32, true),
      link: v.getUint32(o + 40, true),
      info: v.getUint32(o + 44, true),
      addralign: v.getBigUint64(o + 48, true),
      entsize: v.getBigUint64(o + 56, true),
    };
    if (sh.type !== SHT_NOBITS && sh.size > 0n) inFile(bytes, sh.offset, sh.size, `section ${i}`);
    out.push(sh);
  }
  if (h.shstrndx >= h.shnum) throw new ElfFormatError(`e_shstrndx ${h.shstrndx} is out of range`);
  const strtab = out[h.shstrndx];
  const start = inFile(bytes, strtab.offset, strtab.size, 'section name string table');
  const end = start + Number(strtab.size);
  for (const sh of out) {
    if (sh.nameOffset >= strtab.size)
      throw new ElfFormatError(`section ${sh.index}: name offset out of range`);
    sh.name = cString(bytes, start + sh.nameOffset, end);
  }
  return out;
}

export function readSymbols(bytes: Uint8Array, sections: SectionHeader[]): ElfSymbol[] {
  const v = view(bytes);
  const out: ElfSymbol[] = [];
  for (const sh of sections) {
    if (sh.type !== SHT_SYMTAB && sh.type !== SHT_DYNSYM) continue;
    if (sh.entsize !== BigInt(SYM_SIZE))
      throw new ElfFormatError(`section ${sh.index}: bad symbol entry size`);
    if (sh.link >= sections.length)
      throw new ElfFormatError(`section ${sh.index}: bad string table link`);
    const str = sections[sh.link];
    inFile(bytes, sh.offset, sh.size, `symbol table ${sh.index}`);
    const strStart = inFile(bytes, str.offset, str.size, `string table ${str.index}`);
    const strEnd = strStart + Number(str.size);
    const table = sh.type === SHT_SYMTAB ? '.symtab' : '.dynsym';
    const count = Number(sh.size) / SYM_SIZE;
    for (let i = 1; i < count; i++) {
      const o = Number(sh.offset) + i * SYM_SIZE;
      const nameOff = v.getUint32(o, true);
      const info = bytes[o + 4];
      if (nameOff >= str.size && nameOff !== 0)
        throw new ElfFormatError(`symbol ${i} in ${table}: name out of range`);
      out.push({
        name: nameOff === 0 ? '' : cString(bytes, strStart + nameOff, strEnd),
        type: info & 0xf,
        bind: info >> 4,
        shndx: v.getUint16(o + 6, true),
        value: v.getBigUint64(o + 8, true),
        size: v.getBigUint64(o + 16, true),
        table,
      });
    }
  }
  return out;
}

/** Parses and validates the whole file. Throws ElfFormatError with a one-line reason. */
export function readElf(bytes: Uint8Array): ElfFile {
  const header = readElfHeader(bytes);
  const programHeaders = readProgramHeaders(bytes, header);
  const sections = readSectionHeaders(bytes, header);
  const symbols = readSymbols(bytes, sections);
  return { bytes, header, programHeaders, sections, symbols };
}
