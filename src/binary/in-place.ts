// In-place rewrites: a different encoding of the same length, so nothing moves.
// - VMFUNC itself becomes UD2 (0F 0B) padded with NOP: outside the trampoline VMFUNC is
//   illegal, and natively (outside VMX non-root operation) it raises #UD anyway (SDM Vol. 2C,
//   VMFUNC, "Protected Mode Exceptions: #UD If executed outside VMX non-root operation"),
//   so UD2 keeps native behaviour exactly.
// - ALU/MOV register-register forms have two encodings, "op r/m, r" and "op r, r/m"
//   (SDM Vol. 2, opcode map: 01/03, 09/0B, 89/8B, ...): swapping the form changes the ModRM
//   byte (reg and r/m fields trade places) but not what the instruction does.
// - "A NOP shifting an offset": a jump or conditional jump (rel8/rel32), or an instruction with
//   a RIP-relative operand, next to a NOP (0x90 or a multi-byte 0F 1F NOP, e.g. alignment
//   padding) trades s bytes of place with it: [nop k][ins] becomes [nop k-s][ins'][nop s], or
//   [ins][nop k] becomes [nop s][ins'][nop k-s], where ins' reaches the same absolute target from
//   its new address, so its offset (and its bytes) change by s. Execution passes through the same
//   instructions (a NOP does nothing); the one boundary that disappears (the old start of ins,
//   or of the NOP after it) must not be a known branch target (checked by the rewriter and
//   verify.ts). Calls are left out: their return address (ins'.nextIP) would change, and the
//   callee, unwinder and __builtin_return_address see it; moving a call keeps it exact.
import { Code, Encoder, Instruction, Mnemonic, RegisterExt, type IcedInstruction } from './iced.ts';
import { hasNearBranchOperand } from './instruction-fields.ts';

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
  strategy: 'vmfunc-to-ud2' | 'swap-operand-form' | 'nop-shift';
  address: bigint;
  bytes: Uint8Array;
  /** nop-shift: the instruction boundary that disappears (must not be a branch target). */
  lost?: bigint;
  /** nop-shift: where the shifted instruction now starts. */
  movedTo?: bigint;
}

// Intel's recommended multi-byte NOPs (SDM Vol. 2B, NOP, Table 4-12), 1 to 9 bytes.
const NOPS: number[][] = [
  [0x90],
  [0x66, 0x90],
  [0x0f, 0x1f, 0x00],
  [0x0f, 0x1f, 0x40, 0x00],
  [0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
  [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];

/** n bytes of NOP instructions (as few as possible). */
export function nopBytes(n: number): number[] {
  const out: number[] = [];
  while (n > 0) {
    const k = Math.min(n, NOPS.length);
    out.push(...NOPS[k - 1]);
    n -= k;
  }
  return out;
}

export function isNop(ins: IcedInstruction | undefined): ins is IcedInstruction {
  return ins !== undefined && !ins.isInvalid && ins.mnemonic === Mnemonic.Nop;
}

/** Instructions whose bytes depend on their address only through a branch or RIP offset. */
export function isShiftable(ins: IcedInstruction): boolean {
  if (ins.isCallNear || ins.isCallNearIndirect || ins.isCallFar || ins.isCallFarIndirect)
    return false;
  return hasNearBranchOperand(ins) || ins.isIpRelMemoryOperand;
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

/**
 * Same-length rewrites of `ins` that trade place with an adjacent NOP (`prev` ends where ins
 * starts, `next` starts where it ends), smallest shift first.
 */
export function nopShiftAlternatives(
  prev: IcedInstruction | undefined,
  ins: IcedInstruction,
  next: IcedInstruction | undefined,
): InPlaceEdit[] {
  if (!isShiftable(ins)) return [];
  const out: InPlaceEdit[] = [];
  const L = ins.length;
  const shifted = (at: bigint): Uint8Array | undefined => {
    try {
      const b = encode(ins, at);
      return b.length === L ? b : undefined;
    } catch {
      return undefined; // e.g. a rel8 that no longer reaches
    }
  };
  if (isNop(prev) && prev.nextIP === ins.ip) {
    const k = prev.length;
    for (let s = 1; s <= k; s++) {
      const at = ins.ip - BigInt(s);
      const b = shifted(at);
      if (!b) continue;
      const bytes = Uint8Array.from([...nopBytes(k - s), ...b, ...nopBytes(s)]);
      out.push({ strategy: 'nop-shift', address: prev.ip, bytes, lost: ins.ip, movedTo: at });
    }
  }
  if (isNop(next) && next.ip === ins.nextIP) {
    const k = next.length;
    for (let s = 1; s <= k; s++) {
      const at = ins.ip + BigInt(s);
      const b = shifted(at);
      if (!b) continue;
      const bytes = Uint8Array.from([...nopBytes(s), ...b, ...nopBytes(k - s)]);
      out.push({ strategy: 'nop-shift', address: ins.ip, bytes, lost: next.ip, movedTo: at });
    }
  }
  return out;
}

export function isSwapPair(a: number, b: number): boolean {
  return SWAP.get(a) === b;
}
