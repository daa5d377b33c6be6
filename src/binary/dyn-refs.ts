// Code addresses held in data that the dynamic loader reads or relocates: e_entry, DT_INIT and
// DT_FINI, the st_value of .dynsym symbols (other modules and dlsym find functions through
// them), the addends of RELA relocations (R_X86_64_RELATIVE for every function pointer of a
// position-independent file: .init_array, .data.rel.ro, the GOT, vtables) and the words that
// DT_RELR relocates. In a position-independent file every absolute address the loader must
// adjust is among these (x86-64 psABI, "Dynamic Linking"). PC-relative data (jump tables of
// offsets, .eh_frame, .gcc_except_table) carries no relocation and is not here.
import { ET_DYN, ET_EXEC, type ElfFile } from './elf-types.ts';
import { RewriteRefusedError } from './errors.ts';
import { Image, hex } from './image.ts';

const PT_DYNAMIC = 2;
const SHT_DYNSYM = 11;
const SHT_INIT_ARRAY = 14; // then SHT_FINI_ARRAY (15), SHT_PREINIT_ARRAY (16)
const SHT_PREINIT_ARRAY = 16;
const SHN_UNDEF = 0;
const SHN_ABS = 0xfff1;
const DT = {
  NULL: 0n,
  PLTRELSZ: 2n,
  RELA: 7n,
  RELASZ: 8n,
  RELAENT: 9n,
  INIT: 12n,
  FINI: 13n,
  REL: 17n,
  RELSZ: 18n,
  PLTREL: 20n,
  JMPREL: 23n,
  RELRSZ: 35n,
  RELR: 36n,
} as const;
const R_RELATIVE = 8n;
const R_IRELATIVE = 37n;
// Relocations whose value is S + A (or S + A − P): an address, possibly of code.
const SYMBOLIC = new Set([1n, 2n, 6n, 7n, 10n, 11n, 24n]); // 64, PC32, GLOB_DAT, JUMP_SLOT, 32, 32S, PC64
// Relocations whose value is no code address (TLS offsets and module ids, COPY, NONE).
const NOT_ADDRESSES = new Set([0n, 5n, 16n, 17n, 18n, 19n, 20n, 21n, 22n, 23n, 36n]);

/** One 8-byte field of the file holding a code address (or an addend that makes one). */
export interface DataRef {
  fileOffset: number;
  /** The address the loader ends up with: the field's value, or S + A for a symbolic reloc. */
  target: bigint;
  /** What the field is, for messages. */
  what: string;
  /** For a symbolic RELA: the dynsym index, whose value may move too. */
  symbol?: number;
  /** For a symbolic RELA: S, the symbol's value before the rewrite. */
  symbolValue?: bigint;
}

/** A .dynsym entry's st_value field. */
export interface DynSymbol {
  index: number;
  fileOffset: number;
  value: bigint;
  defined: boolean;
}

export interface DynamicRefs {
  refs: DataRef[];
  symbols: DynSymbol[];
}

function dynamicEntries(img: Image): { tag: bigint; val: bigint; off: number }[] {
  const ph = img.elf.programHeaders.find((p) => p.type === PT_DYNAMIC);
  if (!ph) return [];
  if (ph.filesz > BigInt(img.elf.bytes.length)) throw new RewriteRefusedError('.dynamic too large');
  const size = Number(ph.filesz);
  const base = img.file(ph.offset, size, '.dynamic');
  const out: { tag: bigint; val: bigint; off: number }[] = [];
  for (let o = base; o + 16 <= base + size; o += 16) {
    const tag = img.i64(o);
    if (tag === DT.NULL) break;
    out.push({ tag, val: img.u64(o + 8), off: o + 8 });
  }
  return out;
}

function dynsymOf(img: Image): DynSymbol[] {
  const sh = img.elf.sections.find((s) => s.type === SHT_DYNSYM);
  if (!sh) return [];
  const n = Number(sh.size / 24n);
  const base = img.file(sh.offset, n * 24, '.dynsym');
  const out: DynSymbol[] = [];
  for (let i = 0; i < n; i++) {
    const o = base + i * 24;
    const shndx = img.u16(o + 6);
    out.push({
      index: i,
      fileOffset: o + 8,
      value: img.u64(o + 8),
      defined: shndx !== SHN_UNDEF && shndx !== SHN_ABS,
    });
  }
  return out;
}

/**
 * Every code-address field of the file's dynamic tables (and, position-dependent, its
 * constructor and destructor arrays; other pointers there: stray-pointers.ts). Refuses a file
 * whose relocations it cannot read completely (DT_REL, tables outside the file).
 */
export function dynamicRefs(elf: ElfFile): DynamicRefs {
  if (elf.header.type !== ET_DYN && elf.header.type !== ET_EXEC)
    throw new RewriteRefusedError(`ELF type ${elf.header.type} is neither ET_EXEC nor ET_DYN`);
  const img = new Image(elf);
  const dyn = dynamicEntries(img);
  const get = (t: bigint): bigint | undefined => dyn.find((d) => d.tag === t)?.val;
  const symbols = dynsymOf(img);
  const refs: DataRef[] = [{ fileOffset: 24, target: elf.header.entry, what: 'e_entry' }];
  for (const d of dyn)
    if (d.tag === DT.INIT || d.tag === DT.FINI)
      refs.push({
        fileOffset: d.off,
        target: d.val,
        what: d.tag === DT.INIT ? 'DT_INIT' : 'DT_FINI',
      });
  if ((get(DT.RELSZ) ?? 0n) > 0n || (get(DT.REL) !== undefined && get(DT.RELSZ) === undefined))
    throw new RewriteRefusedError('DT_REL relocations (not used on x86-64) are not read');
  if (get(DT.PLTREL) !== undefined && get(DT.PLTREL) !== DT.RELA && (get(DT.PLTRELSZ) ?? 0n) > 0n)
    throw new RewriteRefusedError('PLT relocations other than RELA are not read');
  const ent = get(DT.RELAENT) ?? 24n;
  if (ent !== 24n) throw new RewriteRefusedError(`DT_RELAENT ${ent} is not 24`);
  for (const [addrTag, sizeTag] of [
    [DT.RELA, DT.RELASZ],
    [DT.JMPREL, DT.PLTRELSZ],
  ] as const) {
    const addr = get(addrTag);
    const size = get(sizeTag) ?? 0n;
    if (addr === undefined || size === 0n) continue;
    if (size > BigInt(elf.bytes.length))
      throw new RewriteRefusedError('relocation table too large');
    const base = img.at(addr, Number(size), 'relocation table');
    for (let o = base; o + 24 <= base + Number(size); o += 24) {
      const info = img.u64(o + 8);
      const type = info & 0xffffffffn;
      const sym = Number(info >> 32n);
      const addend = img.i64(o + 16);
      const where = `relocation at ${hex(img.u64(o))}`;
      if (type === R_RELATIVE || type === R_IRELATIVE) {
        refs.push({ fileOffset: o + 16, target: BigInt.asUintN(64, addend), what: where });
      } else if (SYMBOLIC.has(type)) {
        const s = symbols[sym];
        if (sym !== 0 && !s) throw new RewriteRefusedError(`${where}: symbol ${sym} out of range`);
        const value = s?.defined ? s.value : 0n;
        if (sym !== 0 && !s.defined) continue; // resolved in another module
        refs.push({
          fileOffset: o + 16,
          target: BigInt.asUintN(64, value + addend),
          what: where,
          symbol: sym,
          symbolValue: value,
        });
      } else if (!NOT_ADDRESSES.has(type)) {
        throw new RewriteRefusedError(`${where}: relocation type ${type} is not understood`);
      }
    }
  }
  // A position-dependent file's constructor and destructor arrays hold absolute addresses
  // without relocations (gABI: SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY are arrays of
  // function pointers); a position-independent one's are RELATIVE relocations, read above.
  if (elf.header.type === ET_EXEC)
    for (const sh of elf.sections) {
      if (sh.type < SHT_INIT_ARRAY || sh.type > SHT_PREINIT_ARRAY || sh.size === 0n) continue;
      if (sh.size > BigInt(elf.bytes.length)) throw new RewriteRefusedError(`${sh.name} too large`);
      const base = img.at(sh.addr, Number(sh.size), sh.name);
      for (let o = base; o + 8 <= base + Number(sh.size); o += 8)
        refs.push({ fileOffset: o, target: img.u64(o), what: `${sh.name} entry` });
    }
  const relr = get(DT.RELR);
  const relrSize = get(DT.RELRSZ) ?? 0n;
  if (relr !== undefined && relrSize > 0n) {
    if (relrSize > BigInt(elf.bytes.length)) throw new RewriteRefusedError('DT_RELR too large');
    const base = img.at(relr, Number(relrSize), 'DT_RELR table');
    let next = 0n;
    const word = (addr: bigint): void => {
      const o = img.at(addr, 8, 'DT_RELR location');
      refs.push({ fileOffset: o, target: img.u64(o), what: `DT_RELR word at ${hex(addr)}` });
    };
    for (let o = base; o + 8 <= base + Number(relrSize); o += 8) {
      const e = img.u64(o);
      if ((e & 1n) === 0n) {
        word(e);
        next = e + 8n;
      } else {
        for (let bit = 1n; bit < 64n; bit++) if ((e >> bit) & 1n) word(next + (bit - 1n) * 8n);
        next += 63n * 8n;
      }
    }
  }
  return { refs, symbols };
}
