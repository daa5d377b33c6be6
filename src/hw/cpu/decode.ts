// From iced-x86's decoding to our Insn: which handler (by mnemonic and operand kinds), the
// operands as register indices, immediates as 32-bit halves, memory operands as base,
// index, scale and displacement. Runs once per code address (the decode cache keeps the
// result); anything outside the covered set becomes Op.Ud, which the interpreter delivers
// as #UD (docs/interpreter.md lists the set).

import iced from 'iced-x86';
import { BY_MNEMONIC, PRIVILEGED } from './decode-table.ts';
import { Cls, Insn, K, Op } from './insn.ts';

const { Decoder, DecoderOptions, Mnemonic: M, OpKind, Register: Reg, MemorySizeExt } = iced;
type IcedInstruction = InstanceType<typeof iced.Instruction>;

/** GPR: iced Register → (index, size, high byte). AL..R15L 1..20, AX..R15W 21..36,
 *  EAX..R15D 37..52, RAX..R15 53..68 (iced's order). */
function gpr(r: number): { index: number; size: number; hi8: boolean } | null {
  if (r >= Reg.AL && r <= Reg.R15L) {
    const i = r - Reg.AL;
    if (i >= 4 && i <= 7) return { index: i - 4, size: 1, hi8: true };
    // AL CL DL BL, then (after AH..BH) SPL BPL SIL DIL R8L..R15L.
    return { index: i < 4 ? i : i - 4, size: 1, hi8: false };
  }
  if (r >= Reg.AX && r <= Reg.R15W) return { index: r - Reg.AX, size: 2, hi8: false };
  if (r >= Reg.EAX && r <= Reg.R15D) return { index: r - Reg.EAX, size: 4, hi8: false };
  if (r >= Reg.RAX && r <= Reg.R15) return { index: r - Reg.RAX, size: 8, hi8: false };
  return null;
}

const isXmm = (r: number): boolean => r >= Reg.XMM0 && r <= Reg.XMM15;

const lo32 = (v: bigint): number => Number(BigInt.asIntN(32, v));
const hi32 = (v: bigint): number => Number(BigInt.asIntN(32, v >> 32n));

/** Sets operand `n` (0..2) of `d` from iced operand `i`; false if it is not one we cover. */
function operand(d: Insn, ins: IcedInstruction, i: number, n: number): boolean {
  const kind = ins.opKind(i);
  let k: K;
  let r = 0;
  if (kind === OpKind.Register) {
    const reg = ins.opRegister(i);
    const g = gpr(reg);
    if (g !== null) {
      k = g.hi8 ? K.Hi8 : K.Reg;
      r = g.index;
      if (n === 0 || d.size === 0) d.size = g.size;
      if (n > 0 && d.srcSize === 0) d.srcSize = g.size;
    } else if (isXmm(reg)) {
      k = K.Xmm;
      r = reg - Reg.XMM0;
    } else return false;
  } else if (kind === OpKind.Memory) {
    k = K.Mem;
    const size = MemorySizeExt.size(ins.memorySize);
    if (n === 0 || d.size === 0) d.size = size;
    if (n > 0 && d.srcSize === 0) d.srcSize = size;
    if (!memory(d, ins)) return false;
  } else if (
    kind === OpKind.Immediate8 ||
    kind === OpKind.Immediate16 ||
    kind === OpKind.Immediate32 ||
    kind === OpKind.Immediate64 ||
    kind === OpKind.Immediate8to16 ||
    kind === OpKind.Immediate8to32 ||
    kind === OpKind.Immediate8to64 ||
    kind === OpKind.Immediate32to64
  ) {
    k = K.Imm;
    const v = ins.immediate(i);
    // 8-to-16/32 forms arrive zero-extended at their width; sign-extend them to 64 bits.
    const w =
      kind === OpKind.Immediate8to16
        ? BigInt.asIntN(16, v)
        : kind === OpKind.Immediate8to32
          ? BigInt.asIntN(32, v)
          : v;
    d.immLo = lo32(w);
    d.immHi = hi32(w);
  } else if (kind === OpKind.NearBranch64) {
    d.rel = Number(BigInt.asIntN(64, ins.nearBranch64 - ins.nextIP));
    return true;
  } else return false;
  if (n === 0) {
    d.k0 = k;
    d.r0 = r;
  } else if (n === 1) {
    d.k1 = k;
    d.r1 = r;
  } else {
    d.k2 = k;
    d.r2 = r;
  }
  return true;
}

function memory(d: Insn, ins: IcedInstruction): boolean {
  const base = ins.memoryBase;
  const index = ins.memoryIndex;
  const disp = ins.memoryDisplacementU64;
  if (base === Reg.RIP) {
    d.base = 16;
    const rel = BigInt.asIntN(64, disp - ins.nextIP);
    d.dispLo = lo32(rel);
    d.dispHi = hi32(rel);
  } else {
    if (base !== Reg.None) {
      const g = gpr(base);
      if (g === null || g.size < 4) return false;
      d.base = g.index;
      d.addr32 = g.size === 4;
    }
    d.dispLo = lo32(disp);
    d.dispHi = d.addr32 ? 0 : hi32(disp);
  }
  if (index !== Reg.None) {
    const g = gpr(index);
    if (g === null || g.size < 4) return false;
    d.index = g.index;
    d.addr32 = g.size === 4;
    d.scaleShift = Math.log2(ins.memoryIndexScale);
  }
  const seg = ins.memorySegment;
  d.seg = seg === Reg.FS ? 1 : seg === Reg.GS ? 2 : 0;
  return true;
}

/** Decodes one instruction at `rip` from `bytes` (which start there). `incomplete` is set
 *  when the bytes ran out before the instruction ended (the caller fetches more). */
export function decodeOne(bytes: Uint8Array, rip: number): { insn: Insn; incomplete: boolean } {
  const dec = new Decoder(64, bytes, DecoderOptions.None);
  const d = new Insn();
  try {
    dec.ip = BigInt(rip);
    const ins = dec.decode();
    try {
      d.len = ins.length;
      if (ins.isInvalid) {
        const incomplete = dec.lastError === iced.DecoderError.NoMoreBytes;
        d.len = Math.max(1, d.len);
        d.text = 'invalid instruction';
        return { insn: d, incomplete };
      }
      d.text = ins.toString();
      fill(d, ins);
      return { insn: d, incomplete: false };
    } finally {
      ins.free();
    }
  } finally {
    dec.free();
  }
}

function fill(d: Insn, ins: IcedInstruction): void {
  const m = ins.mnemonic;
  // MOV to or from a control or debug register (SDM MOV CRn/DRn: #GP(0) if CPL > 0).
  if (PRIVILEGED.has(m) || (m === M.Mov && /_(cr|dr)(_|$)/.test(iced.Code[ins.code] ?? ''))) {
    d.op = Op.Privileged;
    return;
  }
  // String instructions share mnemonics with SSE (MOVSD, CMPSD): the operand kind decides.
  const k0 = ins.opCount > 0 ? ins.opKind(0) : -1;
  const k1 = ins.opCount > 1 ? ins.opKind(1) : -1;
  const str = (k: number): boolean => k >= OpKind.MemorySegSI && k <= OpKind.MemoryESRDI;
  if (str(k0) || str(k1)) return stringInsn(d, ins, m);
  const cc = ins.conditionCode;
  if (cc !== iced.ConditionCode.None) {
    if (ins.isJccShortOrNear) d.op = Op.Jcc;
    else if (m >= M.Cmova && m <= M.Cmovs) d.op = Op.Cmov;
    else if (m >= M.Seta && m <= M.Sets) d.op = Op.Setcc;
    else return;
    d.cond = cc - 1;
    d.cls = d.op === Op.Jcc ? Cls.Branch : Cls.Alu;
  } else {
    const hit = BY_MNEMONIC.get(m);
    if (hit === undefined) return;
    [d.op, d.cls] = hit;
    if (m === M.Imul) d.op = ins.opCount === 1 ? Op.Imul1 : Op.Imul;
    if (m === M.Imul) d.cls = Cls.Mul;
  }
  for (let i = 0; i < ins.opCount && i < 3; i++) {
    if (!operand(d, ins, i, i)) {
      d.op = Op.Ud;
      return;
    }
  }
  if (ins.opCount > 3) d.op = Op.Ud;
  // A locked read-modify-write costs its own class (SDM Vol. 3A §9.1.2: XCHG with memory is
  // locked whether or not it has the prefix).
  if (ins.hasLockPrefix) d.cls = Cls.Locked;
  else if (m === M.Xchg && (d.k0 === K.Mem || d.k1 === K.Mem)) d.cls = Cls.XchgMem;
  finishSizes(d, ins, m);
  if (d.op >= Op.MovXmm) finishSse(d, m);
}

function finishSse(d: Insn, m: number): void {
  // Legacy SSE: a 16-byte memory operand must be aligned, but for the unaligned moves.
  if ((d.k0 === K.Mem || d.k1 === K.Mem) && d.size === 16)
    d.align16 = m !== M.Movdqu && m !== M.Movups && m !== M.Movupd && m !== M.Lddqu;
  // Shifts by an immediate are one µop on p01; by an XMM count two (p01 + p5).
  if (d.op >= Op.Psllw && d.op <= Op.Psrad && d.k1 === K.Imm) d.cls = Cls.SseAdd;
  // PEXTRW to memory (66 0F 3A 15) is SSE4.1: not covered.
  if (m === M.Pextrw && d.k0 !== K.Reg) d.op = Op.Ud;
}

function finishSizes(d: Insn, ins: IcedInstruction, m: number): void {
  // Implicit-operand forms: size from the mnemonic.
  if (m === M.Cbw || m === M.Cwd) d.size = 2;
  else if (m === M.Cwde || m === M.Cdq) d.size = 4;
  else if (m === M.Cdqe || m === M.Cqo) d.size = 8;
  else if (m === M.Lahf || m === M.Sahf) d.size = 1;
  else if (m === M.Pushfq || m === M.Popfq || m === M.Leave) d.size = 8;
  else if (m === M.Ret || m === M.Call || m === M.Jmp) d.size = 8;
  // PUSH imm: the operand size is the stack's (8), or 2 with a 66h prefix (iced's o16).
  if (d.op === Op.Push && d.k0 === K.Imm) d.size = ins.stackPointerIncrement === -2 ? 2 : 8;
  if (d.op === Op.Div || d.op === Op.Idiv) d.cls = d.size === 8 ? Cls.Div64 : Cls.Div32;
  if (
    (d.op === Op.Shl || d.op === Op.Shr || d.op === Op.Sar || d.op === Op.Rol || d.op === Op.Ror) &&
    d.k1 === K.Reg
  )
    d.cls = Cls.ShiftCl;
  if (d.op === Op.Mov && d.k0 === K.Mem) d.cls = Cls.Store;
  else if (d.op === Op.Mov && d.k1 === K.Mem) d.cls = Cls.Load;
  // A direct JMP/CALL keeps k0 = None (operand() stored its target in rel); the source of
  // MOVZX/MOVSX, CVTSI2SD and the bit tests keeps its own size in srcSize.
}

function stringInsn(d: Insn, ins: IcedInstruction, m: number): void {
  const hit = BY_MNEMONIC.get(m === M.Movsd ? M.Movsb : m === M.Cmpsd ? M.Cmpsb : m);
  if (hit === undefined) return;
  [d.op, d.cls] = hit;
  const size = MemorySizeExt.size(ins.memorySize);
  d.size = size;
  d.rep = ins.hasRepnePrefix ? 2 : ins.hasRepPrefix || ins.hasRepePrefix ? 1 : 0;
  const k0 = ins.opKind(0);
  // 32-bit address size (ESI/EDI/ECX) is not covered.
  if (
    k0 === OpKind.MemorySegESI ||
    k0 === OpKind.MemorySegEDI ||
    k0 === OpKind.MemoryESEDI ||
    (ins.opCount > 1 &&
      (ins.opKind(1) === OpKind.MemorySegESI || ins.opKind(1) === OpKind.MemoryESEDI))
  )
    d.op = Op.Ud;
  if (ins.segmentPrefix !== Reg.None)
    d.seg = ins.segmentPrefix === Reg.FS ? 1 : ins.segmentPrefix === Reg.GS ? 2 : 0;
}
