// The rewriter: removes every 0F 01 D4 from the code of an ELF file, keeping behaviour.
// Order of preference per site (the instructions an occurrence touches): an in-place
// re-encoding of the same length (in-place.ts), else moving a run of whole instructions to a
// new executable segment (relocate.ts, elf-writer.ts). Data holding the bytes stays, and the
// pages holding it lose execute (nx-pages.ts). The result is then shown equivalent edit by
// edit (verify.ts, rewrite-finish.ts) and re-scanned, the new segment included; if that fails,
// or an occurrence cannot be handled, nothing is written and the outcome says why.
import { containsVmfuncBytes } from './byte-search.ts';
import { knownTargets } from './branch-targets.ts';
import { readElf } from './elf-reader.ts';
import type { ElfFile } from './elf-types.ts';
import {
  planAppend,
  writePatched,
  writeWithCodeSegment,
  type AppendPlan,
  type Patch,
} from './elf-writer.ts';
import { ElfFormatError } from './errors.ts';
import {
  Decoder,
  DecoderOptions,
  Formatter,
  FormatterSyntax,
  type IcedInstruction,
} from './iced.ts';
import { inPlaceAlternatives, nopShiftAlternatives, type InPlaceEdit } from './in-place.ts';
import { isCodeOccurrence, possiblyDataReason, type Occurrence } from './occurrence.ts';
import { planStep, relocate, type Relocation, type Step } from './relocate.ts';
import { planSplits, type SegmentSplit } from './nx-pages.ts';
import { finish } from './rewrite-finish.ts';
import { scanParsedElf, type ElfScan, type ProgressFn } from './scanner.ts';
import {
  decodeRun,
  fieldsByAddress,
  freeAll,
  groupSites,
  possiblyData,
  type Site,
} from './site.ts';
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

export interface RewriteOptions {
  /** Refuse instead of rewriting occurrences classified as possibly data. */
  strict?: boolean;
}

/** Pages that lost execute permission because they hold data occurrences and no code. */
export interface NonExecutable {
  start: bigint;
  end: bigint;
  /** The data occurrences in [start, end). */
  occurrences: bigint[];
}

export type RewriteOutcome =
  | { kind: 'unchanged'; scan: ElfScan }
  | {
      kind: 'rewritten';
      bytes: Uint8Array;
      changes: Change[];
      nonExecutable: NonExecutable[];
      before: ElfScan;
      after: ElfScan;
    }
  | { kind: 'refused'; reason: string; occurrences: Occurrence[] }
  | { kind: 'invalid'; message: string };

export const DATA_ADVICE =
  'data is never changed, only the pages holding it and no code lose execute permission: ' +
  'move it away from code (e.g. into .rodata, or link with -z separate-code)';

function nonExecutable(splits: SegmentSplit[], data: Occurrence[]): NonExecutable[] {
  return splits.flatMap((s) =>
    s.nonExecutable.map((r) => ({
      ...r,
      occurrences: data
        .filter((o) => o.address >= r.start && o.address < r.end)
        .map((o) => o.address),
    })),
  );
}

class Rewrite {
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

/**
 * Library entry point: rewrites an ELF image so that its executable segments hold no 0F 01 D4.
 * Occurrences classified as possibly data are rewritten as code (their changes carry
 * `possiblyData`) unless options.strict, which refuses them.
 */
export function rewriteElf(
  bytes: Uint8Array,
  onProgress?: ProgressFn,
  options: RewriteOptions = {},
): RewriteOutcome {
  let elf: ElfFile;
  try {
    elf = readElf(bytes);
  } catch (err) {
    return { kind: 'invalid', message: err instanceof Error ? err.message : String(err) };
  }
  const scan = scanParsedElf(elf, onProgress);
  if (scan.occurrences.length === 0) return { kind: 'unchanged', scan };
  const undecodable = scan.occurrences.filter((o) => o.kind === 'undecodable');
  if (undecodable.length > 0) {
    return {
      kind: 'refused',
      reason: `${undecodable.length} occurrence(s) are not in decodable code; ${DATA_ADVICE}`,
      occurrences: undecodable,
    };
  }
  // Data stays as it is; the pages holding it lose execute permission (nx-pages.ts).
  const data = scan.occurrences.filter((o) => o.kind === 'data');
  const splits = data.length > 0 ? planSplits(elf, scan.maps, data) : [];
  if (!Array.isArray(splits))
    return {
      kind: 'refused',
      reason: `${splits.reason}; ${DATA_ADVICE}`,
      occurrences: splits.occurrences,
    };
  const doubtful = scan.occurrences.filter((o) => possiblyDataReason(o) !== undefined);
  if (options.strict && doubtful.length > 0) {
    return {
      kind: 'refused',
      reason: `${doubtful.length} occurrence(s) may be data (strict mode rewrites only what is known to be code)`,
      occurrences: doubtful,
    };
  }
  // Headers that leave no room for a new segment (absurd sizes or addresses) make the file
  // invalid for a rewrite that needs one; in-place edits need none.
  let plan: AppendPlan | undefined;
  let planError = '';
  try {
    plan = planAppend(
      elf,
      splits.reduce((n, x) => n + x.pieces.length - 1, 0),
    );
  } catch (err) {
    if (!(err instanceof ElfFormatError)) throw err;
    planError = err.message;
  }
  const rw = new Rewrite(elf, scan, plan);
  try {
    if (splits.length > 0 && !plan) return { kind: 'invalid', message: planError };
    for (const s of groupSites(scan, scan.occurrences.filter(isCodeOccurrence))) {
      const why = rw.site(s);
      if (why && rw.neededPlan) return { kind: 'invalid', message: planError };
      if (why)
        return {
          kind: 'refused',
          reason: `cannot rewrite at 0x${s.start.toString(16)}: ${why}`,
          occurrences: s.occs,
        };
    }
    let out: Uint8Array;
    try {
      out =
        (rw.record.moved.length > 0 || splits.length > 0) && plan
          ? writeWithCodeSegment(elf, rw.patches, rw.code(), plan, splits)
          : writePatched(elf, rw.patches);
    } catch (err) {
      if (err instanceof ElfFormatError) return { kind: 'invalid', message: err.message };
      throw err;
    }
    const done = finish(elf, scan, out, rw.record, splits, rw.relocations);
    if (!done.ok) return { kind: 'refused', reason: done.reason, occurrences: done.occurrences };
    return {
      kind: 'rewritten',
      bytes: out,
      changes: rw.changes,
      nonExecutable: nonExecutable(splits, data),
      before: scan,
      after: done.after,
    };
  } finally {
    rw.free();
  }
}
