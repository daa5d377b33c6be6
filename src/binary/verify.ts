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
  RegisterExt,
  type IcedInstruction,
} from './iced.ts';
import { isNop, isShiftable, isSwapPair, type InPlaceEdit } from './in-place.ts';
import type { Relocation, Step } from './relocate.ts';
import {
  RED_ZONE,
  immediateValue,
  mask,
  scratchOperation,
  shiftedDisplacement,
  sized,
  usedFullRegisters,
} from './scratch.ts';

export interface EditRecord {
  inPlace: { edit: InPlaceEdit; orig: IcedInstruction }[];
  moved: Relocation[];
  /** Known branch targets, when some edit depended on them (nop-shift). */
  targets?: Set<bigint>;
  /** Edits shown correct elsewhere (evacuate-check.ts): only their place is recorded here. */
  other?: { fileOffset: number; bytes: Uint8Array }[];
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
        RegisterExt.size(o.op0Register) >= 4 &&
        n.memoryBase === l.op0Register &&
        ((l.memoryDisplacement + n.memoryDisplacement) & MASK64) ===
          (o.memoryDisplacement & MASK64);
      return ok ? 2 : `split displacement for \`${fmt(o)}\` does not add up`;
    }
    case 'scratch':
      return checkScratch(s, got, i, fmt);
  }
}

function isLeaRsp(x: IcedInstruction | undefined, d: bigint): boolean {
  return (
    x?.code === Code.Lea_r64_m &&
    x.op0Register === Register.RSP &&
    x.memoryBase === Register.RSP &&
    x.memoryIndex === Register.None &&
    (x.memoryDisplacement & MASK64) === (d & MASK64)
  );
}

/**
 * `lea rsp,[rsp-128]; push s…; [lea sA,[base+index*scale+A]]; [mov sI,A; lea sI,[sI+B]]; op';
 * pop s… (reversed); lea rsp,[rsp+128]`: only flag-neutral instructions around op', scratch
 * registers unused by the original, constants that add up, and op' equal to the original with
 * the documented operand replaced.
 */
function checkScratch(
  s: Extract<Step, { kind: 'scratch' }>,
  got: IcedInstruction[],
  i: number,
  fmt: (x: IcedInstruction) => string,
): number | string {
  const o = s.orig;
  const p = s.plan;
  const bad = `scratch-register form of \`${fmt(o)}\` is not as planned`;
  const regs = [p.addr, p.imm].filter((r): r is number => r !== undefined);
  const used = usedFullRegisters(o);
  if (regs.some((r) => used.has(r)) || new Set(regs).size !== regs.length) return bad;
  if (p.shift !== Number(RED_ZONE) + 8 * regs.length) return bad;
  let k = i;
  if (!isLeaRsp(got[k++], -RED_ZONE)) return bad;
  for (const r of regs) {
    const x = got[k++];
    if (x?.code !== Code.Push_r64 || x.op0Register !== r) return bad;
  }
  let addrPart = 0n;
  if (p.addr !== undefined) {
    const l = got[k++];
    if (
      l?.code !== Code.Lea_r64_m ||
      l.op0Register !== p.addr ||
      l.memoryBase !== o.memoryBase ||
      l.memoryIndex !== o.memoryIndex ||
      l.memoryIndexScale !== o.memoryIndexScale
    )
      return bad;
    addrPart = l.memoryDisplacement;
  }
  if (p.imm !== undefined) {
    const [m, l] = [got[k++], got[k++]];
    const width = p.width === 64 ? 64 : 32;
    const movCode = width === 64 ? Code.Mov_r64_imm64 : Code.Mov_r32_imm32;
    const leaCode = width === 64 ? Code.Lea_r64_m : Code.Lea_r32_m;
    if (
      m?.code !== movCode ||
      m.op0Register !== sized(p.imm, width) ||
      l?.code !== leaCode ||
      l.op0Register !== sized(p.imm, width) ||
      l.memoryBase !== p.imm ||
      l.memoryIndex !== Register.None
    )
      return bad;
    const low = (1n << BigInt(p.width)) - 1n;
    if (
      ((m.immediate(1) + l.memoryDisplacement) & mask(p.width) & low) !==
      immediateValue(o, p.width)
    )
      return bad;
  }
  const op = got[k++];
  if (!op) return bad;
  const split = p.addr !== undefined ? op.memoryDisplacement : 0n;
  if (
    p.addr !== undefined &&
    ((addrPart + split) & MASK64) !== (shiftedDisplacement(o, p.shift) & MASK64)
  )
    return bad;
  const want = scratchOperation(o, p, split);
  const same = fmt(want) === fmt(op) && want.code === op.code;
  want.free();
  if (!same) return bad;
  for (const r of [...regs].reverse()) {
    const x = got[k++];
    if (x?.code !== Code.Pop_r64 || x.op0Register !== r) return bad;
  }
  if (!isLeaRsp(got[k++], RED_ZONE)) return bad;
  return k - i;
}

/**
 * nop-shift: the original bytes were NOPs and `o`; the new bytes are NOPs and one instruction
 * with the same code and text (absolute targets) as `o`, at edit.movedTo; the boundary that
 * disappeared is not a known branch target.
 */
function checkNopShift(
  orig: ElfFile,
  fileOffset: number,
  edit: InPlaceEdit,
  o: IcedInstruction,
  got: IcedInstruction[],
  fmt: (x: IcedInstruction) => string,
  targets: Set<bigint> | undefined,
): boolean {
  const before = decodeAt(orig.bytes, fileOffset, edit.bytes.length, edit.address);
  try {
    const lenOf = (l: IcedInstruction[]): number => l.reduce((n, x) => n + x.length, 0);
    const others = (l: IcedInstruction[]): IcedInstruction[] => l.filter((x) => !isNop(x));
    const [b] = others(before);
    const [a] = others(got);
    return (
      lenOf(before) === edit.bytes.length &&
      lenOf(got) === edit.bytes.length &&
      others(before).length === 1 &&
      others(got).length === 1 &&
      b.ip === o.ip &&
      fmt(b) === fmt(o) &&
      isShiftable(o) &&
      a.ip === edit.movedTo &&
      a.code === o.code &&
      fmt(a) === fmt(o) &&
      edit.lost !== undefined &&
      targets !== undefined &&
      !targets.has(edit.lost)
    );
  } finally {
    before.forEach((x) => x.free());
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
  for (const p of rec.other ?? []) mark(p.fileOffset, p.bytes.length);
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
      } else if (edit.strategy === 'nop-shift') {
        if (!checkNopShift(orig, off, edit, o, got, fmt, rec.targets))
          problems.push(
            `0x${edit.address.toString(16)}: shifted \`${fmt(o)}\` is not the same instruction next to NOPs`,
          );
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
      const patchIns = decodeAt(out, off, 5, r.runStart);
      const j = patchIns[0];
      if (
        j?.code !== Code.Jmp_rel32_64 ||
        j.nearBranchTarget !== r.entry ||
        out.subarray(off + 5, off + len).some((b) => b !== 0xcc)
      ) {
        problems.push(`0x${r.runStart.toString(16)}: patch is not a jump to the moved block`);
      }
      patchIns.forEach((x) => x.free());
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
