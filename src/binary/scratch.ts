// Moving an instruction whose immediate or (non-RIP) displacement holds offending bytes, when
// no cheaper equivalent exists: the constant is rebuilt in a scratch register from two parts
// (`mov s, A; lea s, [s + B]`, A + B = the constant) and the instruction uses the register:
//
//   lea rsp, [rsp - 128]          ; step over the red zone (SysV ABI: 128 bytes below RSP
//                                 ; may hold a leaf function's data)
//   push sA / push sI             ; save the scratch registers
//   lea sA, [base + index*s + D' - B]       ; address scratch (displacement case)
//   mov sI, A ; lea sI, [sI + B]            ; immediate scratch (immediate case)
//   op  [sA + B] / [original memory], sI    ; the original operation, same width, same prefixes
//   pop sI / pop sA
//   lea rsp, [rsp + 128]
//
// LEA, MOV, PUSH and POP leave RFLAGS alone (SDM Vol. 2: "Flags Affected: None"), so the op
// sees the flags the original saw (ADC/SBB read CF) and leaves the flags the original left:
// `op r/m, r` with r = imm computes what `op r/m, imm` computes, and the SDM defines ADD, SUB,
// CMP, ADC, SBB, AND, OR, XOR and TEST flags from the operand values and result only. D' is the
// displacement, plus the 128 + 8·n-byte shift when the base is RSP. A scratch register is one
// the instruction does not use, explicitly or implicitly (iced's InstructionInfo).
// Refused: instructions that move RSP themselves (push/pop/call/enter/leave: their stack
// slot would be the shifted one) or name RSP as a register operand, and 32-bit addressing.
import {
  Code,
  Instruction,
  InstructionInfoFactory,
  MemoryOperand,
  OpKind,
  Register,
  RegisterExt,
  type IcedInstruction,
} from './iced.ts';

export interface ScratchPlan {
  /** Full 64-bit register holding the address (displacement case). */
  addr: number | undefined;
  /** Full 64-bit register holding the immediate (immediate case). */
  imm: number | undefined;
  /** Operand width in bits of the immediate form. */
  width: number;
  /** The register form of the operation (immediate case), else the original code. */
  code: number;
  /** Bytes RSP is lowered by between the two `lea rsp`s and the pushes. */
  shift: number;
}

const CANDIDATES: number[] = [
  Register.RAX,
  Register.RCX,
  Register.RDX,
  Register.RBX,
  Register.RSI,
  Register.RDI,
  Register.R8,
  Register.R9,
  Register.R10,
  Register.R11,
  Register.R12,
  Register.R13,
  Register.R14,
  Register.R15,
];
const LEGACY8 = new Set<number>([Register.AH, Register.CH, Register.DH, Register.BH]);
const CODES = Code as unknown as Record<string | number, number | string>;
const IMM_FORM =
  /^(Add|Or|Adc|Sbb|And|Sub|Xor|Cmp|Test|Mov)_(rm8|rm16|rm32|rm64|r8|r16|r32|r64|AL|AX|EAX|RAX)_imm(8|16|32|64)$/;
const WIDTH: Record<string, number> = {
  rm8: 8,
  r8: 8,
  AL: 8,
  rm16: 16,
  r16: 16,
  AX: 16,
  rm32: 32,
  r32: 32,
  EAX: 32,
  rm64: 64,
  r64: 64,
  RAX: 64, // prettier-ignore
};
export const RED_ZONE = 128n;
const LOW8 = ['AL', 'CL', 'DL', 'BL', 'SIL', 'DIL'];
const LOW16 = ['AX', 'CX', 'DX', 'BX', 'SI', 'DI'];
const LOW32 = ['EAX', 'ECX', 'EDX', 'EBX', 'ESI', 'EDI'];

/** The register form `Op_rmN_rN` of an `Op_…_immM` code, with its width, or undefined. */
export function registerForm(code: number): { code: number; width: number } | undefined {
  const name = CODES[code];
  const m = typeof name === 'string' ? IMM_FORM.exec(name) : null;
  if (!m) return undefined;
  const width = WIDTH[m[2]];
  const reg = CODES[`${m[1]}_rm${width}_r${width}`];
  return typeof reg === 'number' ? { code: reg, width } : undefined;
}

/** Full registers the instruction reads or writes, explicitly or implicitly. */
export function usedFullRegisters(ins: IcedInstruction): Set<number> {
  const factory = new InstructionInfoFactory();
  const info = factory.info(ins);
  const out = new Set<number>();
  try {
    for (const u of info.usedRegisters()) {
      const r = u.register;
      u.free();
      out.add(RegisterExt.isGPR(r) ? RegisterExt.fullRegister(r) : r);
    }
  } finally {
    info.free();
    factory.free();
  }
  return out;
}

function explicitRegisters(ins: IcedInstruction): number[] {
  const out: number[] = [];
  for (let k = 0; k < ins.opCount; k++)
    if (ins.opKind(k) === OpKind.Register) out.push(ins.opRegister(k));
  return out;
}

function hasMemoryOperand(ins: IcedInstruction): boolean {
  for (let k = 0; k < ins.opCount; k++) if (ins.opKind(k) === OpKind.Memory) return true;
  return false;
}

/** Plans the scratch-register form, or says why it does not apply. */
export function planScratch(
  ins: IcedInstruction,
  needImm: boolean,
  needAddr: boolean,
): ScratchPlan | string {
  let code = ins.code;
  let width = 0;
  if (needImm) {
    const form = registerForm(ins.code);
    if (!form) return 'no equivalent without the immediate is known for this instruction';
    code = form.code;
    width = form.width;
  }
  if (needAddr) {
    if (!hasMemoryOperand(ins) || ins.isIpRelMemoryOperand)
      return 'the displacement is not that of a memory operand';
    const base = ins.memoryBase;
    const index = ins.memoryIndex;
    if (base !== Register.None && !RegisterExt.isGPR64(base))
      return 'only 64-bit addressing is handled';
    if (index !== Register.None && !RegisterExt.isGPR64(index))
      return 'only 64-bit addressing (no vector index) is handled';
  }
  if (ins.stackPointerIncrement !== 0)
    return 'the instruction moves RSP itself, so it cannot run on a shifted stack';
  if (
    explicitRegisters(ins).some(
      (r) => RegisterExt.isGPR(r) && RegisterExt.fullRegister(r) === Register.RSP,
    )
  )
    return 'the instruction names RSP as a register operand';
  const used = usedFullRegisters(ins);
  const high8 = explicitRegisters(ins).some((r) => LEGACY8.has(r));
  const pool = CANDIDATES.filter(
    (r) => !used.has(r) && (!high8 || !needImm || width !== 8 || r <= Register.RBX),
  );
  // An instruction with AH/BH/CH/DH cannot take a REX prefix, so an 8-bit scratch must then be
  // AL/CL/DL/BL (their full registers are RAX..RBX, the first four candidates).
  const n = (needImm ? 1 : 0) + (needAddr ? 1 : 0);
  if (pool.length < n) return 'no free scratch register';
  const addr = needAddr ? pool[0] : undefined;
  const imm = needImm ? pool[needAddr ? 1 : 0] : undefined;
  return { addr, imm, width, code, shift: Number(RED_ZONE) + 8 * n };
}

/** The scratch register at the given width (8/16/32/64 bits). */
export function sized(full: number, width: number): number {
  if (width === 64) return full;
  const regs = Register as unknown as Record<string, number>;
  const name64 = (Register as unknown as Record<number, string>)[full];
  const i = CANDIDATES.indexOf(full);
  if (i < 6) {
    const names = width === 8 ? LOW8 : width === 16 ? LOW16 : LOW32;
    return regs[names[i]];
  }
  return regs[`${name64}${width === 8 ? 'L' : width === 16 ? 'W' : 'D'}`];
}

const MASK64 = (1n << 64n) - 1n;

export function mask(width: number): bigint {
  return width === 64 ? MASK64 : (1n << BigInt(Math.max(width, 32))) - 1n;
}

/** The immediate of an immediate-form instruction, as the operation sees it (width bits). */
export function immediateValue(ins: IcedInstruction, width: number): bigint {
  return ins.immediate(1) & ((1n << BigInt(width)) - 1n);
}

export function signed64(v: bigint): bigint {
  const u = v & MASK64;
  return u >= 1n << 63n ? u - (1n << 64n) : u;
}

/** Displacement of the original memory operand as seen after RSP has been lowered by shift. */
export function shiftedDisplacement(ins: IcedInstruction, shift: number): bigint {
  const d = signed64(ins.memoryDisplacement);
  return ins.memoryBase === Register.RSP ? d + BigInt(shift) : d;
}

/**
 * The rewritten operation: register form for the immediate, memory operand on the address
 * scratch (displacement `split`) or, for an RSP base, with the shifted displacement.
 */
export function scratchOperation(
  ins: IcedInstruction,
  p: ScratchPlan,
  split: bigint,
): IcedInstruction {
  const c = ins.clone();
  if (p.imm !== undefined) {
    c.code = p.code;
    c.op1Kind = OpKind.Register;
    c.op1Register = sized(p.imm, p.width);
  }
  if (hasMemoryOperand(ins) && !ins.isIpRelMemoryOperand) {
    if (p.addr !== undefined) {
      c.memoryBase = p.addr;
      c.memoryIndex = Register.None;
      c.memoryIndexScale = 1;
      c.memoryDisplacement = split & MASK64;
      c.memoryDisplSize = 8; // iced: a sign-extended displacement in 64-bit code
    } else if (ins.memoryBase === Register.RSP) {
      c.memoryDisplacement = shiftedDisplacement(ins, p.shift) & MASK64;
      c.memoryDisplSize = 8;
    }
  }
  return c;
}

/** Appends the whole scratch sequence for `ins` to `out`. */
export function emitScratch(
  ins: IcedInstruction,
  p: ScratchPlan,
  split: bigint,
  out: IcedInstruction[],
): void {
  const regs = [p.addr, p.imm].filter((r): r is number => r !== undefined);
  out.push(
    Instruction.createRegMem(
      Code.Lea_r64_m,
      Register.RSP,
      MemoryOperand.createBaseDispl(Register.RSP, -RED_ZONE),
    ),
  );
  for (const r of regs) out.push(Instruction.createReg(Code.Push_r64, r));
  if (p.addr !== undefined) {
    const d = shiftedDisplacement(ins, p.shift) - split;
    out.push(
      Instruction.createRegMem(
        Code.Lea_r64_m,
        p.addr,
        MemoryOperand.createBaseIndexScaleDisplSize(
          ins.memoryBase,
          ins.memoryIndex,
          ins.memoryIndexScale,
          d,
          8,
        ),
      ),
    );
  }
  if (p.imm !== undefined) {
    const v = immediateValue(ins, p.width);
    const m = mask(p.width);
    const a = (v - split) & m;
    if (p.width === 64) {
      out.push(Instruction.createRegU64(Code.Mov_r64_imm64, p.imm, a));
      out.push(
        Instruction.createRegMem(
          Code.Lea_r64_m,
          p.imm,
          MemoryOperand.createBaseDispl(p.imm, split),
        ),
      );
    } else {
      const r32 = sized(p.imm, 32);
      out.push(Instruction.createRegU32(Code.Mov_r32_imm32, r32, Number(a)));
      out.push(
        Instruction.createRegMem(Code.Lea_r32_m, r32, MemoryOperand.createBaseDispl(p.imm, split)),
      );
    }
  }
  out.push(scratchOperation(ins, p, split));
  for (const r of [...regs].reverse()) out.push(Instruction.createReg(Code.Pop_r64, r));
  out.push(
    Instruction.createRegMem(
      Code.Lea_r64_m,
      Register.RSP,
      MemoryOperand.createBaseDispl(Register.RSP, RED_ZONE),
    ),
  );
}
