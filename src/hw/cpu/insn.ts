// The decoded form of one instruction: numbers only, built once per code address by
// decode.ts from iced-x86's decoding and kept in the decode cache (Bochs's lesson: decode
// once, execute many times). The interpreter's switch is over `op`.

/** Operand kinds. */
export const enum K {
  None = 0,
  /** A general-purpose register: `r` is its index 0..15, `size` its width. */
  Reg = 1,
  /** AH, CH, DH, BH: bits 15:8 of register `r` (0..3). */
  Hi8 = 2,
  Mem = 3,
  Imm = 4,
  /** XMM register `r`. */
  Xmm = 5,
}

/** What the interpreter does, one value per handler (operand forms are in the operands). */
export const enum Op {
  Ud = 0,
  Nop,
  Mov,
  Movzx,
  Movsx,
  Lea,
  Xchg,
  Cmov,
  Setcc,
  Add,
  Or,
  Adc,
  Sbb,
  And,
  Sub,
  Xor,
  Cmp,
  Test,
  Inc,
  Dec,
  Neg,
  Not,
  Shl,
  Shr,
  Sar,
  Rol,
  Ror,
  Rcl,
  Rcr,
  Shld,
  Shrd,
  Mul,
  Imul1,
  Imul,
  Div,
  Idiv,
  /** CBW / CWDE / CDQE by size. */
  Cbw,
  /** CWD / CDQ / CQO by size. */
  Cwd,
  Bt,
  Bts,
  Btr,
  Btc,
  Bsf,
  Bsr,
  Tzcnt,
  Lzcnt,
  Popcnt,
  Bswap,
  Xadd,
  Cmpxchg,
  Push,
  Pop,
  Call,
  Ret,
  Jmp,
  Jcc,
  Leave,
  Movs,
  Stos,
  Lods,
  Scas,
  Cmps,
  Cld,
  Std,
  Clc,
  Stc,
  Cmc,
  Lahf,
  Sahf,
  Pushf,
  Popf,
  Syscall,
  Vmfunc,
  Rdtsc,
  Cpuid,
  Pause,
  Ud2,
  Int3,
  /** VERW r/m16: the segment check, and MD_CLEAR's buffer overwrite (isa.ts mdClear). */
  Verw,
  /** An instruction that exists but needs CPL 0 (or IOPL): #GP(0) at CPL 3. */
  Privileged,
  // SSE/SSE2 (see exec-sse.ts for the covered set).
  MovXmm,
  MovqXmm,
  Movsd,
  Addsd,
  Subsd,
  Mulsd,
  Divsd,
  Sqrtsd,
  Minsd,
  Maxsd,
  Cvtsi2sd,
  Cvttsd2si,
  Cvtsd2si,
  Ucomisd,
  Comisd,
  Xorpd,
  Andpd,
  Andnpd,
  Orpd,
  Unpcklpd,
  Punpcklqdq,
  Paddq,
  Psubq,
  Pcmpeqb,
  Pmovmskb,
  Movhpd,
  Movlpd,
  // Packed integer arithmetic (exec-sse-int.ts), in this order: element-wise ops whose
  // handler indexes tables by `op - Op.Paddb`.
  Paddb,
  Paddw,
  Paddd,
  Psubb,
  Psubw,
  Psubd,
  Paddsb,
  Paddsw,
  Paddusb,
  Paddusw,
  Psubsb,
  Psubsw,
  Psubusb,
  Psubusw,
  Pcmpeqw,
  Pcmpeqd,
  Pcmpgtb,
  Pcmpgtw,
  Pcmpgtd,
  Pminub,
  Pmaxub,
  Pminsw,
  Pmaxsw,
  Pavgb,
  Pavgw,
  Pmullw,
  Pmulhw,
  Pmulhuw,
  Pmuludq,
  Pmaddwd,
  Psadbw,
  // Shifts, shuffles, unpacks, packs, inserts and extracts (exec-sse-shuffle.ts).
  Psllw,
  Pslld,
  Psllq,
  Psrlw,
  Psrld,
  Psrlq,
  Psraw,
  Psrad,
  Pslldq,
  Psrldq,
  Pshufd,
  Pshuflw,
  Pshufhw,
  Punpcklbw,
  Punpcklwd,
  Punpckldq,
  Punpckhbw,
  Punpckhwd,
  Punpckhdq,
  Punpckhqdq,
  Packsswb,
  Packssdw,
  Packuswb,
  Pextrw,
  Pinsrw,
  Movhlps,
  Movlhps,
  Shufps,
  Shufpd,
  Movmskps,
  Movmskpd,
  // Single precision and packed floating point (exec-sse-float.ts). The arithmetic comes in
  // runs of seven in the order of ADDSD..MAXSD above (add, sub, mul, div, sqrt, min, max): scalar single,
  // packed single, packed double.
  Addss,
  Subss,
  Mulss,
  Divss,
  Sqrtss,
  Minss,
  Maxss,
  Addps,
  Subps,
  Mulps,
  Divps,
  Sqrtps,
  Minps,
  Maxps,
  Addpd,
  Subpd,
  Mulpd,
  Divpd,
  Sqrtpd,
  Minpd,
  Maxpd,
  Movss,
  Cmpss,
  Cmpps,
  CmpsdXmm,
  Cmppd,
  Ucomiss,
  Comiss,
  Cvtss2sd,
  Cvtsd2ss,
  Cvtsi2ss,
  Cvttss2si,
  Cvtss2si,
  Cvtdq2pd,
  Cvtdq2ps,
  Cvtpd2ps,
  Cvtps2pd,
  Cvttpd2dq,
  Cvtpd2dq,
  Cvttps2dq,
  Cvtps2dq,
}

/** Cost classes: each has a cycle figure in the profile (`insnCosts`). */
export const enum Cls {
  Alu = 0,
  Shift,
  ShiftCl,
  RotateCarry,
  Lea,
  Mul,
  Div32,
  Div64,
  Load,
  Store,
  Push,
  Pop,
  Branch,
  BranchTaken,
  Call,
  Ret,
  Bits,
  String,
  SseMove,
  SseAdd,
  SseMul,
  SseDiv,
  SseSqrt,
  SseCvt,
  Nop,
  SseShuffle,
  SseInsert,
  SseDivSingle,
  SseSqrtSingle,
  /** A LOCK-prefixed read-modify-write (LOCK ADD/XADD/CMPXCHG/...). */
  Locked,
  /** XCHG with a memory operand: locked without the prefix (SDM XCHG). */
  XchgMem,
  Pause,
  Count,
}

/** The profile's name for each cost class (profile.insn), in Cls order. */
export const CLASS_NAMES = [
  'alu',
  'shift',
  'shiftCl',
  'rotateCarry',
  'lea',
  'mul',
  'div32',
  'div64',
  'load',
  'store',
  'push',
  'pop',
  'branch',
  'branchTaken',
  'call',
  'ret',
  'bits',
  'string',
  'sseMove',
  'sseAdd',
  'sseMul',
  'sseDiv',
  'sseSqrt',
  'sseCvt',
  'nop',
  'sseShuffle',
  'sseInsert',
  'sseDivSingle',
  'sseSqrtSingle',
  'locked',
  'xchgMem',
  'pause',
] as const;

export class Insn {
  op: Op = Op.Ud;
  cls: Cls = Cls.Alu;
  /** Bytes of the instruction. */
  len = 0;
  /** Operand size in bytes (the destination's; 16 for a full XMM move). */
  size = 0;
  /** Source operand size (MOVZX/MOVSX/CVTSI2SD/CVT*2SI). */
  srcSize = 0;
  k0: K = K.None;
  r0 = 0;
  k1: K = K.None;
  r1 = 0;
  k2: K = K.None;
  r2 = 0;
  /** Immediate, sign- or zero-extended as the instruction defines, in two halves. */
  immLo = 0;
  immHi = 0;
  /** Memory operand: base and index register (-1 none, 16 = RIP), scale shift 0..3,
   *  displacement (for RIP-relative, from the next instruction), segment (0, 1 FS, 2 GS),
   *  32-bit address size. */
  base = -1;
  index = -1;
  scaleShift = 0;
  dispLo = 0;
  dispHi = 0;
  seg = 0;
  addr32 = false;
  /** Condition code 0..15 in x86 encoding order (O, NO, B, AE, E, NE, BE, A, S, NS, P, NP,
   *  L, GE, LE, G). */
  cond = 0;
  /** Branch target relative to the next instruction. */
  rel = 0;
  /** String instructions: 0 none, 1 REP/REPE, 2 REPNE. */
  rep = 0;
  /** SSE move that requires a 16-byte-aligned memory operand (#GP otherwise). */
  align16 = false;
  /** For #UD: what the decoder saw (shown in the fault report). */
  text = '';
}
