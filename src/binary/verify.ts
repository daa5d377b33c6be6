// Shows that a rewrite is equivalent, edit by edit, by decoding the output: every byte of the
// original outside the edits is unchanged; each in-place edit decodes to the promised
// instruction; each moved run is `jmp block` + INT3 filler, and the block decodes to the
// original instructions (same text with absolute addresses, so moved branches and RIP-relative
// operands reach the same targets) or to the documented equivalent sequences, then jumps back.
import type { ElfFile } from './elf-types.ts';
import {
  Code,
  Decoder,
  DecoderOptions,
  Formatter,
  FormatterSyntax,
  Register,
  type IcedInstruction,
} from './iced.ts';
import { isSwapPair, type InPlaceEdit } from './in-place.ts';
import type { Relocation, Step } from './relocate.ts';

export interface EditRecord {
  inPlace: { edit: InPlaceEdit; orig: IcedInstruction }[];
  moved: Relocation[];
}

const MASK64 = (1n << 64n) - 1n;

function decodeAt(
  bytes: Uint8Array,
  fileOffset: number,
  length: number,
  ip: bigint,
): IcedInstruction[] {
  const d = new Decoder(64, bytes.subarray(fileOffset, fileOffset + length), DecoderOptions.None);
  d.ip = ip;
  try {
    return d.decodeAll() as IcedInstruction[];
  } finally {
    d.free();
  }
}

function checkStep(
  s: Step,
  got: IcedInstruction[],
  i: number,
  fmt: (x: IcedInstruction) => string,
  runEnd: bigint,
): number | string {
  const o = s.orig;
  const at = (k: number): IcedInstruction | undefined => got[i + k];
  switch (s.kind) {
    case 'copy':
      return at(0) && fmt(at(0)!) === fmt(o) ? 1 : `moved \`${fmt(o)}\` decodes differently`;
    case 'call': {
      const [p, l, x, j] = [at(0), at(1), at(2), at(3)];
      const ok =
        p?.code === Code.Push_r64 &&
        p.op0Register === Register.RAX &&
        l?.code === Code.Lea_r64_m &&
        l.ipRelMemoryAddress === runEnd &&
        x?.code === Code.Xchg_rm64_r64 &&
        x.memoryBase === Register.RSP &&
        (j?.code === Code.Jmp_rel32_64 || j?.code === Code.Jmp_rel8_64) &&
        j.nearBranchTarget === o.nearBranchTarget;
      return ok ? 4 : `call emulation for \`${fmt(o)}\` is not as planned`;
    }
    case 'split-imm': {
      const [m, l] = [at(0), at(1)];
      const width = m && m.code === Code.Mov_r64_imm64 ? MASK64 : 0xffffffffn;
      const ok =
        m?.op0Register === o.op0Register &&
        l?.op0Register === o.op0Register &&
        ((m.immediate(1) + l.memoryDisplacement) & width) === (o.immediate(1) & width);
      return ok ? 2 : `split immediate for \`${fmt(o)}\` does not add up`;
    }
    case 'split-disp': {
      const [l, n] = [at(0), at(1)];
      const ok =
        l?.code === Code.Lea_r64_m &&
        l.memoryBase === o.memoryBase &&
        l.memoryIndex === o.memoryIndex &&
        n?.code === o.code &&
        n.op0Register === o.op0Register &&
        n.memoryBase === l.op0Register &&
        ((l.memoryDisplacement + n.memoryDisplacement) & MASK64) ===
          (o.memoryDisplacement & MASK64);
      return ok ? 2 : `split displacement for \`${fmt(o)}\` does not add up`;
    }
  }
}

/** Problems found (empty when the rewrite is shown equivalent). */
export function verifyEdits(
  orig: ElfFile,
  out: Uint8Array,
  rec: EditRecord,
  toFile: (addr: bigint) => number | undefined,
): string[] {
  const problems: string[] = [];
  const edited = new Uint8Array(orig.bytes.length);
  const mark = (off: number, len: number): void => {
    edited.fill(1, off, off + len);
  };
  mark(32, 8); // e_phoff
  mark(40, 8); // e_shoff
  mark(56, 2); // e_phnum
  mark(60, 2); // e_shnum
  const fmtr = new Formatter(FormatterSyntax.Gas);
  fmtr.ripRelativeAddresses = false; // absolute addresses: same text means same target
  const fmt = (x: IcedInstruction): string => fmtr.format(x);
  try {
    for (const { edit, orig: o } of rec.inPlace) {
      const off = toFile(edit.address)!;
      mark(off, edit.bytes.length);
      const got = decodeAt(out, off, edit.bytes.length, edit.address);
      const first = got[0];
      if (edit.strategy === 'vmfunc-to-ud2') {
        if (first?.code !== Code.Ud2 || got.slice(1).some((g) => g.code !== Code.Nopd))
          problems.push(`0x${edit.address.toString(16)}: VMFUNC not replaced by UD2`);
      } else if (!(
        got.length === 1 &&
        isSwapPair(o.code, first.code) &&
        first.op0Register === o.op0Register &&
        first.op1Register === o.op1Register
      )) {
        problems.push(
          `0x${edit.address.toString(16)}: re-encoded \`${fmt(o)}\` is not the same operation`,
        );
      }
      got.forEach((g) => g.free());
    }
    for (const r of rec.moved) {
      const off = toFile(r.runStart)!;
      const len = Number(r.runEnd - r.runStart);
      mark(off, len);
      const [j] = decodeAt(out, off, 5, r.runStart);
      if (
        j?.code !== Code.Jmp_rel32_64 ||
        j.nearBranchTarget !== r.entry ||
        out.subarray(off + 5, off + len).some((b) => b !== 0xcc)
      ) {
        problems.push(`0x${r.runStart.toString(16)}: patch is not a jump to the moved block`);
      }
      j?.free();
      const boff = toFile(r.entry);
      if (boff === undefined) {
        problems.push(`0x${r.entry.toString(16)}: moved block is not in the file`);
        continue;
      }
      const got = decodeAt(out, boff, r.code.length - r.pad, r.entry).filter(
        (g) => g.code !== Code.Nopd || (g.free(), false),
      );
      let i = 0;
      for (const s of r.steps) {
        const n = checkStep(s, got, i, fmt, r.runEnd);
        if (typeof n === 'string') problems.push(`0x${r.runStart.toString(16)}: ${n}`);
        else i += n;
      }
      const last = r.steps[r.steps.length - 1];
      if (last.kind !== 'call') {
        const back = got[i];
        if (!back || !back.isJmpShortOrNear || back.nearBranchTarget !== r.runEnd)
          problems.push(`0x${r.runStart.toString(16)}: block does not jump back`);
      }
      got.forEach((g) => g.free());
    }
  } finally {
    fmtr.free();
  }
  for (let k = 0; k < orig.bytes.length; k++) {
    if (!edited[k] && out[k] !== orig.bytes[k]) {
      problems.push(`file offset 0x${k.toString(16)} changed outside any edit`);
      break;
    }
  }
  return problems;
}
