// Rewriting the code sites of one file (rewriter.ts): per site, an in-place re-encoding of
// the same length (in-place.ts), else moving a run of whole instructions to the new executable
// segment (relocate.ts). Collects the patches, the moved blocks and what verify.ts checks.
import { containsVmfuncBytes } from './byte-search.ts';
import { knownTargets } from './branch-targets.ts';
import type { ElfFile } from './elf-types.ts';
import type { AppendPlan, Patch } from './elf-writer.ts';
import {
  Decoder,
  DecoderOptions,
  Formatter,
  FormatterSyntax,
  type IcedInstruction,
} from './iced.ts';
import { inPlaceAlternatives, nopShiftAlternatives, type InPlaceEdit } from './in-place.ts';
import { planStep, relocate, type Relocation, type Step } from './relocate.ts';
import type { ElfScan } from './scanner.ts';
import { decodeRun, fieldsByAddress, freeAll, possiblyData, type Site } from './site.ts';
import type { EditRecord } from './verify.ts';

export interface Change {
  /** Address of the first instruction changed. */
  address: bigint;
  strategy: 'vmfunc-to-ud2' | 'swap-operand-form' | 'nop-shift' | 'relocated';
  /** Addresses of the occurrences this change removes. */
  occurrences: bigint[];
  before: string[];
  after: string[];
  /** For 'relocated': where the equivalent code now lives. */
  movedTo?: bigint;
  /**
   * For 'relocated': the moved run, split after each call that is not its last instruction
   * (the callee returns to the original return address, where a second jump continues).
   */
  segments?: { from: bigint; to: bigint; movedTo: bigint }[];
  /** Set when an occurrence this change removes may lie in data (see Occurrence.possiblyData). */
  possiblyData?: string;
}

export class Rewrite {
  readonly patches: Patch[] = [];
  readonly changes: Change[] = [];
  readonly record: EditRecord = { inPlace: [], moved: [] };
  readonly blocks: Uint8Array[] = [];
  codeSize = 0;
  private targets: Set<bigint> | undefined;
  private readonly fmt = new Formatter(FormatterSyntax.Gas);
  readonly owned: IcedInstruction[] = [];
  readonly relocations = new Map<Change, Relocation[]>();
  /** Set when a site could only be rewritten by moving code, and there is no plan. */
  neededPlan = false;

  constructor(
    readonly elf: ElfFile,
    readonly scan: ElfScan,
    readonly plan: AppendPlan | undefined,
  ) {
    this.fmt.uppercaseHex = false;
    this.fmt.branchLeadingZeros = false;
  }

  free(): void {
    this.fmt.free();
    freeAll(this.owned);
  }

  text(i: IcedInstruction): string {
    return this.fmt.format(i);
  }

  toFile(addr: bigint): number {
    const seg = this.scan.maps.find(
      (m) => m.segment.vaddr <= addr && addr < m.segment.vaddr + m.segment.filesz,
    )!.segment;
    return Number(seg.offset + (addr - seg.vaddr));
  }

  /** The bytes of [start, end) and of the edit, with 2 neighbours each side, after the edit. */
  private window(start: bigint, end: bigint, at: bigint, bytes: Uint8Array): Uint8Array {
    const lo = at < start ? at : start;
    const editEnd = at + BigInt(bytes.length);
    const hi = editEnd > end ? editEnd : end;
    const off = this.toFile(lo) - 2;
    // A copy: elf.bytes may be a Node Buffer, whose slice() is a view onto the caller's input.
    const w = Uint8Array.from(this.elf.bytes.subarray(off, this.toFile(lo) + Number(hi - lo) + 2));
    w.set(bytes, this.toFile(at) - off);
    return w;
  }

  private knownTargets(): Set<bigint> {
    this.targets ??= knownTargets(this.elf, this.scan.maps);
    this.record.targets = this.targets;
    return this.targets;
  }

  private inPlace(s: Site, edit: InPlaceEdit, ins: IcedInstruction, before: string[]): void {
    this.patches.push({ fileOffset: this.toFile(edit.address), bytes: edit.bytes });
    this.record.inPlace.push({ edit, orig: ins });
    const after =
      edit.strategy === 'vmfunc-to-ud2'
        ? ['ud2', ...Array<string>(edit.bytes.length - 2).fill('nop')]
        : edit.strategy === 'nop-shift'
          ? this.describe(edit.bytes, edit.address)
          : [];
    this.changes.push({
      address: edit.address,
      strategy: edit.strategy,
      occurrences: s.occs.map((o) => o.address),
      before,
      after,
      possiblyData: possiblyData(s.occs),
    });
  }

  private describe(bytes: Uint8Array, ip: bigint): string[] {
    const d = new Decoder(64, bytes, DecoderOptions.None);
    d.ip = ip;
    const list = d.decodeAll() as IcedInstruction[];
    d.free();
    try {
      return list.map((i) => this.text(i));
    } finally {
      freeAll(list);
    }
  }

  /** Rewrites one site, or returns why it cannot. */
  site(s: Site): string | undefined {
    const chunk = s.map.chunks[s.chunk];
    const { prev, run } = decodeRun(this.elf.bytes, chunk, s.start, s.end, 6);
    this.owned.push(...run);
    if (prev) this.owned.push(prev);
    const siteIns = run.filter((i) => i.ip < s.end);
    for (const ins of siteIns) {
      for (const alt of inPlaceAlternatives(ins)) {
        if (containsVmfuncBytes(this.window(s.start, s.end, alt.address, alt.bytes))) continue;
        this.inPlace(s, alt, ins, [this.text(ins)]);
        return undefined;
      }
    }
    for (let k = 0; k < siteIns.length; k++) {
      const ins = siteIns[k];
      const before = k === 0 ? prev : run[k - 1];
      const after = run[k + 1];
      for (const alt of nopShiftAlternatives(before, ins, after)) {
        if (this.knownTargets().has(alt.lost!)) continue;
        // The NOP must lie in the same code chunk (never across a function start).
        if (alt.address < chunk.start || alt.address + BigInt(alt.bytes.length) > chunk.end)
          continue;
        if (containsVmfuncBytes(this.window(s.start, s.end, alt.address, alt.bytes))) continue;
        const nop = alt.address < ins.ip ? before! : after!;
        const pair = alt.address < ins.ip ? [nop, ins] : [ins, nop];
        this.inPlace(
          s,
          alt,
          ins,
          pair.map((i) => this.text(i)),
        );
        return undefined;
      }
    }
    return this.move(s, run, siteIns.length);
  }

  private move(s: Site, run: IcedInstruction[], minCount: number): string | undefined {
    if (!this.plan) {
      this.neededPlan = true;
      return 'moving code needs a new segment, which this file cannot get';
    }
    const fields = fieldsByAddress(s.occs);
    // The run is split after every call that is not its last instruction: the callee returns
    // to the original return address, so a second `jmp` there continues in the next block.
    // Every segment needs 5 bytes for its jump; extend the last one with following
    // instructions until it has them.
    const lastSegmentStart = (n: number): bigint => {
      let at = s.start;
      for (let k = 0; k < n - 1; k++) if (run[k].isCallNear) at = run[k].nextIP;
      return at;
    };
    let n = minCount;
    while (n < run.length && run[n - 1].nextIP - lastSegmentStart(n) < 5n) n++;
    const chosen = run.slice(0, n);
    const runEnd = chosen[n - 1].nextIP;
    if (runEnd > s.map.chunks[s.chunk].end) return 'the run to move would leave its code chunk';
    const segments: IcedInstruction[][] = [[]];
    for (let k = 0; k < n; k++) {
      segments[segments.length - 1].push(chosen[k]);
      if (chosen[k].isCallNear && k < n - 1) segments.push([]);
    }
    const stepsOf: Step[][] = [];
    for (const seg of segments) {
      const steps: Step[] = [];
      for (const ins of seg) {
        const st = planStep(ins, fields.get(ins.ip) ?? new Set());
        if (typeof st === 'string') return `\`${this.text(ins)}\`: ${st}`;
        steps.push(st);
      }
      stepsOf.push(steps);
      // Segment starts get a jump of their own; any other boundary must not be a target.
      const inner = seg.slice(1).find((i) => this.knownTargets().has(i.ip));
      if (inner) return `0x${inner.ip.toString(16)} inside the run to move is a branch target`;
    }
    // Plan the last segment first: each patch is then checked against the real bytes that
    // follow it (the next segment's jump, or the original code after the run).
    const planned: Relocation[] = [];
    let follow = this.elf.bytes.subarray(this.toFile(runEnd), this.toFile(runEnd) + 2);
    for (let i = segments.length - 1; i >= 0; i--) {
      const from = segments[i][0].ip;
      const to = segments[i][segments[i].length - 1].nextIP;
      const off = this.toFile(from);
      const before = this.elf.bytes.subarray(off - 2, off);
      const base = this.plan.codeVaddr + BigInt((this.codeSize + 15) & ~15);
      const r: Relocation | string = relocate(stepsOf[i], from, to, base, before, follow);
      if (typeof r === 'string')
        return segments.length > 1 ? `${r} (segment at 0x${from.toString(16)})` : r;
      const gap = Number(base - this.plan.codeVaddr) - this.codeSize;
      this.blocks.push(new Uint8Array(gap).fill(0xcc), r.code);
      this.codeSize += gap + r.code.length;
      planned.unshift(r);
      follow = r.patch.subarray(0, 2);
    }
    for (const r of planned) {
      this.patches.push({ fileOffset: this.toFile(r.runStart), bytes: r.patch });
      this.record.moved.push(r);
    }
    const change: Change = {
      address: s.start,
      strategy: 'relocated',
      occurrences: s.occs.map((o) => o.address),
      before: chosen.map((i) => this.text(i)),
      after: [],
      movedTo: planned[0].entry,
      possiblyData: possiblyData(s.occs),
    };
    if (planned.length > 1)
      change.segments = planned.map((r) => ({ from: r.runStart, to: r.runEnd, movedTo: r.entry }));
    this.changes.push(change);
    this.relocations.set(change, planned);
    return undefined;
  }

  code(): Uint8Array {
    const out = new Uint8Array(this.codeSize);
    let o = 0;
    for (const b of this.blocks) {
      out.set(b, o);
      o += b.length;
    }
    return out;
  }
}
