// In-place rewrites: a different encoding of the same length, so nothing moves.
// - VMFUNC itself becomes UD2 (0F 0B) padded with NOP: outside the trampoline VMFUNC is
//   illegal, and natively (outside VMX non-root operation) it raises #UD anyway (SDM Vol. 2C,
//   VMFUNC, "Protected Mode Exceptions: #UD If executed outside VMX non-root operation"),
//   so UD2 keeps native behaviour exactly.
// - ALU/MOV register-register forms have two encodings, "op r/m, r" and "op r, r/m"
//   (SDM Vol. 2, opcode map: 01/03, 09/0B, 89/8B, ...): swapping the form changes the ModRM
//   byte (reg and r/m fields trade places) but not what the instruction does.
import { Code, Encoder, Instruction, RegisterExt, type IcedInstruction } from './iced.ts';

const SWAPPABLE = ['Add', 'Or', 'Adc', 'Sbb', 'And', 'Sub', 'Xor', 'Cmp', 'Mov'];
const SWAP = new Map<number, number>();
for (const m of SWAPPABLE) {
  for (const s of [8, 16, 32, 64]) {
    const a = (Code as unknown as Record<string, number>)[`${m}_rm${s}_r${s}`];
    const b = (Code as unknown as Record<string, number>)[`${m}_r${s}_rm${s}`];
    if (a !== undefined && b !== undefined) {
      SWAP.set(a, b);
      SWAP.set(b, a);
    }
  }
}

export interface InPlaceEdit {
  strategy: 'vmfunc-to-ud2' | 'swap-operand-form';
  address: bigint;
  bytes: Uint8Array;
}

function encode(ins: IcedInstruction, ip: bigint): Uint8Array {
  const enc = new Encoder(64);
  try {
    enc.encode(ins, ip);
    return enc.takeBuffer();
  } finally {
    enc.free();
  }
}

/** The same-length alternatives for one instruction, best first. */
export function inPlaceAlternatives(ins: IcedInstruction): InPlaceEdit[] {
  const out: InPlaceEdit[] = [];
  if (ins.code === Code.Vmfunc) {
    const bytes = new Uint8Array(ins.length).fill(0x90);
    bytes[0] = 0x0f;
    bytes[1] = 0x0b;
    out.push({ strategy: 'vmfunc-to-ud2', address: ins.ip, bytes });
  }
  const other = SWAP.get(ins.code);
  const r0 = ins.op0Register;
  const r1 = ins.op1Register;
  if (other !== undefined && RegisterExt.isGPR(r0) && RegisterExt.isGPR(r1)) {
    const alt = Instruction.createRegReg(other, r0, r1);
    try {
      const bytes = encode(alt, ins.ip);
      if (bytes.length === ins.length)
        out.push({ strategy: 'swap-operand-form', address: ins.ip, bytes });
    } finally {
      alt.free();
    }
  }
  return out;
}

export function isSwapPair(a: number, b: number): boolean {
  return SWAP.get(a) === b;
}
