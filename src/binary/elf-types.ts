// ELF64 structures and constants we read and write. Field names follow the System V ABI
// (gABI, "ELF Object Files" chapter; x86-64 psABI for EM_X86_64). 64-bit fields are bigint so
// that no address or offset loses precision; 16/32-bit fields are numbers.

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const; // "\x7fELF", gABI e_ident[EI_MAG0..3]
export const ELFCLASS64 = 2; // e_ident[EI_CLASS]
export const ELFDATA2LSB = 1; // e_ident[EI_DATA]
export const EM_X86_64 = 62; // e_machine
export const EHDR_SIZE = 64; // sizeof(Elf64_Ehdr)
export const PHDR_SIZE = 56; // sizeof(Elf64_Phdr)
export const SHDR_SIZE = 64; // sizeof(Elf64_Shdr)
export const SYM_SIZE = 24; // sizeof(Elf64_Sym)

export const PT_LOAD = 1;
export const PT_PHDR = 6;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_NOBITS = 8;
export const SHT_DYNSYM = 11;
export const SHF_ALLOC = 2n;
export const SHF_EXECINSTR = 4n;

export const STT_OBJECT = 1;
export const STT_FUNC = 2;

export const ET_EXEC = 2;
export const ET_DYN = 3;

export interface ElfHeader {
  type: number;
  machine: number;
  entry: bigint;
  phoff: bigint;
  shoff: bigint;
  flags: number;
  ehsize: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

export interface ProgramHeader {
  index: number;
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

export interface SectionHeader {
  index: number;
  name: string;
  nameOffset: number;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: bigint;
  size: bigint;
  link: number;
  info: number;
  addralign: bigint;
  entsize: bigint;
}

export interface ElfSymbol {
  name: string;
  value: bigint;
  size: bigint;
  /** ELF64_ST_TYPE(st_info) */
  type: number;
  /** ELF64_ST_BIND(st_info) */
  bind: number;
  shndx: number;
  /** Which table it came from. */
  table: '.symtab' | '.dynsym';
}

/** Everything but the contents: what a streamed scan holds in memory. */
export interface ElfHeaders {
  /** File size in bytes. */
  size: number;
  header: ElfHeader;
  programHeaders: ProgramHeader[];
  sections: SectionHeader[];
  symbols: ElfSymbol[];
}

export interface ElfFile extends ElfHeaders {
  bytes: Uint8Array;
}

export function isExecutableLoad(ph: ProgramHeader): boolean {
  return ph.type === PT_LOAD && (ph.flags & PF_X) !== 0;
}
