// The rewriter: removes every 0F 01 D4 from the code of an ELF file, keeping behaviour.
// Order of preference per site (the instructions an occurrence touches): an in-place
// re-encoding of the same length (in-place.ts), else moving a run of whole instructions to a
// new executable segment (relocate.ts, elf-writer.ts). The result is then shown equivalent
// edit by edit (verify.ts) and re-scanned, the new segment included; if either fails, or if any
// occurrence lies in data, nothing is written and the outcome says why.
import { containsVmfuncBytes } from './byte-search.ts';
import { knownTargets } from './branch-targets.ts';
import { findChunk, type SegmentMap } from './code-map.ts';
import { readElf } from './elf-reader.ts';
import { isExecutableLoad, type ElfFile } from './elf-types.ts';
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
import { inPlaceAlternatives } from './in-place.ts';
import type { InstructionField } from './instruction-fields.ts';
import { isCodeOccurrence, type InstructionInfo, type Occurrence } from './occurrence.ts';
import { planStep, relocate, type Relocation, type Step } from './relocate.ts';
import { scanParsedElf, type ElfScan, type ProgressFn } from './scanner.ts';
import { decodeRun, freeAll } from './site.ts';
import { verifyEdits, type EditRecord } from './verify.ts';

export interface Change {
  /** Address of the first instruction changed. */
  address: bigint;
  strategy: 'vmfunc-to-ud2' | 'swap-operand-form' | 'relocated';
  /** Addresses of the occurrences this change removes. */
  occurrences: bigint[];
  before: string[];
  after: string[];
  /** For 'relocated': where the equivalent code now lives. */
  movedTo?: bigint;
}

export type RewriteOutcome =
  | { kind: 'unchanged'; scan: ElfScan }
  | { kind: 'rewritten'; bytes: Uint8Array; changes: Change[]; before: ElfScan; after: ElfScan }
  | { kind: 'refused'; reason: string; occurrences: Occurrence[] }
  | { kind: 'invalid'; message: string };

export const DATA_ADVICE =
  'data is never changed: move it out of executable memory (e.g. into .rodata, or link with -z separate-code), ' +
  'or have the loader map those pages without execute permission';

interface Site {
  start: bigint;
  end: bigint;
  map: SegmentMap;
  chunk: number;
  occs: Occurrence[];
}

function infos(o: Occurrence): InstructionInfo[] {
  return o.kind === 'spanning'
    ? o.instructions
    : o.kind === 'vmfunc' || o.kind === 'in-instruction'
      ? [o.instruction]
      : [];
}

function groupSites(scan: ElfScan, occs: Occurrence[]): Site[] {
  const sites: Site[] = [];
  for (const o of occs) {
    const list = infos(o);
    const start = list[0].address;
    const last = list[list.length - 1];
    const end = last.address + BigInt(last.length);
    const prev = sites[sites.length - 1];
    if (prev && start < prev.end) {
      prev.end = end > prev.end ? end : prev.end;
      prev.occs.push(o);
      continue;
    }
    const map = scan.maps.find(
      (m) => m.segment.vaddr <= start && start < m.segment.vaddr + m.segment.filesz,
    )!;
    sites.push({ start, end, map, chunk: findChunk(map.chunks, start), occs: [o] });
  }
  return sites;
}

function fieldsByAddress(occs: Occurrence[]): Map<bigint, Set<InstructionField>> {
  const m = new Map<bigint, Set<InstructionField>>();
  for (const o of occs)
    for (const i of infos(o)) {
      const s = m.get(i.address) ?? new Set<InstructionField>();
      i.fields.forEach((f) => s.add(f));
      m.set(i.address, s);
    }
  return m;
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

  private window(start: bigint, end: bigint, at: bigint, bytes: Uint8Array): Uint8Array {
    const off = this.toFile(start) - 2;
    const w = this.elf.bytes.slice(off, this.toFile(start) + Number(end - start) + 2);
    w.set(bytes, this.toFile(at) - off);
    return w;
  }

  /** Rewrites one site, or returns why it cannot. */
  site(s: Site): string | undefined {
    const chunk = s.map.chunks[s.chunk];
    const run = decodeRun(this.elf.bytes, chunk, s.start, s.end, 6);
    this.owned.push(...run);
    const siteIns = run.filter((i) => i.ip < s.end);
    const addrs = s.occs.map((o) => o.address);
    for (const ins of siteIns) {
      for (const alt of inPlaceAlternatives(ins)) {
        if (containsVmfuncBytes(this.window(s.start, s.end, alt.address, alt.bytes))) continue;
        this.patches.push({ fileOffset: this.toFile(alt.address), bytes: alt.bytes });
        this.record.inPlace.push({ edit: alt, orig: ins });
        const after =
          alt.strategy === 'vmfunc-to-ud2'
            ? ['ud2', ...Array<string>(alt.bytes.length - 2).fill('nop')]
            : [];
        this.changes.push({
          address: alt.address,
          strategy: alt.strategy,
          occurrences: addrs,
          before: [this.text(ins)],
          after,
        });
        return undefined;
      }
    }
    return this.move(s, run, siteIns.length, addrs);
  }

  private move(
    s: Site,
    run: IcedInstruction[],
    minCount: number,
    addrs: bigint[],
  ): string | undefined {
    if (!this.plan) return 'moving code needs a new segment, which this file cannot get';
    const fields = fieldsByAddress(s.occs);
    let n = minCount;
    while (n < run.length && run[n - 1].nextIP - s.start < 5n && !run[n - 1].isCallNear) n++;
    const chosen = run.slice(0, n);
    const runEnd = chosen[n - 1].nextIP;
    if (runEnd > s.map.chunks[s.chunk].end) return 'the run to move would leave its code chunk';
    const steps: Step[] = [];
    for (let k = 0; k < n; k++) {
      const st = planStep(chosen[k], fields.get(chosen[k].ip) ?? new Set(), k === n - 1);
      if (typeof st === 'string') return `\`${this.text(chosen[k])}\`: ${st}`;
      steps.push(st);
    }
    if (n > 1) {
      this.targets ??= knownTargets(this.elf, this.scan.maps);
      const inner = chosen.slice(1).find((i) => this.targets!.has(i.ip));
      if (inner) return `0x${inner.ip.toString(16)} inside the run to move is a branch target`;
    }
    const base = this.plan.codeVaddr + BigInt((this.codeSize + 15) & ~15);
    const off = this.toFile(s.start);
    const len = Number(runEnd - s.start);
    const before = this.elf.bytes.subarray(off - 2, off);
    const after = this.elf.bytes.subarray(off + len, off + len + 2);
    const r: Relocation | string = relocate(steps, s.start, runEnd, base, before, after);
    if (typeof r === 'string') return r;
    const gap = Number(base - this.plan.codeVaddr) - this.codeSize;
    this.blocks.push(new Uint8Array(gap).fill(0xcc), r.code);
    this.codeSize += gap + r.code.length;
    this.patches.push({ fileOffset: off, bytes: r.patch });
    this.record.moved.push(r);
    this.changes.push({
      address: s.start,
      strategy: 'relocated',
      occurrences: addrs,
      before: chosen.map((i) => this.text(i)),
      after: [],
      movedTo: r.entry,
    });
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

/** Library entry point: rewrites an ELF image so that its executable segments hold no 0F 01 D4. */
export function rewriteElf(bytes: Uint8Array, onProgress?: ProgressFn): RewriteOutcome {
  let elf: ElfFile;
  try {
    elf = readElf(bytes);
  } catch (err) {
    return { kind: 'invalid', message: err instanceof Error ? err.message : String(err) };
  }
  const scan = scanParsedElf(elf, onProgress);
  if (scan.occurrences.length === 0) return { kind: 'unchanged', scan };
  const data = scan.occurrences.filter((o) => !isCodeOccurrence(o));
  if (data.length > 0) {
    return {
      kind: 'refused',
      reason: `${data.length} occurrence(s) are not in decodable code; ${DATA_ADVICE}`,
      occurrences: data,
    };
  }
  let plan: AppendPlan | undefined;
  try {
    plan = planAppend(elf);
  } catch (err) {
    if (!(err instanceof ElfFormatError)) throw err;
  }
  const rw = new Rewrite(elf, scan, plan);
  try {
    for (const s of groupSites(scan, scan.occurrences)) {
      const why = rw.site(s);
      if (why)
        return {
          kind: 'refused',
          reason: `cannot rewrite at 0x${s.start.toString(16)}: ${why}`,
          occurrences: s.occs,
        };
    }
    const moved = rw.record.moved.length > 0;
    const out =
      moved && plan
        ? writeWithCodeSegment(elf, rw.patches, rw.code(), plan)
        : writePatched(elf, rw.patches);
    return finish(elf, out, rw);
  } finally {
    rw.free();
  }
}

function finish(elf: ElfFile, out: Uint8Array, rw: Rewrite): RewriteOutcome {
  let outElf: ElfFile;
  try {
    outElf = readElf(out);
  } catch (err) {
    return {
      kind: 'refused',
      reason: `internal: the rewritten file does not parse (${(err as Error).message})`,
      occurrences: [],
    };
  }
  const toFile = (addr: bigint): number | undefined => {
    const seg = outElf.programHeaders.find(
      (p) => isExecutableLoad(p) && p.vaddr <= addr && addr < p.vaddr + p.filesz,
    );
    return seg ? Number(seg.offset + (addr - seg.vaddr)) : undefined;
  };
  const problems = verifyEdits(elf, out, rw.record, toFile);
  if (problems.length > 0)
    return {
      kind: 'refused',
      reason: `cannot show the rewrite equivalent: ${problems[0]}`,
      occurrences: [],
    };
  const after = scanParsedElf(outElf);
  if (after.occurrences.length > 0) {
    return {
      kind: 'refused',
      reason: `the rewritten file still contains ${after.occurrences.length} occurrence(s)`,
      occurrences: after.occurrences,
    };
  }
  for (const c of rw.changes) {
    if (c.movedTo === undefined) continue;
    const r = rw.record.moved.find((m) => m.entry === c.movedTo)!;
    const off = toFile(r.entry)!;
    c.after = describeBlock(out, off, r.code.length - r.pad, r.entry);
  }
  return { kind: 'rewritten', bytes: out, changes: rw.changes, before: rw.scan, after };
}

function describeBlock(out: Uint8Array, off: number, len: number, ip: bigint): string[] {
  const f = new Formatter(FormatterSyntax.Gas);
  f.uppercaseHex = false;
  f.branchLeadingZeros = false;
  const list = decodeBlock(out, off, len, ip);
  try {
    return list.map((i) => f.format(i));
  } finally {
    freeAll(list);
    f.free();
  }
}

function decodeBlock(bytes: Uint8Array, off: number, len: number, ip: bigint): IcedInstruction[] {
  const d = new Decoder(64, bytes.subarray(off, off + len), DecoderOptions.None);
  d.ip = ip;
  try {
    return d.decodeAll() as IcedInstruction[];
  } finally {
    d.free();
  }
}
