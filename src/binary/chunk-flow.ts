// The instructions of one function (code chunk) with enough control flow to say where a
// register's value comes from, for jump-tables.ts. Predecessors of an instruction: the one
// before it if that one falls through, the chunk's own direct branches to it, and the jumps of
// tables already resolved that lead to it. An instruction reached in any other way (a branch
// from another chunk, an address taken for a computed goto or stored in data: `entries`), and
// the chunk's first instruction, have unknown predecessors, so nothing is concluded across
// them; one with no predecessor is unreachable (padding). Calls count as writing the
// caller-saved registers (psABI, "Registers").
import type { Chunk } from './code-map.ts';
import {
  Decoder,
  DecoderOptions,
  FlowControl,
  InstructionInfoFactory,
  Register,
  RegisterExt,
  type IcedInstruction,
} from './iced.ts';
import { hasNearBranchOperand } from './instruction-fields.ts';
import type { TableRef } from './jump-tables.ts';

// OpAccess (iced): Write, CondWrite, ReadWrite, ReadCondWrite.
const WRITES = new Set([3, 4, 5, 6]);
const CALLER_SAVED = new Set<number>([
  Register.RAX,
  Register.RCX,
  Register.RDX,
  Register.RSI,
  Register.RDI,
  Register.R8,
  Register.R9,
  Register.R10,
  Register.R11,
]);
// A backward search visits at most this many instructions (a huge interpreter function).
const MAX_VISITS = 200_000;

export const full = (r: number): number => (RegisterExt.isGPR(r) ? RegisterExt.fullRegister(r) : r);

function fallsThrough(i: IcedInstruction): boolean {
  const f = i.flowControl;
  return (
    f !== FlowControl.UnconditionalBranch &&
    f !== FlowControl.IndirectBranch &&
    f !== FlowControl.Return &&
    f !== FlowControl.Exception
  );
}

export class ChunkCode {
  readonly list: IcedInstruction[];
  readonly index = new Map<bigint, number>();
  private readonly factory = new InstructionInfoFactory();
  private readonly written = new Map<number, Set<number>>();
  /** Predecessors by branch or table jump (not fall-through), per instruction index. */
  private readonly jumpsIn = new Map<number, number[]>();
  /** Instructions entered in unknown ways (the start: from callers). */
  private readonly unknown = new Set<number>();
  private readonly entered = new Set<number>();

  constructor(
    readonly chunk: Chunk,
    private readonly bytes: Uint8Array,
    entries: (a: bigint) => boolean,
  ) {
    const d = new Decoder(64, bytes, DecoderOptions.None);
    d.ip = chunk.start;
    this.list = d.decodeAll();
    d.free();
    this.list.forEach((i, k) => {
      this.index.set(i.ip, k);
      if (entries(i.ip)) this.entered.add(k);
    });
    this.list.forEach((i, k) => {
      if (!hasNearBranchOperand(i)) return;
      const t = this.index.get(i.nearBranchTarget);
      if (t !== undefined) this.addEdge(k, t);
      else if (i.nearBranchTarget >= chunk.start && i.nearBranchTarget < chunk.end)
        this.unknown.add(this.list.findIndex((x) => x.nextIP > i.nearBranchTarget)); // into an instruction
    });
    for (const k of this.entered) this.unknown.add(k);
    this.unknown.add(0);
  }

  free(): void {
    for (const i of this.list) i.free();
    this.factory.free();
  }

  addEdge(from: number, to: number): void {
    const l = this.jumpsIn.get(to);
    if (l) {
      if (!l.includes(from)) l.push(from);
    } else this.jumpsIn.set(to, [from]);
  }

  /** Full registers instruction k writes (a call: the caller-saved ones too). */
  writes(k: number): Set<number> {
    let w = this.written.get(k);
    if (w) return w;
    w = new Set<number>();
    const ins = this.list[k];
    const info = this.factory.info(ins);
    for (const u of info.usedRegisters()) {
      if (WRITES.has(u.access)) w.add(full(u.register));
      u.free();
    }
    info.free();
    if (ins.flowControl === FlowControl.Call || ins.flowControl === FlowControl.IndirectCall)
      for (const r of CALLER_SAVED) w.add(r);
    this.written.set(k, w);
    return w;
  }

  /**
   * Every predecessor of k, or undefined when some are unknown. An instruction with none is
   * unreachable (alignment padding) once every indirect jump of the function has its edges;
   * until then it may be a target of one not resolved yet, which is why jump-tables.ts
   * checks every jump again once all are.
   */
  preds(k: number): number[] | undefined {
    if (this.unknown.has(k)) return undefined;
    const out = [...(this.jumpsIn.get(k) ?? [])];
    if (k > 0 && fallsThrough(this.list[k - 1])) out.push(k - 1);
    return out;
  }

  /** The instruction before k when it is k's only predecessor (straight-line code). */
  before(k: number): number | undefined {
    if (this.unknown.has(k) || this.jumpsIn.has(k)) return undefined;
    const p = this.preds(k);
    return p?.length === 1 && p[0] === k - 1 ? p[0] : undefined;
  }

  /** The last instruction before k, on the straight-line path, that writes `r`. */
  defBefore(k: number, r: number): number | undefined {
    for (let j = this.before(k); j !== undefined; j = this.before(j))
      if (this.writes(j).has(r)) return j;
    return undefined;
  }

  /**
   * The instructions whose write of `r` may be the value `r` holds when k runs: the first
   * write met on every path back from k. Undefined when some path reaches an instruction
   * entered in an unknown way, or the function's start, first.
   */
  reaching(k: number, r: number): number[] | undefined {
    const got = this.search(k, r);
    return got.fromStart || got.unknown ? undefined : got.defs;
  }

  /**
   * True if `r` at k holds what the caller passed on every path: back from k, every path
   * reaches the function's start (entered by calls or tail jumps, direct or through a
   * pointer; no other way in known) with no write.
   */
  fromCaller(k: number, r: number): boolean {
    const got = this.search(k, r);
    return got.fromStart && !got.unknown && got.defs.length === 0;
  }

  private search(k: number, r: number): { defs: number[]; fromStart: boolean; unknown: boolean } {
    const seen = new Set<number>([k]);
    const defs: number[] = [];
    const stack = [k];
    let fromStart = false;
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (seen.size > MAX_VISITS) return { defs, fromStart, unknown: true };
      if (n === 0) fromStart = true;
      const p = this.preds(n);
      if (!p) {
        if (n !== 0 || this.jumpsIn.has(0)) return { defs, fromStart, unknown: true };
        continue;
      }
      for (const j of p) {
        if (seen.has(j)) continue;
        seen.add(j);
        if (this.writes(j).has(r)) defs.push(j);
        else stack.push(j);
      }
    }
    return { defs, fromStart, unknown: false };
  }

  fileOffset(k: number): number {
    return this.chunk.fileOffset + Number(this.list[k].ip - this.chunk.start);
  }

  /** Where instruction k's displacement field is (a table's address in it). */
  ref(k: number): TableRef {
    const ins = this.list[k];
    // Constant offsets need a decoder positioned on the instruction: decode it again.
    const o = Number(ins.ip - this.chunk.start);
    const dec = new Decoder(64, this.bytes.subarray(o, o + ins.length), DecoderOptions.None);
    dec.ip = ins.ip;
    const again = dec.decode();
    const co = dec.getConstantOffsets(again);
    const out = {
      ip: ins.ip,
      next: ins.nextIP,
      fileOffset: this.fileOffset(k),
      field: co.displacementOffset,
      size: co.displacementSize,
    };
    co.free();
    again.free();
    dec.free();
    return out;
  }
}
