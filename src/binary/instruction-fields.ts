// Splits one decoded x86 instruction into its encoding fields, byte by byte, so that an
// occurrence of 0F 01 D4 can be reported as "in the ModRM", "in the immediate", etc.
// Field order is fixed by the SDM (Vol. 2, 2.1 "Instruction Format"): prefixes, opcode
// (1-3 bytes, or a VEX/EVEX/XOP prefix plus one opcode byte), ModRM, SIB, displacement,
// immediate. iced gives the displacement and immediate offsets; the rest is counted here.
import { EncodingKind, OpKind, type IcedDecoder, type IcedInstruction } from './iced.ts';

export type InstructionField =
  | 'prefix'
  | 'opcode'
  | 'modrm'
  | 'sib'
  | 'displacement'
  | 'rip-displacement'
  | 'immediate'
  | 'rel-offset';

const LEGACY_PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

function isRex(b: number): boolean {
  return b >= 0x40 && b <= 0x4f;
}

export function hasNearBranchOperand(ins: IcedInstruction): boolean {
  const k = ins.op0Kind;
  return k === OpKind.NearBranch16 || k === OpKind.NearBranch32 || k === OpKind.NearBranch64;
}

/**
 * Field of each byte of `ins`, whose bytes are `bytes` (exactly ins.length of them). Must be
 * called right after `decoder` decoded `ins` (getConstantOffsets reads the last decode).
 */
export function instructionFields(
  decoder: IcedDecoder,
  ins: IcedInstruction,
  bytes: Uint8Array,
): InstructionField[] {
  const len = ins.length;
  const fields: InstructionField[] = new Array<InstructionField>(len).fill('opcode');
  let i = 0;
  while (i < len && (LEGACY_PREFIXES.has(bytes[i]) || isRex(bytes[i]))) fields[i++] = 'prefix';
  const enc = ins.encoding;
  let vexLen = 0;
  if (enc === EncodingKind.VEX) vexLen = bytes[i] === 0xc5 ? 2 : 3;
  else if (enc === EncodingKind.EVEX || enc === EncodingKind.MVEX) vexLen = 4;
  else if (enc === EncodingKind.XOP) vexLen = 3;
  for (let k = 0; k < vexLen && i < len; k++) fields[i++] = 'prefix';
  let opLen = 1;
  if (vexLen === 0 && bytes[i] === 0x0f)
    opLen = bytes[i + 1] === 0x38 || bytes[i + 1] === 0x3a ? 3 : 2;
  i += opLen; // these stay 'opcode'
  const co = decoder.getConstantOffsets(ins);
  try {
    let constStart = len;
    if (co.hasDisplacement) {
      constStart = Math.min(constStart, co.displacementOffset);
      const f: InstructionField = ins.isIpRelMemoryOperand ? 'rip-displacement' : 'displacement';
      for (let k = 0; k < co.displacementSize; k++) fields[co.displacementOffset + k] = f;
    }
    const immField: InstructionField = hasNearBranchOperand(ins) ? 'rel-offset' : 'immediate';
    if (co.hasImmediate) {
      constStart = Math.min(constStart, co.immediateOffset);
      for (let k = 0; k < co.immediateSize; k++) fields[co.immediateOffset + k] = immField;
    }
    if (co.hasImmediate2) {
      for (let k = 0; k < co.immediateSize2; k++) fields[co.immediateOffset2 + k] = 'immediate';
    }
    // Between the opcode and the first constant: ModRM, then SIB (SDM Vol. 2, 2.1.5).
    if (i < constStart) fields[i] = 'modrm';
    if (i + 1 < constStart) fields[i + 1] = 'sib';
    // 3DNow! puts its opcode byte last, where an immediate would be (AMD APM Vol. 3).
    if (enc === EncodingKind.D3NOW) fields[len - 1] = 'opcode';
  } finally {
    co.free();
  }
  return fields;
}
