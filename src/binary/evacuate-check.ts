// Shows an evacuation (evacuate.ts) correct on the written output, independently of how it
// was built where it can:
// - the copy decodes, chunk by chunk, to the original instructions in lockstep: same
//   encoding and length, bytes equal outside the rel/displacement field, and each target the
//   original one, moved by delta exactly when it lies in R's code; data chunks are INT3;
// - nothing known still leads into R's old code: a new sweep of every code chunk of the
//   output outside R, and its dynamic tables, e_entry and .dynsym read again, find no
//   reference there; each re-pointed field moved by delta;
// - the new .eh_frame_hdr is sorted, keeps every old entry and adds, for each FDE of R, a
//   copy at pc_begin + delta with the same range, LSDA, personality and instructions;
// - every reference to a jump table that got a copy (a `lea` or absolute `jmp`, in the copy of
//   the code or, for a .cold part, in place) leads to one address, outside every executable
//   segment of the output, whose entries lead to the original table's targets, each moved by
//   delta exactly when it lies in R's code.
import type { SegmentMap } from './code-map.ts';
import { sweepCode } from './code-refs.ts';
import { dynamicRefs } from './dyn-refs.ts';
import { parseFde, parseHdr, type Cie } from './eh-frame.ts';
import { PF_X, PT_LOAD, type ElfFile } from './elf-types.ts';
import { isBinaryToolError } from './errors.ts';
import { inMovedCode, type Evacuation } from './evacuate.ts';
import { Decoder, DecoderOptions, Instruction, type IcedInstruction } from './iced.ts';
import { Image, hex } from './image.ts';
import { hasNearBranchOperand } from './instruction-fields.ts';

/** The address an instruction refers to; for a table reference (absolute too), the table. */
function targetOf(i: IcedInstruction, table = false): bigint | undefined {
  if (hasNearBranchOperand(i)) return i.nearBranchTarget;
  if (i.isIpRelMemoryOperand) return i.ipRelMemoryAddress;
  return table ? i.memoryDisplacementU64 : undefined;
}

/** Byte range of the rel/displacement field of the instruction `d` just decoded. */
function field(
  d: InstanceType<typeof Decoder>,
  i: IcedInstruction,
  table = false,
): [number, number] {
  const co = d.getConstantOffsets(i);
  try {
    return hasNearBranchOperand(i)
      ? [co.immediateOffset, co.immediateOffset + co.immediateSize]
      : i.isIpRelMemoryOperand || table
        ? [co.displacementOffset, co.displacementOffset + co.displacementSize]
        : [0, 0];
  } finally {
    co.free();
  }
}

/** Each table reference's instruction address -> the table its copy must reach (from the output). */
function tableRefs(ev: Evacuation): Map<bigint, number> {
  const out = new Map<bigint, number>();
  ev.tables.forEach((t, n) => t.refs.forEach((r) => out.set(r.ip, n)));
  return out;
}

function checkCopy(
  orig: ElfFile,
  out: ElfFile,
  ev: Evacuation,
  delta: bigint,
  copies: (bigint | undefined)[],
): string[] {
  const problems: string[] = [];
  const refs = tableRefs(ev);
  const outImg = new Image(out);
  const a = new Instruction();
  const b = new Instruction();
  try {
    for (const c of ev.chunks) {
      const len = Number(c.end - c.start);
      const at = outImg.offsetOf(c.start + delta, len);
      if (at === undefined) return [`the copy of ${hex(c.start)} is not in the output`];
      const got = out.bytes.subarray(at, at + len);
      if (c.kind === 'data') {
        if (got.some((x) => x !== 0xcc)) problems.push(`data at ${hex(c.start)} copied as code`);
        continue;
      }
      const want = orig.bytes.subarray(c.fileOffset, c.fileOffset + len);
      const da = new Decoder(64, want, DecoderOptions.None);
      const db = new Decoder(64, got, DecoderOptions.None);
      da.ip = c.start;
      db.ip = c.start + delta;
      try {
        while (da.canDecode && problems.length === 0) {
          da.decodeOut(a);
          db.decodeOut(b);
          const n = refs.get(a.ip);
          const tab = n !== undefined;
          const [f0, f1] = field(da, a, tab);
          const [g0, g1] = field(db, b, tab);
          const o = Number(a.ip - c.start);
          const same = (k: number): boolean => want[o + k] === got[o + k];
          const t = targetOf(a, tab);
          const expected = tab
            ? (copies[n] ?? -1n)
            : t === undefined
              ? undefined
              : inMovedCode(ev, t)
                ? t + delta
                : t;
          const ok =
            a.code === b.code &&
            a.length === b.length &&
            f0 === g0 &&
            f1 === g1 &&
            [...Array(a.length).keys()].every((k) => (k >= f0 && k < f1) || same(k)) &&
            targetOf(b, tab) === expected;
          if (!ok) problems.push(`the copy of ${hex(a.ip)} is not the same instruction`);
        }
      } finally {
        da.free();
        db.free();
      }
    }
  } finally {
    a.free();
    b.free();
  }
  return problems;
}

function checkNoWayIn(
  orig: ElfFile,
  maps: SegmentMap[],
  out: ElfFile,
  ev: Evacuation,
  delta: bigint,
): string[] {
  const problems: string[] = [];
  const outside = maps.map((m) => ({
    ...m,
    chunks: m.chunks.filter((c) => c.start < ev.lo || c.start >= ev.hi),
  }));
  const before = new Map(ev.incoming.map((r) => [r.ip, r.target]));
  const refs = sweepCode(out, outside, (ip, t) => before.has(ip) || inMovedCode(ev, t)).refs;
  const left = refs.find((r) => inMovedCode(ev, r.target));
  if (left) problems.push(`${hex(left.ip)} still refers to ${hex(left.target)}`);
  const after = refs.filter((r) => before.has(r.ip));
  for (const r of after)
    if (r.target !== before.get(r.ip)! + delta)
      problems.push(`${hex(r.ip)} is not re-pointed by delta`);
  if (after.length !== before.size) problems.push('a re-pointed instruction decodes differently');
  const d = dynamicRefs(out);
  const stay = d.refs.find((r) => inMovedCode(ev, r.target));
  if (stay) problems.push(`${stay.what} still holds ${hex(stay.target)}`);
  const sym = d.symbols.find((s) => s.defined && inMovedCode(ev, s.value));
  if (sym) problems.push(`.dynsym entry ${sym.index} still holds ${hex(sym.value)}`);
  const was = new Map(dynamicRefs(orig).refs.map((r) => [r.fileOffset, r.target]));
  for (const r of d.refs) {
    const t = was.get(r.fileOffset);
    if (t !== undefined && t !== r.target && t + delta !== r.target)
      problems.push(`${r.what} changed by other than delta`);
  }
  return problems;
}

function checkEh(orig: ElfFile, out: ElfFile, ev: Evacuation, delta: bigint): string[] {
  if (!ev.eh) return [];
  const img = new Image(orig);
  const outImg = new Image(out);
  const hdr = parseHdr(outImg);
  if (!hdr) return ['the output has no PT_GNU_EH_FRAME'];
  const problems: string[] = [];
  const locs = hdr.entries.map((e) => e[0]);
  if (locs.some((l, i) => i > 0 && l <= locs[i - 1])) problems.push('.eh_frame_hdr is not sorted');
  const have = new Set(hdr.entries.map((e) => `${e[0]}:${e[1]}`));
  if (ev.eh.hdr.entries.some((e) => !have.has(`${e[0]}:${e[1]}`)))
    problems.push('.eh_frame_hdr lost an entry');
  if (hdr.entries.length !== ev.eh.hdr.entries.length + ev.eh.fdes.length)
    problems.push('.eh_frame_hdr has extra entries');
  const byLoc = new Map(hdr.entries);
  const cies = new Map<bigint, Cie>();
  for (const f of ev.eh.fdes) {
    const at = byLoc.get(f.pcBegin + delta);
    if (at === undefined) {
      problems.push(`no FDE for the copy of ${hex(f.pcBegin)}`);
      continue;
    }
    const g = parseFde(outImg, at, cies);
    const body = (addr: bigint, size: number, from: number, i: Image): string => {
      const o = i.at(addr, size, 'unwind record');
      return Buffer.from(i.elf.bytes.subarray(o + from, o + size)).toString('hex');
    };
    const ok =
      g.pcBegin === f.pcBegin + delta &&
      g.pcRange === f.pcRange &&
      g.size === f.size &&
      g.body === f.body &&
      g.lsda?.target === f.lsda?.target &&
      g.cie.personality?.target === f.cie.personality?.target &&
      g.cie.size === f.cie.size &&
      body(g.addr, g.size, g.body, outImg) === body(f.addr, f.size, f.body, img) &&
      body(g.cie.addr, g.cie.size, g.cie.body, outImg) ===
        body(f.cie.addr, f.cie.size, f.cie.body, img);
    if (!ok) problems.push(`the FDE for the copy of ${hex(f.pcBegin)} is not as the original`);
  }
  return problems;
}

/**
 * Where the output's references to each table lead (read from the output: the copy of the
 * code for moved ones, the file in place for the others), or why they do not agree; then the
 * table found there must hold the original targets, moved.
 */
function checkTables(
  orig: ElfFile,
  out: ElfFile,
  ev: Evacuation,
  delta: bigint,
): { problems: string[]; copies: (bigint | undefined)[] } {
  const problems: string[] = [];
  const outImg = new Image(out);
  const origImg = new Image(orig);
  const copies = ev.tables.map((t) => {
    const seen = new Set<bigint>();
    for (const r of t.refs) {
      const ip = t.moves ? r.ip + delta : r.ip;
      const len = Number(r.next - r.ip);
      const at = outImg.offsetOf(ip, len);
      if (at === undefined) return undefined;
      const d = new Decoder(64, out.bytes.subarray(at, at + len), DecoderOptions.None);
      d.ip = ip;
      const i = d.decode();
      const x = targetOf(i, true);
      if (x !== undefined) seen.add(x);
      i.free();
      d.free();
    }
    if (seen.size !== 1) {
      problems.push(`the references to the jump table at ${hex(t.table)} do not lead to one copy`);
      return undefined;
    }
    return [...seen][0];
  });
  ev.tables.forEach((t, n) => {
    const at = copies[n];
    if (at === undefined) return;
    const size = t.kind === 'relative' ? 4 : 8;
    const o = outImg.offsetOf(at, t.count * size);
    const src = origImg.offsetOf(t.table, t.count * size);
    const exec = out.programHeaders.some(
      (p) =>
        p.type === PT_LOAD &&
        (p.flags & PF_X) !== 0 &&
        at < p.vaddr + p.memsz &&
        at + BigInt(t.count * size) > p.vaddr,
    );
    if (o === undefined || src === undefined || exec) {
      problems.push(`the copy of the jump table at ${hex(t.table)} is not in read-only data`);
      return;
    }
    for (let e = 0; e < t.count; e++) {
      const was =
        t.kind === 'relative'
          ? t.table + BigInt(origImg.i32(src + 4 * e))
          : origImg.u64(src + 8 * e);
      const now =
        t.kind === 'relative' ? at + BigInt(outImg.i32(o + 4 * e)) : outImg.u64(o + 8 * e);
      if (now !== (inMovedCode(ev, was) ? was + delta : was)) {
        problems.push(
          `entry ${e} of the copy of the jump table at ${hex(t.table)} leads elsewhere`,
        );
        return;
      }
    }
  });
  return { problems, copies };
}

/** Problems found (empty when the evacuation is shown correct). */
export function verifyEvacuation(
  orig: ElfFile,
  maps: SegmentMap[],
  out: ElfFile,
  ev: Evacuation,
  delta: bigint,
): string[] {
  try {
    const tables = checkTables(orig, out, ev, delta);
    return [
      ...tables.problems,
      ...checkCopy(orig, out, ev, delta, tables.copies),
      ...checkNoWayIn(orig, maps, out, ev, delta),
      ...checkEh(orig, out, ev, delta),
    ];
  } catch (err) {
    if (isBinaryToolError(err)) return [`cannot read the output back: ${err.message}`];
    throw err;
  }
}
