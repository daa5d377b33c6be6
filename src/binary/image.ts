// Reading a file's loaded image by virtual address: the file-backed bytes of its PT_LOAD
// segments. Every read is bounds-checked; a read outside them throws RewriteRefusedError with
// what was being read, so that malformed tables (.dynamic, relocations, .eh_frame) make a
// rewrite refuse instead of reading past the file.
import { PT_LOAD, type ElfFile } from './elf-types.ts';
import { RewriteRefusedError } from './errors.ts';

export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

export function fitsI32(v: bigint): boolean {
  return v >= -(1n << 31n) && v < 1n << 31n;
}

export const MASK64 = (1n << 64n) - 1n;

export class Image {
  readonly view: DataView;

  constructor(readonly elf: ElfFile) {
    const b = elf.bytes;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /**
   * File offset of [addr, addr+len) if PT_LOADs map all of it from the file, contiguously
   * (a segment split at page boundaries, nx-pages.ts, is several loads with one mapping).
   */
  offsetOf(addr: bigint, len: number): number | undefined {
    const loads = this.elf.programHeaders.filter((p) => p.type === PT_LOAD);
    const p = loads.find((x) => addr >= x.vaddr && addr < x.vaddr + x.filesz);
    if (!p) return undefined;
    const shift = p.vaddr - p.offset;
    const end = addr + BigInt(len);
    for (let q = p; end > q.vaddr + q.filesz;) {
      const at = q.vaddr + q.filesz;
      const next = loads.find((x) => x.vaddr === at && x.vaddr - x.offset === shift);
      if (!next || next.filesz === 0n) return undefined;
      q = next;
    }
    return Number(addr - shift);
  }

  /** Like offsetOf, but refuses when the range is not mapped from the file. */
  at(addr: bigint, len: number, what: string): number {
    const o = this.offsetOf(addr, len);
    if (o === undefined)
      throw new RewriteRefusedError(`${what} at ${hex(addr)} is not in a loaded part of the file`);
    return o;
  }

  /** File offset of [off, off+len), checked against the file. */
  file(off: bigint | number, len: number, what: string): number {
    const o = BigInt(off);
    if (o < 0n || o + BigInt(len) > BigInt(this.elf.bytes.length))
      throw new RewriteRefusedError(`${what} at file offset ${hex(o)} runs past the file`);
    return Number(o);
  }

  u8(off: number): number {
    return this.view.getUint8(off);
  }

  u16(off: number): number {
    return this.view.getUint16(off, true);
  }

  u32(off: number): number {
    return this.view.getUint32(off, true);
  }

  i32(off: number): number {
    return this.view.getInt32(off, true);
  }

  u64(off: number): bigint {
    return this.view.getBigUint64(off, true);
  }

  i64(off: number): bigint {
    return this.view.getBigInt64(off, true);
  }
}

export function le32(v: bigint): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, Number(BigInt.asIntN(32, v)), true);
  return out;
}

export function le64(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v & MASK64, true);
  return out;
}
