// Host-physical memory: the one place where the machine's bytes live. Page tables, EPTs,
// EPTP lists, kernel objects and user data are all bytes here. Storage is allocated lazily
// in 2 MiB chunks so a machine with gigabytes of address space costs only what it touches;
// untouched memory reads as zero.

import { TWO32, type Hpa, hex } from './addr.ts';

const CHUNK_SHIFT = 21;
const CHUNK = 1 << CHUNK_SHIFT;

export class PhysicalMemory {
  readonly size: number;
  private readonly chunks: (Uint8Array | undefined)[];
  private readonly views: (DataView | undefined)[];
  /** One byte per 4 KiB frame: 1 while decoded instructions of that frame are cached
   *  (see cpu/decode-cache.ts). A write to such a frame calls `onCodeWrite` first, which is
   *  how self- and cross-modifying code invalidate what was decoded (page granularity). */
  readonly codeFrames: Uint8Array;
  onCodeWrite: (frame: number) => void = () => {};

  constructor(size: number) {
    if (!Number.isInteger(size) || size <= 0 || size % CHUNK !== 0) {
      throw new RangeError(
        `physical memory size must be a positive multiple of 2 MiB, got ${size}`,
      );
    }
    this.size = size;
    this.chunks = new Array(size / CHUNK).fill(undefined);
    this.views = new Array(size / CHUNK).fill(undefined);
    this.codeFrames = new Uint8Array(Math.ceil(size / 4096));
  }

  /** Calls onCodeWrite for every frame of [a, a+len) holding decoded code. */
  private noteWrite(a: number, len: number): void {
    const first = Math.floor(a / 4096);
    const last = Math.floor((a + len - 1) / 4096);
    for (let f = first; f <= last; f++) if (this.codeFrames[f] === 1) this.onCodeWrite(f);
  }

  /** Bytes of allocated backing store (for tests and reports). */
  get residentBytes(): number {
    return this.chunks.filter((c) => c !== undefined).length * CHUNK;
  }

  private view(a: number, len: number): DataView {
    // Addresses are integers by construction (they come out of translations); only the
    // range is checked on this hot path.
    if (a < 0 || a + len > this.size) {
      throw new RangeError(`physical access ${hex(a)}+${len} outside memory of ${hex(this.size)}`);
    }
    const i = Math.floor(a / CHUNK);
    let v = this.views[i];
    if (v === undefined) {
      const c = new Uint8Array(CHUNK);
      this.chunks[i] = c;
      v = new DataView(c.buffer);
      this.views[i] = v;
    }
    return v;
  }

  /** Reads an aligned 32-bit little-endian word (used for entries, never straddles a chunk). */
  read32(a: Hpa | number): number {
    return this.view(a, 4).getUint32(a % CHUNK, true);
  }

  write32(a: Hpa | number, v: number): void {
    if (this.codeFrames[Math.floor(a / 4096)] === 1) this.noteWrite(a, 4);
    this.view(a, 4).setUint32(a % CHUNK, v >>> 0, true);
  }

  read8(a: Hpa | number): number {
    return this.view(a, 1).getUint8(a % CHUNK);
  }

  write8(a: Hpa | number, v: number): void {
    if (this.codeFrames[Math.floor(a / 4096)] === 1) this.noteWrite(a, 1);
    this.view(a, 1).setUint8(a % CHUNK, v);
  }

  read16(a: Hpa | number): number {
    if ((a & 1) === 0) return this.view(a, 2).getUint16(a % CHUNK, true);
    return this.read8(a) | (this.read8(a + 1) << 8);
  }

  write16(a: Hpa | number, v: number): void {
    this.write8(a, v & 0xff);
    this.write8(a + 1, (v >>> 8) & 0xff);
  }

  /** Reads a 32-bit value at any alignment (may straddle a chunk). */
  readU32(a: Hpa | number): number {
    if (a % 4 === 0) return this.read32(a);
    return (this.read16(a) | (this.read16(a + 2) << 16)) >>> 0;
  }

  writeU32(a: Hpa | number, v: number): void {
    if (a % 4 === 0) return this.write32(a, v);
    this.write16(a, v & 0xffff);
    this.write16(a + 2, (v >>> 16) & 0xffff);
  }

  read64(a: Hpa | number): bigint {
    return (BigInt(this.readU32(a + 4)) << 32n) | BigInt(this.readU32(a));
  }

  write64(a: Hpa | number, v: bigint): void {
    this.writeU32(a, Number(v & 0xffff_ffffn));
    this.writeU32(a + 4, Number((v >> 32n) & 0xffff_ffffn));
  }

  /** Writes a 64-bit value given as a number below 2^53 (addresses, counters). */
  write64n(a: Hpa | number, v: number): void {
    this.writeU32(a, v % TWO32);
    this.writeU32(a + 4, Math.floor(v / TWO32));
  }

  readBytes(a: Hpa | number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = this.read8(a + i);
    return out;
  }

  writeBytes(a: Hpa | number, bytes: Uint8Array): void {
    if (bytes.length > 0) this.noteWrite(a, bytes.length);
    let off = 0;
    while (off < bytes.length) {
      const p = a + off;
      const inChunk = Math.min(CHUNK - (p % CHUNK), bytes.length - off);
      this.view(p, inChunk);
      this.chunks[Math.floor(p / CHUNK)]!.set(bytes.subarray(off, off + inChunk), p % CHUNK);
      off += inChunk;
    }
  }

  fill(a: Hpa | number, len: number, byte: number): void {
    if (len > 0) this.noteWrite(a, len);
    let off = 0;
    while (off < len) {
      const p = a + off;
      const inChunk = Math.min(CHUNK - (p % CHUNK), len - off);
      this.view(p, inChunk);
      this.chunks[Math.floor(p / CHUNK)]!.fill(byte, p % CHUNK, (p % CHUNK) + inChunk);
      off += inChunk;
    }
  }
}
