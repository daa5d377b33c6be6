// From iced-x86's decoding to our Insn: which handler (by mnemonic and operand kinds), the
// operands as register indices, immediates as 32-bit halves, memory operands as base,
// index, scale and displacement. Runs once per code address (the decode cache keeps the
// result); anything outside the covered set becomes Op.Ud, which the interpreter delivers
// as #UD (docs/interpreter.md lists the set).

import iced from 'iced-x86';
import { Cls, Insn, K, Op } from './insn.ts';

const { Decoder, DecoderOptions, Mnemonic: M, OpKind, Register: Reg, MemorySizeExt } = iced;
type IcedInstruction = InstanceType<typeof iced.Instruction>;

/** Mnemonics whose handler does not depend on the operands' kinds. */
const BY_MNEMONIC = new Map<number, [Op, Cls]>([
  [M.Mov, [Op.Mov, Cls.Alu]],
  [M.Movzx, [Op.Movzx, Cls.Alu]],
  [M.Movsx, [Op.Movsx, Cls.Alu]],
  [M.Movsxd, [Op.Movsx, Cls.Alu]],
  [M.Lea, [Op.Lea, Cls.Lea]],
  [M.Xchg, [Op.Xchg, Cls.Alu]],
  [M.Add, [Op.Add, Cls.Alu]],
  [M.Or, [Op.Or, Cls.Alu]],
  [M.Adc, [Op.Adc, Cls.Alu]],
  [M.Sbb, [Op.Sbb, Cls.Alu]],
  [M.And, [Op.And, Cls.Alu]],
  [M.Sub, [Op.Sub, Cls.Alu]],
  [M.Xor, [Op.Xor, Cls.Alu]],
  [M.Cmp, [Op.Cmp, Cls.Alu]],
  [M.Test, [Op.Test, Cls.Alu]],
  [M.Inc, [Op.Inc, Cls.Alu]],
  [M.Dec, [Op.Dec, Cls.Alu]],
  [M.Neg, [Op.Neg, Cls.Alu]],
  [M.Not, [Op.Not, Cls.Alu]],
  [M.Shl, [Op.Shl, Cls.Shift]],
  [M.Sal, [Op.Shl, Cls.Shift]],
  [M.Shr, [Op.Shr, Cls.Shift]],
  [M.Sar, [Op.Sar, Cls.Shift]],
  [M.Rol, [Op.Rol, Cls.Shift]],
  [M.Ror, [Op.Ror, Cls.Shift]],
  [M.Rcl, [Op.Rcl, Cls.RotateCarry]],
  [M.Rcr, [Op.Rcr, Cls.RotateCarry]],
  [M.Shld, [Op.Shld, Cls.ShiftCl]],
  [M.Shrd, [Op.Shrd, Cls.ShiftCl]],
  [M.Mul, [Op.Mul, Cls.Mul]],
  [M.Imul, [Op.Imul, Cls.Mul]],
  [M.Div, [Op.Div, Cls.Div64]],
  [M.Idiv, [Op.Idiv, Cls.Div64]],
  [M.Cbw, [Op.Cbw, Cls.Alu]],
  [M.Cwde, [Op.Cbw, Cls.Alu]],
  [M.Cdqe, [Op.Cbw, Cls.Alu]],
  [M.Cwd, [Op.Cwd, Cls.Alu]],
  [M.Cdq, [Op.Cwd, Cls.Alu]],
  [M.Cqo, [Op.Cwd, Cls.Alu]],
  [M.Bt, [Op.Bt, Cls.Bits]],
  [M.Bts, [Op.Bts, Cls.Bits]],
  [M.Btr, [Op.Btr, Cls.Bits]],
  [M.Btc, [Op.Btc, Cls.Bits]],
  [M.Bsf, [Op.Bsf, Cls.Bits]],
  [M.Bsr, [Op.Bsr, Cls.Bits]],
  [M.Tzcnt, [Op.Tzcnt, Cls.Bits]],
  [M.Lzcnt, [Op.Lzcnt, Cls.Bits]],
  [M.Popcnt, [Op.Popcnt, Cls.Bits]],
  [M.Bswap, [Op.Bswap, Cls.Alu]],
  [M.Xadd, [Op.Xadd, Cls.Alu]],
  [M.Cmpxchg, [Op.Cmpxchg, Cls.Alu]],
  [M.Push, [Op.Push, Cls.Push]],
  [M.Pop, [Op.Pop, Cls.Pop]],
  [M.Call, [Op.Call, Cls.Call]],
  [M.Ret, [Op.Ret, Cls.Ret]],
  [M.Jmp, [Op.Jmp, Cls.BranchTaken]],
  [M.Leave, [Op.Leave, Cls.Pop]],
  [M.Cld, [Op.Cld, Cls.Alu]],
  [M.Std, [Op.Std, Cls.Alu]],
  [M.Clc, [Op.Clc, Cls.Alu]],
  [M.Stc, [Op.Stc, Cls.Alu]],
  [M.Cmc, [Op.Cmc, Cls.Alu]],
  [M.Lahf, [Op.Lahf, Cls.Alu]],
  [M.Sahf, [Op.Sahf, Cls.Alu]],
  [M.Pushfq, [Op.Pushf, Cls.Push]],
  [M.Popfq, [Op.Popf, Cls.Pop]],
  [M.Syscall, [Op.Syscall, Cls.Nop]],
  [M.Vmfunc, [Op.Vmfunc, Cls.Nop]],
  [M.Rdtsc, [Op.Rdtsc, Cls.Nop]],
  [M.Cpuid, [Op.Cpuid, Cls.Nop]],
  [M.Pause, [Op.Pause, Cls.Nop]],
  [M.Ud2, [Op.Ud2, Cls.Nop]],
  [M.Int3, [Op.Int3, Cls.Nop]],
  [M.Nop, [Op.Nop, Cls.Nop]],
  [M.Endbr64, [Op.Nop, Cls.Nop]],
  [M.Prefetcht0, [Op.Nop, Cls.Nop]],
  [M.Prefetcht1, [Op.Nop, Cls.Nop]],
  [M.Prefetcht2, [Op.Nop, Cls.Nop]],
  [M.Prefetchnta, [Op.Nop, Cls.Nop]],
  [M.Stosb, [Op.Stos, Cls.String]],
  [M.Stosw, [Op.Stos, Cls.String]],
  [M.Stosd, [Op.Stos, Cls.String]],
  [M.Stosq, [Op.Stos, Cls.String]],
  [M.Lodsb, [Op.Lods, Cls.String]],
  [M.Lodsw, [Op.Lods, Cls.String]],
  [M.Lodsd, [Op.Lods, Cls.String]],
  [M.Lodsq, [Op.Lods, Cls.String]],
  [M.Scasb, [Op.Scas, Cls.String]],
  [M.Scasw, [Op.Scas, Cls.String]],
  [M.Scasd, [Op.Scas, Cls.String]],
  [M.Scasq, [Op.Scas, Cls.String]],
  [M.Movsb, [Op.Movs, Cls.String]],
  [M.Movsw, [Op.Movs, Cls.String]],
  [M.Movsq, [Op.Movs, Cls.String]],
  [M.Cmpsb, [Op.Cmps, Cls.String]],
  [M.Cmpsw, [Op.Cmps, Cls.String]],
  [M.Cmpsq, [Op.Cmps, Cls.String]],
  // SSE/SSE2.
  [M.Movsd, [Op.Movsd, Cls.SseMove]],
  [M.Movq, [Op.MovqXmm, Cls.SseMove]],
  [M.Movd, [Op.MovqXmm, Cls.SseMove]],
  [M.Movapd, [Op.MovXmm, Cls.SseMove]],
  [M.Movaps, [Op.MovXmm, Cls.SseMove]],
  [M.Movdqa, [Op.MovXmm, Cls.SseMove]],
  [M.Movdqu, [Op.MovXmm, Cls.SseMove]],
  [M.Movups, [Op.MovXmm, Cls.SseMove]],
  [M.Movupd, [Op.MovXmm, Cls.SseMove]],
  [M.Addsd, [Op.Addsd, Cls.SseAdd]],
  [M.Subsd, [Op.Subsd, Cls.SseAdd]],
  [M.Mulsd, [Op.Mulsd, Cls.SseMul]],
  [M.Divsd, [Op.Divsd, Cls.SseDiv]],
  [M.Sqrtsd, [Op.Sqrtsd, Cls.SseSqrt]],
  [M.Minsd, [Op.Minsd, Cls.SseAdd]],
  [M.Maxsd, [Op.Maxsd, Cls.SseAdd]],
  [M.Cvtsi2sd, [Op.Cvtsi2sd, Cls.SseCvt]],
  [M.Cvttsd2si, [Op.Cvttsd2si, Cls.SseCvt]],
  [M.Cvtsd2si, [Op.Cvtsd2si, Cls.SseCvt]],
  [M.Ucomisd, [Op.Ucomisd, Cls.SseAdd]],
  [M.Comisd, [Op.Comisd, Cls.SseAdd]],
  [M.Xorpd, [Op.Xorpd, Cls.SseMove]],
  [M.Xorps, [Op.Xorpd, Cls.SseMove]],
  [M.Pxor, [Op.Xorpd, Cls.SseMove]],
  [M.Andpd, [Op.Andpd, Cls.SseMove]],
  [M.Andps, [Op.Andpd, Cls.SseMove]],
  [M.Pand, [Op.Andpd, Cls.SseMove]],
  [M.Andnpd, [Op.Andnpd, Cls.SseMove]],
  [M.Andnps, [Op.Andnpd, Cls.SseMove]],
  [M.Pandn, [Op.Andnpd, Cls.SseMove]],
  [M.Orpd, [Op.Orpd, Cls.SseMove]],
  [M.Orps, [Op.Orpd, Cls.SseMove]],
  [M.Por, [Op.Orpd, Cls.SseMove]],
  [M.Unpcklpd, [Op.Unpcklpd, Cls.SseShuffle]],
  [M.Punpcklqdq, [Op.Punpcklqdq, Cls.SseShuffle]],
  [M.Pmovmskb, [Op.Pmovmskb, Cls.SseShuffle]],
  [M.Movntdq, [Op.MovXmm, Cls.Store]],
  [M.Movntps, [Op.MovXmm, Cls.Store]],
  [M.Movntpd, [Op.MovXmm, Cls.Store]],
  [M.Movnti, [Op.Mov, Cls.Store]],
  [M.Lddqu, [Op.MovXmm, Cls.SseMove]],
  [M.Sfence, [Op.Nop, Cls.Store]],
  [M.Lfence, [Op.Nop, Cls.Store]],
  [M.Mfence, [Op.Nop, Cls.Store]],
  // Packed integer arithmetic (exec-sse-int.ts).
  [M.Paddb, [Op.Paddb, Cls.SseMove]],
  [M.Paddw, [Op.Paddw, Cls.SseMove]],
  [M.Paddd, [Op.Paddd, Cls.SseMove]],
  [M.Paddq, [Op.Paddq, Cls.SseMove]],
  [M.Psubb, [Op.Psubb, Cls.SseMove]],
  [M.Psubw, [Op.Psubw, Cls.SseMove]],
  [M.Psubd, [Op.Psubd, Cls.SseMove]],
  [M.Psubq, [Op.Psubq, Cls.SseMove]],
  [M.Paddsb, [Op.Paddsb, Cls.SseAdd]],
  [M.Paddsw, [Op.Paddsw, Cls.SseAdd]],
  [M.Paddusb, [Op.Paddusb, Cls.SseAdd]],
  [M.Paddusw, [Op.Paddusw, Cls.SseAdd]],
  [M.Psubsb, [Op.Psubsb, Cls.SseAdd]],
  [M.Psubsw, [Op.Psubsw, Cls.SseAdd]],
  [M.Psubusb, [Op.Psubusb, Cls.SseAdd]],
  [M.Psubusw, [Op.Psubusw, Cls.SseAdd]],
  [M.Pcmpeqb, [Op.Pcmpeqb, Cls.SseAdd]],
  [M.Pcmpeqw, [Op.Pcmpeqw, Cls.SseAdd]],
  [M.Pcmpeqd, [Op.Pcmpeqd, Cls.SseAdd]],
  [M.Pcmpgtb, [Op.Pcmpgtb, Cls.SseAdd]],
  [M.Pcmpgtw, [Op.Pcmpgtw, Cls.SseAdd]],
  [M.Pcmpgtd, [Op.Pcmpgtd, Cls.SseAdd]],
  [M.Pminub, [Op.Pminub, Cls.SseAdd]],
  [M.Pmaxub, [Op.Pmaxub, Cls.SseAdd]],
  [M.Pminsw, [Op.Pminsw, Cls.SseAdd]],
  [M.Pmaxsw, [Op.Pmaxsw, Cls.SseAdd]],
  [M.Pavgb, [Op.Pavgb, Cls.SseAdd]],
  [M.Pavgw, [Op.Pavgw, Cls.SseAdd]],
  [M.Pmullw, [Op.Pmullw, Cls.SseMul]],
  [M.Pmulhw, [Op.Pmulhw, Cls.SseMul]],
  [M.Pmulhuw, [Op.Pmulhuw, Cls.SseMul]],
  [M.Pmuludq, [Op.Pmuludq, Cls.SseMul]],
  [M.Pmaddwd, [Op.Pmaddwd, Cls.SseMul]],
  [M.Psadbw, [Op.Psadbw, Cls.SseShuffle]],
  // Shifts (by imm8: SseAdd, set below; by XMM: SseShuffle), shuffles (exec-sse-shuffle.ts).
  [M.Psllw, [Op.Psllw, Cls.SseShuffle]],
  [M.Pslld, [Op.Pslld, Cls.SseShuffle]],
  [M.Psllq, [Op.Psllq, Cls.SseShuffle]],
  [M.Psrlw, [Op.Psrlw, Cls.SseShuffle]],
  [M.Psrld, [Op.Psrld, Cls.SseShuffle]],
  [M.Psrlq, [Op.Psrlq, Cls.SseShuffle]],
  [M.Psraw, [Op.Psraw, Cls.SseShuffle]],
  [M.Psrad, [Op.Psrad, Cls.SseShuffle]],
  [M.Pslldq, [Op.Pslldq, Cls.SseShuffle]],
  [M.Psrldq, [Op.Psrldq, Cls.SseShuffle]],
  [M.Pshufd, [Op.Pshufd, Cls.SseShuffle]],
  [M.Pshuflw, [Op.Pshuflw, Cls.SseShuffle]],
  [M.Pshufhw, [Op.Pshufhw, Cls.SseShuffle]],
  [M.Punpcklbw, [Op.Punpcklbw, Cls.SseShuffle]],
  [M.Punpcklwd, [Op.Punpcklwd, Cls.SseShuffle]],
  [M.Punpckldq, [Op.Punpckldq, Cls.SseShuffle]],
  [M.Punpckhbw, [Op.Punpckhbw, Cls.SseShuffle]],
  [M.Punpckhwd, [Op.Punpckhwd, Cls.SseShuffle]],
  [M.Punpckhdq, [Op.Punpckhdq, Cls.SseShuffle]],
  [M.Punpckhqdq, [Op.Punpckhqdq, Cls.SseShuffle]],
  [M.Unpcklps, [Op.Punpckldq, Cls.SseShuffle]],
  [M.Unpckhps, [Op.Punpckhdq, Cls.SseShuffle]],
  [M.Unpckhpd, [Op.Punpckhqdq, Cls.SseShuffle]],
  [M.Packsswb, [Op.Packsswb, Cls.SseShuffle]],
  [M.Packssdw, [Op.Packssdw, Cls.SseShuffle]],
  [M.Packuswb, [Op.Packuswb, Cls.SseShuffle]],
  [M.Pextrw, [Op.Pextrw, Cls.SseShuffle]],
  [M.Pinsrw, [Op.Pinsrw, Cls.SseInsert]],
  [M.Movhlps, [Op.Movhlps, Cls.SseShuffle]],
  [M.Movlhps, [Op.Movlhps, Cls.SseShuffle]],
  [M.Shufps, [Op.Shufps, Cls.SseShuffle]],
  [M.Shufpd, [Op.Shufpd, Cls.SseShuffle]],
  [M.Movmskps, [Op.Movmskps, Cls.SseShuffle]],
  [M.Movmskpd, [Op.Movmskpd, Cls.SseShuffle]],
  // Single precision and packed floating point (exec-sse-float.ts).
  [M.Movss, [Op.Movss, Cls.SseMove]],
  [M.Addss, [Op.Addss, Cls.SseAdd]],
  [M.Subss, [Op.Subss, Cls.SseAdd]],
  [M.Mulss, [Op.Mulss, Cls.SseMul]],
  [M.Divss, [Op.Divss, Cls.SseDivSingle]],
  [M.Sqrtss, [Op.Sqrtss, Cls.SseSqrtSingle]],
  [M.Minss, [Op.Minss, Cls.SseAdd]],
  [M.Maxss, [Op.Maxss, Cls.SseAdd]],
  [M.Addps, [Op.Addps, Cls.SseAdd]],
  [M.Subps, [Op.Subps, Cls.SseAdd]],
  [M.Mulps, [Op.Mulps, Cls.SseMul]],
  [M.Divps, [Op.Divps, Cls.SseDivSingle]],
  [M.Sqrtps, [Op.Sqrtps, Cls.SseSqrtSingle]],
  [M.Minps, [Op.Minps, Cls.SseAdd]],
  [M.Maxps, [Op.Maxps, Cls.SseAdd]],
  [M.Addpd, [Op.Addpd, Cls.SseAdd]],
  [M.Subpd, [Op.Subpd, Cls.SseAdd]],
  [M.Mulpd, [Op.Mulpd, Cls.SseMul]],
  [M.Divpd, [Op.Divpd, Cls.SseDiv]],
  [M.Sqrtpd, [Op.Sqrtpd, Cls.SseSqrt]],
  [M.Minpd, [Op.Minpd, Cls.SseAdd]],
  [M.Maxpd, [Op.Maxpd, Cls.SseAdd]],
  [M.Cmpss, [Op.Cmpss, Cls.SseAdd]],
  [M.Cmpps, [Op.Cmpps, Cls.SseAdd]],
  [M.Cmpsd, [Op.CmpsdXmm, Cls.SseAdd]],
  [M.Cmppd, [Op.Cmppd, Cls.SseAdd]],
  [M.Ucomiss, [Op.Ucomiss, Cls.SseAdd]],
  [M.Comiss, [Op.Comiss, Cls.SseAdd]],
  [M.Cvtss2sd, [Op.Cvtss2sd, Cls.SseCvt]],
  [M.Cvtsd2ss, [Op.Cvtsd2ss, Cls.SseCvt]],
  [M.Cvtsi2ss, [Op.Cvtsi2ss, Cls.SseCvt]],
  [M.Cvttss2si, [Op.Cvttss2si, Cls.SseCvt]],
  [M.Cvtss2si, [Op.Cvtss2si, Cls.SseCvt]],
  [M.Cvtdq2pd, [Op.Cvtdq2pd, Cls.SseCvt]],
  [M.Cvtdq2ps, [Op.Cvtdq2ps, Cls.SseAdd]],
  [M.Cvtpd2ps, [Op.Cvtpd2ps, Cls.SseCvt]],
  [M.Cvtps2pd, [Op.Cvtps2pd, Cls.SseCvt]],
  [M.Cvttpd2dq, [Op.Cvttpd2dq, Cls.SseCvt]],
  [M.Cvtpd2dq, [Op.Cvtpd2dq, Cls.SseCvt]],
  [M.Cvttps2dq, [Op.Cvttps2dq, Cls.SseAdd]],
  [M.Cvtps2dq, [Op.Cvtps2dq, Cls.SseAdd]],
  [M.Movhpd, [Op.Movhpd, Cls.SseMove]],
  [M.Movhps, [Op.Movhpd, Cls.SseMove]],
  [M.Movlpd, [Op.Movlpd, Cls.SseMove]],
  [M.Movlps, [Op.Movlpd, Cls.SseMove]],
]);

/** Instructions that exist but fault with #GP(0) at CPL 3 (SDM Vol. 2: "If the CPL is
 *  greater than 0"; IN/OUT with IOPL 0 < CPL). */
const PRIVILEGED = new Set<number>([
  M.Hlt,
  M.Cli,
  M.Sti,
  M.Lgdt,
  M.Lidt,
  M.Lldt,
  M.Ltr,
  M.Wrmsr,
  M.Rdmsr,
  M.Invlpg,
  M.Invpcid,
  M.Wbinvd,
  M.Invd,
  M.Clts,
  M.Lmsw,
  M.Swapgs,
  M.Sysret,
  M.Sysretq,
  M.In,
  M.Out,
  M.Insb,
  M.Insw,
  M.Insd,
  M.Outsb,
  M.Outsw,
  M.Outsd,
  M.Rdpmc,
  M.Xsetbv,
  M.Mwait,
  M.Monitor,
  M.Invept,
  M.Invvpid,
]);

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
