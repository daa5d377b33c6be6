// Test helpers on the guest ELF files: where an instruction or symbol is (from the symbol
// table and iced-x86, independently of the simulator), and copies patched into bad input.

import { readElf } from '../../src/binary/elf-reader.ts';
import { PF_W, PF_X, PHDR_SIZE, PT_LOAD } from '../../src/binary/elf-types.ts';
import {
  Code,
  Decoder,
  DecoderOptions,
  Mnemonic,
  using,
  type IcedInstruction,
} from '../../src/binary/iced.ts';

export function symbolAddress(file: Uint8Array, name: string): number {
  const s = readElf(file).symbols.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no symbol ${name}`);
  return Number(s.value);
}

/** Address of the first instruction of function `fn` that `want` accepts (decoded
 *  linearly from the symbol's start to its end). */
export function findInstruction(
  file: Uint8Array,
  fn: string,
  want: (i: IcedInstruction) => boolean,
): number {
  const elf = readElf(file);
  const sym = elf.symbols.find((x) => x.name === fn);
  const text = elf.sections.find((s) => s.name === '.text');
  if (sym === undefined || text === undefined) throw new Error(`no ${fn} or .text`);
  const start = Number(sym.value - text.addr + text.offset);
  const bytes = file.subarray(start, start + Number(sym.size));
  return using(new Decoder(64, bytes, DecoderOptions.None), (d) => {
    d.ip = sym.value;
    while (d.canDecode) {
      const hit = using(d.decode(), (i) => (want(i) ? Number(i.ip) : null));
      if (hit !== null) return hit;
    }
    throw new Error(`no such instruction in ${fn}`);
  });
}

export const isInvalid = (i: IcedInstruction): boolean => i.code === Code.INVALID;
export const isUd2 = (i: IcedInstruction): boolean => i.mnemonic === Mnemonic.Ud2;
export const isIdiv = (i: IcedInstruction): boolean => i.mnemonic === Mnemonic.Idiv;

/** A copy of `file` whose executable PT_LOAD is also writable. */
export function withWritableText(file: Uint8Array): Uint8Array {
  const out = Uint8Array.from(file);
  const elf = readElf(out);
  const ph = elf.programHeaders.find((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0)!;
  const v = new DataView(out.buffer);
  const at = Number(elf.header.phoff) + ph.index * PHDR_SIZE + 4; // p_flags
  v.setUint32(at, v.getUint32(at, true) | PF_W, true);
  return out;
}

/** A copy of `file` with `bytes` written at `offset` into its .text; returns the copy and
 *  the bytes' address. */
export function patchText(
  file: Uint8Array,
  offset: number,
  bytes: number[],
): { file: Uint8Array; address: number } {
  const out = Uint8Array.from(file);
  const text = readElf(out).sections.find((s) => s.name === '.text')!;
  out.set(bytes, Number(text.offset) + offset);
  return { file: out, address: Number(text.addr) + offset };
}

/** A minimal valid ELF32 header (i386 executable, no program headers). */
export function elf32Header(): Uint8Array {
  const b = new Uint8Array(52);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]); // magic, ELFCLASS32, little-endian, version
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 3, true); // EM_386
  v.setUint32(20, 1, true);
  v.setUint32(24, 0x8048000, true);
  v.setUint16(40, 52, true); // e_ehsize
  return b;
}
