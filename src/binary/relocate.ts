// Moving instructions out of the way: a run of whole instructions (at least 5 bytes, room for
// a JMP rel32) is replaced by `jmp block` + INT3 filler, and the block in the new segment holds
// equivalent code followed by `jmp back`. iced's BlockEncoder re-encodes moved branches and
// RIP-relative operands for their new address, so their offsets (and the bytes) change.
// Instructions whose offending bytes would move with them are replaced by equivalents:
// - `call rel32` becomes `push rax; lea rax,[rip->return]; xchg [rsp],rax; jmp target`: the
//   return address pushed is the original one, so unwinding (.eh_frame) and any code that
//   reads the return address see no difference; no flags change (LEA/XCHG/PUSH/JMP leave
//   RFLAGS alone, SDM Vol. 2). A call must therefore be the last instruction of its run.
// - `mov reg, imm` becomes `mov reg, A; lea reg, [reg + B]` with A + B = imm: LEA does not
//   touch RFLAGS, and for 32-bit registers it truncates as MOV r32 zero-extends.
// - A load `mov/movzx/movsx/movsxd/lea reg, [base + index*s + D]` with a 32/64-bit destination
//   becomes `lea reg64, [base + index*s + A]; op reg, [reg64 + B]` with A + B = D, using the
//   destination as scratch (the LEA reads base and index before writing it; an 8/16-bit
//   destination keeps its upper bits, so it takes the scratch-register form).
// - Anything else whose immediate or displacement holds the bytes (ALU ops with an immediate,
//   stores and read-modify-write with a displacement, ...) goes through a saved scratch
//   register below the red zone (scratch.ts), flags intact.
import { containsVmfuncBytes } from './byte-search.ts';
import {
  BlockEncoder,
  BlockEncoderOptions,
  Code,
  Instruction,
  MemoryOperand,
  Mnemonic,
  OpKind,
  Register,
  RegisterExt,
  type IcedInstruction,
} from './iced.ts';
import type { InstructionField } from './instruction-fields.ts';
import { emitScratch, planScratch, shiftedDisplacement, type ScratchPlan } from './scratch.ts';

export type Step =
  | { kind: 'copy'; orig: IcedInstruction }
  | { kind: 'call'; orig: IcedInstruction }
  | { kind: 'split-imm'; orig: IcedInstruction; a: bigint; b: bigint }
  | { kind: 'split-disp'; orig: IcedInstruction; a: bigint; b: bigint }
  | { kind: 'scratch'; orig: IcedInstruction; plan: ScratchPlan; split: bigint };

export interface Relocation {
  runStart: bigint;
  runEnd: bigint;
  /** Address of the block's first instruction (after any alignment padding). */
  entry: bigint;
  /** Bytes to place at blockBase (padding + code). */
  code: Uint8Array;
  /** The bytes replacing the run: jmp entry, then INT3. */
  patch: Uint8Array;
  steps: Step[];
  separated: boolean;
  /** INT3 bytes before entry in code. */
  pad: number;
}

const MASK64 = (1n << 64n) - 1n;
const SPLITS = [0x01010101n, 0x02020202n, 0x11111111n, -0x01010101n, -0x02020202n, 0x00101010n];
const LOADS = new Set<number>([
  Mnemonic.Mov,
  Mnemonic.Movzx,
  Mnemonic.Movsx,
  Mnemonic.Movsxd,
  Mnemonic.Lea,
]);

function fitsI32(v: bigint): boolean {
  return v >= -(1n << 31n) && v < 1n << 31n;
}

function toSigned64(v: bigint): bigint {
  return v >= 1n << 63n ? v - (1n << 64n) : v;
}

/**
 * How to move one instruction, given which of its fields hold offending bytes. A near call
 * always ends its segment of the run (see rewriter.ts): its emulation jumps away and the callee
 * returns to the original return address.
 */
export function planStep(ins: IcedInstruction, fields: Set<InstructionField>): Step | string {
  if (ins.isCallNear) return { kind: 'call', orig: ins };
  const imm = fields.has('immediate');
  const disp = fields.has('displacement');
  if (imm && !disp) {
    const ok =
      ins.mnemonic === Mnemonic.Mov &&
      ins.op0Kind === OpKind.Register &&
      RegisterExt.isGPR(ins.op0Register) &&
      RegisterExt.size(ins.op0Register) >= 4;
    if (ok) return { kind: 'split-imm', orig: ins, a: 0n, b: 0n };
  }
  if (disp && !imm) {
    // The destination serves as the address register, so it must be written whole: a 32- or
    // 64-bit destination (a 32-bit write zero-extends). It may appear in the address itself:
    // the LEA reads it before writing it. 8/16-bit destinations keep their upper bits, so
    // they take the scratch-register form instead.
    const dst = ins.op0Register;
    const whole =
      ins.op0Kind === OpKind.Register && RegisterExt.isGPR(dst) && RegisterExt.size(dst) >= 4;
    const addr64 =
      (ins.memoryBase === Register.None || RegisterExt.isGPR64(ins.memoryBase)) &&
      (ins.memoryIndex === Register.None || RegisterExt.isGPR64(ins.memoryIndex));
    if (LOADS.has(ins.mnemonic) && whole && addr64)
      return { kind: 'split-disp', orig: ins, a: 0n, b: 0n };
  }
  if (imm || disp) {
    const plan = planScratch(ins, imm, disp);
    if (typeof plan === 'string') return plan;
    return { kind: 'scratch', orig: ins, plan, split: 0n };
  }
  return { kind: 'copy', orig: ins };
}

function emit(step: Step, split: bigint, runEnd: bigint, out: IcedInstruction[]): void {
  const o = step.orig;
  switch (step.kind) {
    case 'copy':
      out.push(o.clone());
      return;
    case 'call':
      out.push(Instruction.createReg(Code.Push_r64, Register.RAX));
      out.push(
        Instruction.createRegMem(
          Code.Lea_r64_m,
          Register.RAX,
          MemoryOperand.createBaseDispl(Register.RIP, runEnd),
        ),
      );
      out.push(
        Instruction.createMemReg(
          Code.Xchg_rm64_r64,
          MemoryOperand.createBase(Register.RSP),
          Register.RAX,
        ),
      );
      out.push(Instruction.createBranch(Code.Jmp_rel32_64, o.nearBranchTarget));
      return;
    case 'split-imm': {
      const reg = o.op0Register;
      const is64 = RegisterExt.size(reg) === 8;
      const imm = is64 ? o.immediate(1) & MASK64 : o.immediate(1) & 0xffffffffn;
      const a = is64 ? (imm - split) & MASK64 : (imm - split) & 0xffffffffn;
      step.a = a;
      step.b = split;
      out.push(
        is64
          ? Instruction.createRegU64(Code.Mov_r64_imm64, reg, a)
          : Instruction.createRegU32(Code.Mov_r32_imm32, reg, Number(a)),
      );
      const full = RegisterExt.fullRegister(reg);
      out.push(
        Instruction.createRegMem(
          is64 ? Code.Lea_r64_m : Code.Lea_r32_m,
          reg,
          MemoryOperand.createBaseDispl(full, split),
        ),
      );
      return;
    }
    case 'split-disp': {
      const d = toSigned64(o.memoryDisplacement);
      const a = d - split;
      step.a = a;
      step.b = split;
      const scratch = RegisterExt.fullRegister(o.op0Register);
      const mem = MemoryOperand.createBaseIndexScaleDisplSize(
        o.memoryBase,
        o.memoryIndex,
        o.memoryIndexScale,
        a,
        8,
      );
      out.push(Instruction.createRegMem(Code.Lea_r64_m, scratch, mem));
      const c = o.clone();
      c.memoryBase = scratch;
      c.memoryIndex = Register.None;
      c.memoryIndexScale = 1;
      c.memoryDisplacement = split;
      c.memoryDisplSize = 8; // iced's convention for a sign-extended disp in 64-bit code
      out.push(c);
      return;
    }
    case 'scratch':
      step.split = split;
      emitScratch(o, step.plan, split, out);
      return;
  }
}

function encodeBlock(
  steps: Step[],
  split: bigint,
  runEnd: bigint,
  separate: boolean,
  at: bigint,
): Uint8Array | undefined {
  const list: IcedInstruction[] = [];
  const enc = new BlockEncoder(64, BlockEncoderOptions.None);
  try {
    steps.forEach((s, i) => {
      if (separate && i > 0) list.push(Instruction.create(Code.Nopd));
      emit(s, split, runEnd, list);
    });
    if (steps[steps.length - 1].kind !== 'call')
      list.push(Instruction.createBranch(Code.Jmp_rel32_64, runEnd));
    for (const i of list) enc.add(i);
    return enc.encode(at);
  } catch {
    return undefined; // e.g. a RIP-relative target out of ±2 GiB reach of the new address
  } finally {
    for (const i of list) i.free();
    enc.free();
  }
}

function jmpPatch(from: bigint, to: bigint, length: number): Uint8Array {
  const p = new Uint8Array(length).fill(0xcc);
  p[0] = 0xe9;
  new DataView(p.buffer).setInt32(1, Number(to - (from + 5n)), true);
  return p;
}

/**
 * Encodes `steps` (the run [runStart, runEnd)) at blockBase, trying split constants, NOP
 * separators and a few bytes of leading padding until neither the block nor the patch (seen
 * with its neighbours `before`/`after`) contains 0F 01 D4.
 */
export function relocate(
  steps: Step[],
  runStart: bigint,
  runEnd: bigint,
  blockBase: bigint,
  before: Uint8Array,
  after: Uint8Array,
): Relocation | string {
  const runLen = Number(runEnd - runStart);
  if (runLen < 5) return 'run too short for a jump';
  // The patch is a jmp rel32 (iced would silently turn an out-of-reach block branch into an
  // indirect jump; the patch has no room for that).
  if (!fitsI32(blockBase + 8n - (runStart + 5n)))
    return 'the new segment is out of reach of a jump (more than 2 GiB away)';
  const needsSplit = steps.some((s) => s.kind !== 'copy' && s.kind !== 'call');
  for (const separate of [false, true]) {
    for (let pad = 0; pad < 8; pad++) {
      for (const split of needsSplit ? SPLITS : [0n]) {
        const entry = blockBase + BigInt(pad);
        const outOfReach = (s: Step): boolean =>
          (s.kind === 'split-disp' && !fitsI32(toSigned64(s.orig.memoryDisplacement) - split)) ||
          (s.kind === 'scratch' &&
            s.plan.addr !== undefined &&
            !fitsI32(shiftedDisplacement(s.orig, s.plan.shift) - split));
        if (steps.some(outOfReach)) continue;
        const code = encodeBlock(steps, split, runEnd, separate, entry);
        if (!code) continue;
        const padded = new Uint8Array(pad + code.length).fill(0xcc);
        padded.set(code, pad);
        const patch = jmpPatch(runStart, entry, runLen);
        const window = new Uint8Array(before.length + runLen + after.length);
        window.set(before);
        window.set(patch, before.length);
        window.set(after, before.length + runLen);
        if (containsVmfuncBytes(padded) || containsVmfuncBytes(window)) continue;
        return { runStart, runEnd, entry, code: padded, patch, steps, separated: separate, pad };
      }
    }
  }
  return 'no encoding of the moved code avoids the bytes';
}
