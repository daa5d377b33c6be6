// String instructions (SDM Vol. 2 MOVS, STOS, LODS, SCAS, CMPS, and REP/REPE/REPNE): one
// element per iteration, RSI/RDI stepped by DF, RCX counted down. A fault in the middle
// leaves the registers at the faulting iteration with RIP at the instruction, so it
// restarts where it stopped (SDM Vol. 2 "REP": the instruction is restartable).
// Instruction counts follow valgrind's convention (each iteration is one instruction, and a
// REP that ends because RCX is 0 counts once more), so that a guest's count can be compared
// with what valgrind reports for the same binary on the host.

import { Vector } from '../traps.ts';
import { arith } from './exec-int.ts';
import { Cls, type Insn, K, Op } from './insn.ts';
import { Done, type Interpreter } from './interpreter.ts';

const RAX = 0;
const RCX = 1;
const RSI = 6;
const RDI = 7;
const TWO32 = 4294967296;

function addr(it: Interpreter, r: number, seg: number): number {
  const regs = it.core.regs;
  let lo = regs.lo[r]! >>> 0;
  let hi = regs.hi[r]!;
  if (seg !== 0) {
    const b = seg === 1 ? it.fsBase : it.core.gsBase;
    const bh = Math.floor(b / TWO32);
    lo += b - bh * TWO32;
    hi = (hi + bh + (lo >= TWO32 ? 1 : 0)) | 0;
    lo = lo >>> 0;
  }
  return it.canonical(lo, hi, Vector.GP);
}

function step(it: Interpreter, r: number, delta: number): void {
  const regs = it.core.regs;
  const l = (regs.lo[r]! >>> 0) + delta;
  regs.lo[r] = l | 0;
  regs.hi[r] = (regs.hi[r]! + (l >= TWO32 ? 1 : l < 0 ? -1 : 0)) | 0;
}

/** One element; returns false when a REPE/REPNE condition ends the repetition. */
function once(it: Interpreter, d: Insn, delta: number): boolean {
  const size = d.size;
  const regs = it.core.regs;
  switch (d.op) {
    case Op.Movs: {
      it.read(addr(it, RSI, d.seg), size);
      it.write(addr(it, RDI, 0), size, it.vLo, it.vHi);
      step(it, RSI, delta);
      step(it, RDI, delta);
      return true;
    }
    case Op.Stos:
      it.write(addr(it, RDI, 0), size, regs.lo[RAX]!, regs.hi[RAX]!);
      step(it, RDI, delta);
      return true;
    case Op.Lods:
      it.read(addr(it, RSI, d.seg), size);
      it.put(d, K.Reg, RAX, size, it.vLo, it.vHi);
      step(it, RSI, delta);
      return true;
    case Op.Scas: {
      it.get(d, K.Reg, RAX, size);
      const aLo = it.vLo;
      const aHi = it.vHi;
      it.read(addr(it, RDI, 0), size);
      compare(it, size, aLo, aHi, it.vLo, it.vHi);
      step(it, RDI, delta);
      return d.rep === 0 || (d.rep === 1) === it.flags.zf();
    }
    default: {
      it.read(addr(it, RSI, d.seg), size);
      const aLo = it.vLo;
      const aHi = it.vHi;
      it.read(addr(it, RDI, 0), size);
      compare(it, size, aLo, aHi, it.vLo, it.vHi);
      step(it, RSI, delta);
      step(it, RDI, delta);
      return d.rep === 0 || (d.rep === 1) === it.flags.zf();
    }
  }
}

function compare(
  it: Interpreter,
  size: number,
  aLo: number,
  aHi: number,
  bLo: number,
  bHi: number,
): void {
  arith(it, size, true, 0, aLo, aHi, bLo, bHi);
}

export function execString(it: Interpreter, d: Insn): Done {
  const delta = (it.core.rflags & 0x400) !== 0 ? -d.size : d.size;
  if (d.rep === 0) {
    once(it, d, delta);
    return Done.Next;
  }
  // REP is valid only on MOVS/STOS/LODS (and INS/OUTS); on them REPNE acts as REP.
  const conditional = d.op === Op.Scas || d.op === Op.Cmps;
  const regs = it.core.regs;
  let n = 0;
  let byCondition = false;
  for (;;) {
    // Room for the next iteration, or for the final count when RCX is 0: if the budget has
    // none, stop between iterations (restartable, as after an interrupt).
    if (n + 1 > it.left) {
      if (n > 0) it.retireExtra(Cls.String, n);
      return Done.Partial;
    }
    if ((regs.lo[RCX]! | regs.hi[RCX]!) === 0) break;
    const go = conditional ? once(it, d, delta) : (once(it, d, delta), true);
    step(it, RCX, -1);
    n++;
    if (!go) {
      byCondition = true;
      break;
    }
  }
  // The main loop counts the instruction once; the iterations before add theirs.
  if (n > 0) it.retireExtra(Cls.String, byCondition ? n - 1 : n);
  return Done.Next;
}
