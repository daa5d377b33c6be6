// Unwind information for moved code. Unwinders (libgcc's, LLVM's libunwind) find the FDE
// covering a return address through PT_GNU_EH_FRAME: .eh_frame_hdr's table of (initial
// location, FDE) pairs, sorted, searched by binary search (LSB "Exception Frames"). Code
// moved to a new address needs FDEs there, or unwinding (C++ exceptions, Rust panics,
// pthread_cancel, backtrace()) stops at its frames. So the FDEs covering the moved range are
// copied, with their CIEs, into the new read-only segment, each PC-relative pointer
// re-encoded for its new place (pc_begin moved with the code; the personality routine and the
// LSDA keep their absolute targets), and a new .eh_frame_hdr lists the old entries plus the
// copies. An LSDA (.gcc_except_table) gives call sites and landing pads as offsets from the
// function start (LPStart omitted), so the copy's code, laid out identically, uses it as is.
import type { ElfFile, ProgramHeader } from './elf-types.ts';
import { RewriteRefusedError } from './errors.ts';
import { Image, MASK64, fitsI32, hex } from './image.ts';

export const PT_GNU_EH_FRAME = 0x6474e550;
const OMIT = 0xff;
const PCREL = 0x10;
const HDR_TABLE_ENC = 0x3b; // DW_EH_PE_datarel | DW_EH_PE_sdata4, what every linker writes

export interface Cie {
  addr: bigint;
  size: number;
  fdeEnc: number;
  lsdaEnc: number;
  /** The personality pointer: offset in the CIE, encoding and target. */
  personality?: { at: number; enc: number; target: bigint };
  /** Offset of the initial instructions in the CIE. */
  body: number;
}

export interface Fde {
  addr: bigint;
  size: number;
  cie: Cie;
  pcBegin: bigint;
  pcRange: bigint;
  /** The LSDA pointer: offset in the FDE, encoding and target. */
  lsda?: { at: number; enc: number; target: bigint };
  /** Offset of the call frame instructions in the FDE. */
  body: number;
}

export interface EhHdr {
  addr: bigint;
  /** Where eh_frame_ptr points (the .eh_frame section). */
  ehFrame: bigint;
  /** (initial location, FDE address), absolute, in table order. */
  entries: [bigint, bigint][];
}

export interface EhPlan {
  hdr: EhHdr;
  fdes: Fde[];
  cies: Cie[];
  /** Bytes of the new data: CIEs, FDEs, terminator, then the new header at hdrOffset. */
  size: number;
  hdrOffset: number;
}

const refuse = (why: string): never => {
  throw new RewriteRefusedError(`unwind information: ${why}`);
};

/** A bounds-checked reader over [addr, end) of the loaded image. */
class Cursor {
  private off: number;
  constructor(
    private readonly img: Image,
    public addr: bigint,
    private readonly end: bigint,
  ) {
    this.off = img.at(addr, Number(end - addr), 'unwind information');
  }
  private take(n: number): number {
    if (this.addr + BigInt(n) > this.end) refuse(`record at ${hex(this.addr)} is truncated`);
    const o = this.off;
    this.off += n;
    this.addr += BigInt(n);
    return o;
  }
  u8(): number {
    return this.img.u8(this.take(1));
  }
  uleb(): bigint {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = this.u8();
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
      if (shift > 63n) refuse(`bad LEB128 at ${hex(this.addr)}`);
    }
  }
  /** A pointer with a DWARF EH encoding: fixed sizes, absolute or PC-relative only. */
  pointer(enc: number): bigint {
    const at = this.addr;
    const fmt = enc & 0x0f;
    const size =
      fmt === 0x03 || fmt === 0x0b ? 4 : fmt === 0x00 || fmt === 0x04 || fmt === 0x0c ? 8 : 0;
    if (size === 0 || ((enc & 0x70) !== 0 && (enc & 0x70) !== PCREL))
      refuse(`pointer encoding 0x${enc.toString(16)} at ${hex(at)} is not supported`);
    const o = this.take(size);
    const raw =
      fmt === 0x03
        ? BigInt(this.img.u32(o))
        : fmt === 0x0b
          ? BigInt(this.img.i32(o))
          : this.img.u64(o);
    return ((enc & 0x70) === PCREL ? at + raw : raw) & MASK64;
  }
}

/** Length of the record at addr (without the length field); refuses 64-bit DWARF. */
function recordLength(img: Image, addr: bigint): number {
  const len = img.u32(img.at(addr, 4, 'unwind record'));
  if (len === 0xffffffff) refuse(`64-bit record at ${hex(addr)} is not supported`);
  return len;
}

export function parseCie(img: Image, addr: bigint): Cie {
  const len = recordLength(img, addr);
  const c = new Cursor(img, addr + 4n, addr + 4n + BigInt(len));
  const id = c.u8() | (c.u8() << 8) | (c.u8() << 16) | (c.u8() << 24);
  if (id !== 0) refuse(`${hex(addr)} is not a CIE`);
  const version = c.u8();
  if (version !== 1 && version !== 3) refuse(`CIE version ${version} at ${hex(addr)}`);
  let aug = '';
  for (let b = c.u8(); b !== 0; b = c.u8()) aug += String.fromCharCode(b);
  c.uleb(); // code alignment
  c.uleb(); // data alignment (its sign does not matter here)
  if (version === 1) c.u8();
  else c.uleb();
  if (!aug.startsWith('z')) refuse(`CIE at ${hex(addr)} has augmentation "${aug}"`);
  const augLen = c.uleb();
  const body = Number(c.addr - addr + augLen);
  const cie: Cie = { addr, size: 4 + len, fdeEnc: -1, lsdaEnc: OMIT, body };
  for (const ch of aug.slice(1)) {
    if (ch === 'R') cie.fdeEnc = c.u8();
    else if (ch === 'L') cie.lsdaEnc = c.u8();
    else if (ch === 'P') {
      const enc = c.u8();
      const at = Number(c.addr - addr);
      cie.personality = { at, enc, target: c.pointer(enc & 0x7f) };
    } else if (ch !== 'S' && ch !== 'B' && ch !== 'G')
      refuse(`CIE at ${hex(addr)} has augmentation "${aug}"`);
  }
  if (body > cie.size) refuse(`CIE at ${hex(addr)}: augmentation data runs past it`);
  if (cie.fdeEnc < 0 || (cie.fdeEnc & 0x70) !== PCREL)
    refuse(`CIE at ${hex(addr)}: FDE addresses are not PC-relative`);
  if (cie.lsdaEnc !== OMIT && (cie.lsdaEnc & 0x70) !== PCREL)
    refuse(`CIE at ${hex(addr)}: LSDA addresses are not PC-relative`);
  if (cie.personality && (cie.personality.enc & 0x70) !== PCREL)
    refuse(`CIE at ${hex(addr)}: the personality pointer is not PC-relative`);
  return cie;
}

export function parseFde(img: Image, addr: bigint, cies: Map<bigint, Cie>): Fde {
  const len = recordLength(img, addr);
  const c = new Cursor(img, addr + 4n, addr + 4n + BigInt(len));
  const back = BigInt(c.u8() | (c.u8() << 8) | (c.u8() << 16)) | (BigInt(c.u8()) << 24n);
  if (back === 0n || back > addr + 4n) refuse(`${hex(addr)} is not an FDE`);
  const cieAddr = addr + 4n - back;
  const cie = cies.get(cieAddr) ?? parseCie(img, cieAddr);
  cies.set(cieAddr, cie);
  const pcBegin = c.pointer(cie.fdeEnc);
  const pcRange = c.pointer(cie.fdeEnc & 0x0f); // same size, not relative
  const augLen = c.uleb();
  const body = Number(c.addr - addr + augLen);
  if (body > 4 + len) refuse(`FDE at ${hex(addr)}: augmentation data runs past it`);
  const fde: Fde = { addr, size: 4 + len, cie, pcBegin, pcRange, body };
  if (cie.lsdaEnc !== OMIT) {
    const at = Number(c.addr - addr);
    const target = c.pointer(cie.lsdaEnc);
    if (target !== 0n) fde.lsda = { at, enc: cie.lsdaEnc, target };
  }
  return fde;
}

export function parseHdr(img: Image): EhHdr | undefined {
  const ph = img.elf.programHeaders.find((p) => p.type === PT_GNU_EH_FRAME);
  if (!ph) return undefined;
  const c = new Cursor(img, ph.vaddr, ph.vaddr + 12n);
  const [version, ptrEnc, countEnc, tableEnc] = [c.u8(), c.u8(), c.u8(), c.u8()];
  if (version !== 1 || countEnc !== 0x03 || tableEnc !== HDR_TABLE_ENC)
    refuse(`.eh_frame_hdr at ${hex(ph.vaddr)} has no table this tool reads`);
  const ehFrame = c.pointer(ptrEnc);
  const count = img.u32(img.at(c.addr, 4, '.eh_frame_hdr'));
  if (count * 8 > img.elf.bytes.length) refuse('.eh_frame_hdr: absurd FDE count');
  const base = img.at(c.addr + 4n, count * 8, '.eh_frame_hdr table');
  const entries: [bigint, bigint][] = [];
  for (let i = 0; i < count; i++) {
    const loc = (ph.vaddr + BigInt(img.i32(base + 8 * i))) & MASK64;
    entries.push([loc, (ph.vaddr + BigInt(img.i32(base + 8 * i + 4))) & MASK64]);
  }
  return { addr: ph.vaddr, ehFrame, entries };
}

/** True if the file has unwind information in .eh_frame (a section, or PT_GNU_EH_FRAME). */
function hasEhFrame(elf: ElfFile): boolean {
  return elf.sections.some((s) => s.name === '.eh_frame' && s.size > 4n);
}

/**
 * The FDEs covering code in [lo, hi), which must each lie wholly inside it, with their CIEs;
 * undefined when none does (or the file has no unwind information at all).
 */
export function planEh(elf: ElfFile, lo: bigint, hi: bigint): EhPlan | undefined {
  const img = new Image(elf);
  const hdr = parseHdr(img);
  if (!hdr) {
    if (hasEhFrame(elf)) refuse('.eh_frame without PT_GNU_EH_FRAME: moved code could not be found');
    return undefined;
  }
  const cies = new Map<bigint, Cie>();
  const fdes: Fde[] = [];
  // The entries starting inside, and the last one starting before (it may reach in).
  let before: [bigint, bigint] | undefined;
  for (const e of hdr.entries) if (e[0] < lo && (!before || e[0] > before[0])) before = e;
  const candidates = hdr.entries.filter(([loc]) => loc >= lo && loc < hi);
  if (before) candidates.push(before);
  for (const [loc, addr] of candidates) {
    const f = parseFde(img, addr, cies);
    if (f.pcBegin !== loc) refuse(`FDE at ${hex(addr)} does not start at ${hex(loc)}`);
    const end = f.pcBegin + f.pcRange;
    if (end <= lo) continue;
    if (f.pcBegin < lo || end > hi)
      refuse(`FDE ${hex(f.pcBegin)}-${hex(end)} is only partly inside the moved code`);
    fdes.push(f);
  }
  for (const f of fdes) {
    if (!f.lsda) continue;
    const lpStart = img.u8(img.at(f.lsda.target, 1, 'LSDA'));
    if (lpStart !== OMIT)
      refuse(`the LSDA at ${hex(f.lsda.target)} gives landing pads as addresses (LPStart set)`);
  }
  if (fdes.length === 0) return undefined; // nothing to copy: the old table serves
  const used = [...new Set(fdes.map((f) => f.cie))];
  const records = used.reduce((n, c) => n + c.size, 0) + fdes.reduce((n, f) => n + f.size, 0);
  const hdrOffset = (records + 4 + 3) & ~3;
  const size = hdrOffset + 12 + 8 * (hdr.entries.length + fdes.length);
  return { hdr, fdes, cies: used, size, hdrOffset };
}

function putPointer(v: DataView, o: number, enc: number, target: bigint, field: bigint): void {
  const rel = (target - field) & MASK64;
  const signed = BigInt.asIntN(64, rel);
  const fmt = enc & 0x0f;
  if (fmt === 0x0b) {
    if (!fitsI32(signed)) refuse(`pointer to ${hex(target)} out of reach from ${hex(field)}`);
    v.setInt32(o, Number(signed), true);
  } else if (fmt === 0x03) {
    if (rel >= 1n << 32n) refuse(`pointer to ${hex(target)} out of reach from ${hex(field)}`);
    v.setUint32(o, Number(rel), true);
  } else v.setBigUint64(o, rel, true);
}

/**
 * The new data at address `base`: copies of the plan's CIEs and FDEs (FDEs for code moved by
 * `delta`) and a new .eh_frame_hdr listing the old entries and the copies.
 */
export function buildEh(elf: ElfFile, plan: EhPlan, base: bigint, delta: bigint): Uint8Array {
  const out = new Uint8Array(plan.size);
  const v = new DataView(out.buffer);
  const img = new Image(elf);
  const copy = (addr: bigint, size: number, o: number): void => {
    const from = img.at(addr, size, 'unwind record');
    out.set(elf.bytes.subarray(from, from + size), o);
  };
  const cieAt = new Map<Cie, bigint>();
  let o = 0;
  for (const c of plan.cies) {
    copy(c.addr, c.size, o);
    cieAt.set(c, base + BigInt(o));
    const p = c.personality;
    if (p) putPointer(v, o + p.at, p.enc, p.target, base + BigInt(o + p.at));
    o += c.size;
  }
  const added: [bigint, bigint][] = [];
  for (const f of plan.fdes) {
    const at = base + BigInt(o);
    copy(f.addr, f.size, o);
    v.setUint32(o + 4, Number(at + 4n - cieAt.get(f.cie)!), true);
    putPointer(v, o + 8, f.cie.fdeEnc, f.pcBegin + delta, at + 8n);
    if (f.lsda) putPointer(v, o + f.lsda.at, f.lsda.enc, f.lsda.target, at + BigInt(f.lsda.at));
    added.push([f.pcBegin + delta, at]);
    o += f.size;
  }
  const h = plan.hdrOffset;
  const hAddr = base + BigInt(h);
  out.set([1, 0x1b, 0x03, HDR_TABLE_ENC], h);
  putPointer(v, h + 4, 0x0b, plan.hdr.ehFrame, hAddr + 4n);
  const all = [...plan.hdr.entries, ...added].sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
  );
  v.setUint32(h + 8, all.length, true);
  all.forEach(([loc, fde], i) => {
    putPointer(v, h + 12 + 8 * i, 0x0b, loc, hAddr);
    putPointer(v, h + 16 + 8 * i, 0x0b, fde, hAddr);
  });
  return out;
}

/** The PT_GNU_EH_FRAME entry pointing at the new header (same flags and alignment). */
export function ehHdrHeader(
  elf: ElfFile,
  plan: EhPlan,
  base: bigint,
  fileBase: number,
): { index: number; piece: Omit<ProgramHeader, 'index'> } {
  const ph = elf.programHeaders.find((p) => p.type === PT_GNU_EH_FRAME)!;
  const size = BigInt(plan.size - plan.hdrOffset);
  const vaddr = base + BigInt(plan.hdrOffset);
  return {
    index: ph.index,
    piece: {
      ...ph,
      offset: BigInt(fileBase + plan.hdrOffset),
      vaddr,
      paddr: vaddr,
      filesz: size,
      memsz: size,
    },
  };
}
