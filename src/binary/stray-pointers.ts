// Code addresses in a position-dependent executable (ET_EXEC). Such a file is linked for one
// address, so a pointer to a function is stored as the plain address, with no relocation to
// find it by (x86-64 psABI: no dynamic relocation is needed for it): in data (a table of
// callbacks, a vtable) or in code (`mov $func, %edi`, non-PIC code taking an address). Those
// that the loader or a recognised table reads are known (dyn-refs.ts: e_entry, DT_INIT/
// DT_FINI, .dynsym, the constructor and destructor arrays; jump tables of absolute addresses,
// jump-tables.ts). For any other, the rewrite cannot tell a pointer from a number that
// happens to be equal, so it searches every loaded byte of the file for the address of each
// function that would move (as a 32-bit value: an imm32, a disp32, the low half of a 64-bit
// word) and refuses if one is found anywhere it does not know. Addresses computed at run time
// (never stored whole) are not found; compilers do not compute code addresses so.
import type { Chunk } from './code-map.ts';
import { PT_LOAD, type ElfFile } from './elf-types.ts';
import { RewriteRefusedError } from './errors.ts';
import { Image, hex } from './image.ts';

/** Known fields: [file offset, length). */
export type Known = [number, number][];

/**
 * Refuses (RewriteRefusedError) if the address of a code chunk of `moved` appears in a loaded
 * byte of the file outside `known`, naming the first place.
 */
export function checkStrayPointers(elf: ElfFile, moved: Chunk[], known: Known): void {
  const entries = new Map<number, Chunk>();
  for (const c of moved)
    if (c.kind === 'code' && c.start < 1n << 32n) entries.set(Number(c.start), c);
  if (entries.size === 0) return;
  const skip = [...known].sort((a, b) => a[0] - b[0]);
  const img = new Image(elf);
  const isKnown = (o: number): boolean => skip.some(([a, n]) => o >= a && o + 4 <= a + n);
  for (const p of elf.programHeaders) {
    if (p.type !== PT_LOAD || p.filesz === 0n) continue;
    const from = img.file(p.offset, Number(p.filesz), 'segment');
    const to = from + Number(p.filesz) - 4;
    for (let o = from; o <= to; o++) {
      const c = entries.get(img.u32(o));
      if (c === undefined || isKnown(o)) continue;
      const at = p.vaddr + BigInt(o - from);
      throw new RewriteRefusedError(
        `the address of ${c.symbol ?? hex(c.start)} (${hex(c.start)}), which would move, is stored at ${hex(at)}: in a position-dependent executable that may be a pointer without relocation, which could not be re-pointed`,
      );
    }
  }
}
