// Reads an ELF64 little-endian x86-64 file: header, program headers, section headers and the
// .symtab/.dynsym symbols, from memory or range by range from a file (byte-source.ts). Every
// offset and size is checked against the file before use, so a malformed file becomes one
// ElfFormatError, never an out-of-bounds read.
// Layouts: gABI "ELF Header", "Program Header", "Sections", "Symbol Table" (Elf64_* types).
import { memorySource, type ByteSource } from './byte-source.ts';
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
  STT_FUNC,
  STT_OBJECT,
  SYM_SIZE,
  type ElfFile,
  type ElfHeaders,
  type ElfHeader,
  type ElfSymbol,
  type ProgramHeader,
  type SectionHeader,
  isExecutableLoad,
} from './elf-types.ts';

const U64_MAX = (1n << 64n) - 1n;
// Canonical x86-64 addresses even with 5-level paging (LA57): below 2^56 or from 2^64 - 2^56.
const LOW_HALF_END = 1n << 56n;
const HIGH_HALF_START = (1n << 64n) - (1n << 56n);
// Symbol tables are read in windows of this many entries (a file source copies each window).
const SYM_WINDOW = 32768;
const STR_WINDOW = 4096;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** A range [offset, offset+size) must lie inside the file; returns offset as a safe number. */
function inFile(fileSize: number, offset: bigint, size: bigint, what: string): number {
  if (offset + size > BigInt(fileSize)) {
    throw new ElfFormatError(
      `${what} (offset ${hex(offset)}, size ${hex(size)}) extends past the end of the file (${hex(fileSize)} bytes)`,
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
  return programHeadersFrom(memorySource(bytes), h);
}

function programHeadersFrom(src: ByteSource, h: ElfHeader): ProgramHeader[] {
  const size = h.phnum * PHDR_SIZE;
  const base = inFile(src.size, h.phoff, BigInt(size), 'program header table');
  const v = view(src.read(base, size));
  const out: ProgramHeader[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const o = i * PHDR_SIZE;
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
    if (ph.filesz > 0n) inFile(src.size, ph.offset, ph.filesz, `segment ${i}`);
    if (ph.type === PT_LOAD) checkLoad(ph);
    out.push(ph);
  }
  checkLoadsDisjoint(out);
  return out;
}

function checkLoad(ph: ProgramHeader): void {
  const i = ph.index;
  if (ph.memsz < ph.filesz)
    throw new ElfFormatError(`segment ${i}: p_memsz is smaller than p_filesz`);
  const end = ph.vaddr + ph.memsz;
  if (end > U64_MAX) throw new ElfFormatError(`segment ${i}: address range wraps around`);
  // No x86-64 loader can map such a segment; refusing it here keeps absurd sizes out of
  // every later computation (the rewriter's new segment goes above the highest one).
  if (ph.memsz > 0n && end > LOW_HALF_END && ph.vaddr < HIGH_HALF_START)
    throw new ElfFormatError(
      `segment ${i}: addresses ${hex(ph.vaddr)}-${hex(end)} are not canonical x86-64 addresses`,
    );
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
  return sectionHeadersFrom(memorySource(bytes), h);
}

function sectionHeadersFrom(src: ByteSource, h: ElfHeader): SectionHeader[] {
  if (h.shnum === 0) return [];
  const size = h.shnum * SHDR_SIZE;
  const base = inFile(src.size, h.shoff, BigInt(size), 'section header table');
  const v = view(src.read(base, size));
  const out: SectionHeader[] = [];
  for (let i = 0; i < h.shnum; i++) {
    const o = i * SHDR_SIZE;
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
    if (sh.type !== SHT_NOBITS && sh.size > 0n)
      inFile(src.size, sh.offset, sh.size, `section ${i}`);
    out.push(sh);
  }
  if (h.shstrndx >= h.shnum) throw new ElfFormatError(`e_shstrndx ${h.shstrndx} is out of range`);
  const strtab = out[h.shstrndx];
  const start = inFile(src.size, strtab.offset, strtab.size, 'section name string table');
  const names = src.read(start, Number(strtab.size));
  for (const sh of out) {
    if (sh.nameOffset >= strtab.size)
      throw new ElfFormatError(`section ${sh.index}: name offset out of range`);
    sh.name = cString(names, sh.nameOffset, names.length);
  }
  return out;
}

/** Which symbols to keep (all are checked): a scan needs only a few. */
type SymbolFilter = (type: number, value: bigint, size: bigint) => boolean;

export function readSymbols(bytes: Uint8Array, sections: SectionHeader[]): ElfSymbol[] {
  return symbolsFrom(memorySource(bytes), sections);
}

/** Index of the last NUL in [start, start+size) of the file, or -1: read from the end. */
function lastNul(src: ByteSource, start: number, size: number): number {
  for (let end = size; end > 0;) {
    const from = Math.max(0, end - STR_WINDOW);
    const at = src.read(start + from, end - from).lastIndexOf(0);
    if (at >= 0) return from + at;
    end = from;
  }
  return -1;
}

function symbolsFrom(src: ByteSource, sections: SectionHeader[], keep?: SymbolFilter): ElfSymbol[] {
  const out: ElfSymbol[] = [];
  for (const sh of sections) {
    if (sh.type !== SHT_SYMTAB && sh.type !== SHT_DYNSYM) continue;
    if (sh.entsize !== BigInt(SYM_SIZE))
      throw new ElfFormatError(`section ${sh.index}: bad symbol entry size`);
    if (sh.link >= sections.length)
      throw new ElfFormatError(`section ${sh.index}: bad string table link`);
    const str = sections[sh.link];
    const tableStart = inFile(src.size, sh.offset, sh.size, `symbol table ${sh.index}`);
    const strStart = inFile(src.size, str.offset, str.size, `string table ${str.index}`);
    const strSize = Number(str.size);
    // A name is terminated iff a NUL follows it in the table: iff it starts at or before the
    // last NUL. This checks every name without reading the table unless a name is kept.
    const last = lastNul(src, strStart, strSize);
    let strings: Uint8Array | undefined;
    const table = sh.type === SHT_SYMTAB ? '.symtab' : '.dynsym';
    const count = Math.floor(Number(sh.size) / SYM_SIZE);
    for (let first = 1; first < count; first += SYM_WINDOW) {
      const n = Math.min(SYM_WINDOW, count - first);
      const v = view(src.read(tableStart + first * SYM_SIZE, n * SYM_SIZE));
      for (let k = 0; k < n; k++) {
        const o = k * SYM_SIZE;
        const nameOff = v.getUint32(o, true);
        const info = v.getUint8(o + 4);
        if (nameOff !== 0 && (nameOff >= strSize || nameOff > last)) {
          const why = nameOff >= strSize ? 'name out of range' : 'unterminated name';
          throw new ElfFormatError(`symbol ${first + k} in ${table}: ${why}`);
        }
        const value = v.getBigUint64(o + 8, true);
        const size = v.getBigUint64(o + 16, true);
        if (keep && !keep(info & 0xf, value, size)) continue;
        strings ??= src.read(strStart, strSize);
        out.push({
          name: nameOff === 0 ? '' : cString(strings, nameOff, strSize),
          type: info & 0xf,
          bind: info >> 4,
          shndx: v.getUint16(o + 6, true),
          value,
          size,
          table,
        });
      }
    }
  }
  return out;
}

/**
 * Parses and validates everything but the contents, reading only the tables it needs.
 * Throws ElfFormatError with a one-line reason (or BinaryIoError from a file source).
 */
export function readElfHeaders(
  src: ByteSource,
  opts: { symbols?: 'all' | 'none' } = {},
): ElfHeaders {
  const header = readElfHeader(src.read(0, Math.min(src.size, EHDR_SIZE)));
  const programHeaders = programHeadersFrom(src, header);
  const sections = sectionHeadersFrom(src, header);
  // 'none' checks every symbol (same errors as 'all') but keeps none: see readScanSymbols.
  const symbols = symbolsFrom(src, sections, opts.symbols === 'none' ? () => false : undefined);
  return { size: src.size, header, programHeaders, sections, symbols };
}

/**
 * The symbols a scan uses (code-map.ts, scanner.ts functionCoverage), read when a segment has
 * a hit: functions and data objects that start in, or with their size reach into, an
 * executable segment's bytes.
 */
export function readScanSymbols(src: ByteSource, h: ElfHeaders): ElfSymbol[] {
  return symbolsFrom(src, h.sections, scanSymbolFilter(h.programHeaders));
}

/** Parses and validates the whole file. Throws ElfFormatError with a one-line reason. */
export function readElf(bytes: Uint8Array): ElfFile {
  return { ...readElfHeaders(memorySource(bytes)), bytes };
}

function scanSymbolFilter(programHeaders: ProgramHeader[]): SymbolFilter {
  const ranges = programHeaders
    .filter((p) => isExecutableLoad(p) && p.filesz > 0n)
    .map((p) => [p.vaddr, p.vaddr + p.filesz] as const);
  return (type, value, size) => {
    if (type !== STT_FUNC && type !== STT_OBJECT) return false;
    const end = value + (size > 0n ? size : 1n);
    return ranges.some(([lo, hi]) => value < hi && end > lo);
  };
}
