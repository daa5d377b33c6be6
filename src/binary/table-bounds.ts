// The bound on a jump table's index (jump-tables.ts): the guarding unsigned compare, found by
// walking back through straight-line code (chunk-flow.ts). `cmp $N, %idx; ja default` lets
// N + 1 entries through (`jae`: N). The index may be zero-extended between the compare and
// its use (`mov %e?x,%e?x`, `movzx`), loaded from the memory the compare read (`cmpb $N, M;
// ja; movzbl M, %idx`), or compared narrower than it is used when its upper bits are known
// zero on every path (SDM Vol. 1, 3.4.1.1: a 32-bit register write clears the upper half).
import { ChunkCode, full } from './chunk-flow.ts';
import { Code, Mnemonic, OpKind, RegisterExt, Register, type IcedInstruction } from './iced.ts';
import { hex } from './image.ts';

/** More entries than this is taken as a misread bound (and ends a table without one). */
export const MAX_ENTRIES = 1 << 16;

const width = (r: number): number => RegisterExt.size(r) * 8;
const isReg = (i: IcedInstruction, k: number): boolean => i.opKind(k) === OpKind.Register;
const reg = (i: IcedInstruction, k: number): number => (k === 0 ? i.op0Register : i.op1Register);

/** The bound on index register `idx` (full register) as the jump at k sees it: entry count. */
export function boundOf(cc: ChunkCode, k: number, idx: number): number | string {
  // The value's bits that matter: after `mov %e.., %e..` or movzx only the low ones.
  let fam = idx;
  let bits = 64;
  for (let j = cc.before(k); j !== undefined; j = cc.before(j)) {
    const ins = cc.list[j];
    const m = ins.mnemonic;
    if ((m === Mnemonic.Ja || m === Mnemonic.Jae) && j > 0 && cc.before(j) === j - 1) {
      const cmp = cc.list[j - 1];
      if (
        cmp.mnemonic !== Mnemonic.Cmp ||
        !isReg(cmp, 0) ||
        full(cmp.op0Register) !== fam ||
        (cmp.opKind(1) !== OpKind.Immediate8to32 &&
          cmp.opKind(1) !== OpKind.Immediate8to64 &&
          cmp.opKind(1) !== OpKind.Immediate32 &&
          cmp.opKind(1) !== OpKind.Immediate32to64 &&
          cmp.opKind(1) !== OpKind.Immediate8)
      )
        continue; // another test; keep looking
      const w = width(cmp.op0Register);
      // A narrower compare bounds the index if its upper bits are known zero.
      if (w < bits && !zeroExtended(cc, j - 1, fam, w))
        return `the bound \`cmp\` at ${hex(cmp.ip)} tests ${w} bits of an index used with ${bits}, and the upper ones are not shown zero`;
      const n = cmp.immediate(1) & ((1n << BigInt(w)) - 1n);
      const count = m === Mnemonic.Ja ? n + 1n : n;
      if (count > BigInt(MAX_ENTRIES)) return `the bound at ${hex(cmp.ip)} allows ${count} entries`;
      return Number(count);
    }
    if (!cc.writes(j).has(fam)) continue;
    // A zero-extending move: the index is the source's low bits.
    const zext =
      (ins.code === Code.Mov_r32_rm32 || ins.code === Code.Mov_rm32_r32) && isReg(ins, 1);
    const movzx =
      (ins.code === Code.Movzx_r32_rm8 || ins.code === Code.Movzx_r32_rm16) && isReg(ins, 1);
    const load =
      (ins.code === Code.Movzx_r32_rm8 ||
        ins.code === Code.Movzx_r32_rm16 ||
        ins.code === Code.Mov_r32_rm32) &&
      ins.opKind(1) === OpKind.Memory;
    if (load && full(reg(ins, 0)) === fam) return memoryBound(cc, j);
    if ((zext || movzx) && full(reg(ins, 0)) === fam) {
      fam = full(reg(ins, 1));
      bits = Math.min(bits, width(reg(ins, 1)));
      continue;
    }
    return `the index ${Register[fam] ?? fam} is set at ${hex(ins.ip)} by \`${ins.toString()}\` after any bound check`;
  }
  return 'no `cmp $N, index` / `ja` bounds the index on the straight-line path to it';
}

const sameMemory = (a: IcedInstruction, b: IcedInstruction): boolean =>
  a.memoryBase === b.memoryBase &&
  a.memoryIndex === b.memoryIndex &&
  a.memoryIndexScale === b.memoryIndexScale &&
  a.memoryDisplacementU64 === b.memoryDisplacementU64 &&
  a.memorySegment === b.memorySegment &&
  a.memorySize === b.memorySize &&
  !a.isIpRelMemoryOperand;

/**
 * The index was loaded from memory (zero-extended) at k: gcc bounds it by comparing the same
 * memory right before, `cmpb $N, M; ja default; movzbl M, %idx`. Nothing between the compare
 * and the load writes (a `ja`), so the loaded value is the compared one.
 */
function memoryBound(cc: ChunkCode, k: number): number | string {
  const load = cc.list[k];
  const j = cc.before(k);
  const i = j === undefined ? undefined : cc.before(j);
  const jcc = j === undefined ? undefined : cc.list[j];
  const cmp = i === undefined ? undefined : cc.list[i];
  if (
    jcc === undefined ||
    cmp === undefined ||
    (jcc.mnemonic !== Mnemonic.Ja && jcc.mnemonic !== Mnemonic.Jae) ||
    cmp.mnemonic !== Mnemonic.Cmp ||
    cmp.opKind(0) !== OpKind.Memory ||
    !sameMemory(cmp, load) ||
    cc.writes(i!).size > 0
  )
    return `the index is loaded from memory at ${hex(load.ip)} without \`cmp\` of the same memory and \`ja\` right before`;
  const w = load.code === Code.Movzx_r32_rm8 ? 8 : load.code === Code.Movzx_r32_rm16 ? 16 : 32;
  const n = cmp.immediate(1) & ((1n << BigInt(w)) - 1n);
  const count = jcc.mnemonic === Mnemonic.Ja ? n + 1n : n;
  if (count > BigInt(MAX_ENTRIES)) return `the bound at ${hex(cmp.ip)} allows ${count} entries`;
  return Number(count);
}

/** Bits of `fam` a write leaves possibly non-zero: all but zero-extending writes. */
function significantBits(ins: IcedInstruction, fam: number): number {
  if (ins.opCount === 0 || !isReg(ins, 0) || full(ins.op0Register) !== fam) return 64;
  if (ins.code === Code.Movzx_r32_rm8 || ins.code === Code.Movzx_r64_rm8) return 8;
  if (ins.code === Code.Movzx_r32_rm16 || ins.code === Code.Movzx_r64_rm16) return 16;
  // Writing a 32-bit register clears the upper half (SDM Vol. 1, 3.4.1.1).
  return width(ins.op0Register) === 32 ? 32 : 64;
}

/** True if, on every path to k, `fam` was last written leaving only its low `w` bits set. */
function zeroExtended(cc: ChunkCode, k: number, fam: number, w: number): boolean {
  const defs = cc.reaching(k, fam);
  return (
    defs !== undefined &&
    defs.length > 0 &&
    defs.every((j) => significantBits(cc.list[j], fam) <= w)
  );
}
