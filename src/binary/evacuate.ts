// Moving the code off pages that hold data with 0F 01 D4 (README.md, "Pages holding code and
// such data"). A page has one permission, so such a page can lose execute only if no code
// runs there any more: every function with code on it is copied, byte for byte and with the
// same layout, to the new segment (at the old address + delta), and every known way into the
// old copy is re-pointed at the new one. The old bytes stay where they are, readable.
//
// The moved range R is the smallest run of whole code chunks (functions, by symbol) covering
// those pages, grown until no rel8 branch crosses its edge (a rel8 cannot reach the new
// segment). Ways into R, all re-pointed by delta:
// - direct branches and calls, and RIP-relative operands (function pointers taken with LEA),
//   from anywhere in the code, found by a linear sweep of every code chunk;
// - the code addresses the loader reads: e_entry, DT_INIT/DT_FINI, .dynsym values, RELA
//   addends and DT_RELR words (dyn-refs.ts);
// - unwinding: the FDEs covering R are copied for the new address (eh-frame.ts).
// Inside the copy, branches and RIP-relative operands leaving R (or reading data inside it)
// are re-pointed at their original targets; those within R's code need nothing, the layout
// being the same. Data chunks inside R are INT3 in the copy (it reads the original data).
// Jump tables (offsets without relocations) used by R's code, or by a `.cold` part of one of
// its functions with targets in R, are recognised and copied (evacuate-tables.ts).
// In a position-dependent file (ET_EXEC) pointers carry no relocation: the address of a moved
// function stored anywhere but in the fields above is refused (stray-pointers.ts).
// Refused, because some way in could be missed: code in R without a function symbol, PLT code, an indirect
// jump in R or in a `.cold` part of one of its functions that is no recognised jump table
// (its targets cannot be found), undecodable bytes, a Go program (its runtime maps PCs to
// metadata through unrelocated offsets).
import { findChunk, type Chunk, type SegmentMap } from './code-map.ts';
import { sweepCode, type CodeRef } from './code-refs.ts';
import { dynamicRefs, type DataRef, type DynSymbol } from './dyn-refs.ts';
import { buildEh, planEh, type EhPlan } from './eh-frame.ts';
import { buildTables, stem, tablesOf, tablesSize, type MovedTable } from './evacuate-tables.ts';
import { ET_EXEC, type ElfFile } from './elf-types.ts';
import type { Patch } from './elf-writer.ts';
import { RewriteRefusedError } from './errors.ts';
import { Image, fitsI32, hex, le32, le64 } from './image.ts';
import { PAGE } from './nx-pages.ts';
import type { Occurrence } from './occurrence.ts';
import { functionCoverage } from './scanner.ts';
import { checkStrayPointers, type Known } from './stray-pointers.ts';

// How far R may grow past the pages (rel8 closure) before the rewrite gives up.
const WINDOW = 1n << 20n;
const PLT = new Set(['.plt', '.plt.got', '.plt.sec', '.iplt']);
const GO_TABLES = new Set(['.gopclntab', '.go.buildinfo', '.note.go.buildid']);

export interface Evacuation {
  pages: bigint[];
  lo: bigint;
  hi: bigint;
  map: SegmentMap;
  chunks: Chunk[];
  /** References from code outside R into R's code. */
  incoming: CodeRef[];
  /** References from R's code to outside it or to data inside it. */
  outgoing: CodeRef[];
  /** Loader-read fields whose address is in R's code (or whose symbol is). */
  data: DataRef[];
  symbols: DynSymbol[];
  eh: EhPlan | undefined;
  /** Jump tables the copy (or a .cold part, for targets in R) gets a copy of. */
  tables: MovedTable[];
}

export interface BuiltEvacuation {
  copy: Uint8Array;
  patches: Patch[];
  /** New read-only data: unwind tables, then the jump tables' copies (8-aligned). */
  data: Uint8Array;
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** Bytes of new read-only data the evacuation needs (unwind tables, jump tables). */
export function evacuationDataSize(ev: Evacuation): number {
  const t = tablesSize(ev.tables);
  return t === 0 ? (ev.eh?.size ?? 0) : align8(ev.eh?.size ?? 0) + t;
}

const refuse = (why: string): never => {
  throw new RewriteRefusedError(why);
};

function inRange(ev: { lo: bigint; hi: bigint }, a: bigint): boolean {
  return a >= ev.lo && a < ev.hi;
}

/** True if `a` is in a code chunk of R. */
export function inMovedCode(ev: Evacuation, a: bigint): boolean {
  if (!inRange(ev, a)) return false;
  const i = findChunk(ev.chunks, a);
  return i >= 0 && ev.chunks[i].kind === 'code';
}

/** Refuses code chunks whose entries cannot be known: no function symbol, or PLT. */
function checkChunks(chunks: Chunk[]): void {
  for (const c of chunks) {
    if (c.kind !== 'code') continue;
    const name = `${hex(c.start)} (${c.section ?? 'no section'})`;
    if (c.section && PLT.has(c.section))
      refuse(
        `PLT code at ${name} would have to move (lazy binding keeps the addresses of PLT entries in .got.plt without relocations)`,
      );
    if (c.symbol === undefined)
      refuse(`code at ${name} starts at no function symbol: its entry points are unknown`);
  }
}

/** What evacuating `pages` needs, or a RewriteRefusedError saying why it cannot be done. */
export function planEvacuation(
  elf: ElfFile,
  maps: SegmentMap[],
  pages: bigint[],
  codeOccurrences: Occurrence[],
): Evacuation {
  const onPages = (c: Chunk): boolean =>
    c.kind === 'code' && pages.some((p) => c.start < p + PAGE && c.end > p);
  const owners = maps.filter((m) => m.chunks.some(onPages));
  if (owners.length !== 1) refuse('pages with code and such data lie in several segments');
  const map = owners[0];
  const all = map.chunks;
  let first = all.findIndex(onPages);
  let last = all.length - 1 - [...all].reverse().findIndex(onPages);
  const range = (): { lo: bigint; hi: bigint } => ({ lo: all[first].start, hi: all[last].end });
  const w = range();
  const wLo = w.lo > WINDOW ? w.lo - WINDOW : 0n;
  const wHi = w.hi + WINDOW;
  const near = (a: bigint): boolean => a >= wLo && a < wHi;
  const dyn = dynamicRefs(elf);
  const go = elf.sections.find((s) => GO_TABLES.has(s.name));
  if (go)
    refuse(
      `a Go program (${go.name}): its runtime finds each function's metadata from a PC through offsets in .gopclntab, which carry no relocation, so moved code would be unknown to it`,
    );
  checkChunks(all.slice(first, last + 1)); // before the sweep, which costs most
  const sweep = sweepCode(elf, maps, (ip, t) => near(ip) || near(t));
  // Grow R until no rel8 branch crosses its edge.
  const extendTo = (a: bigint): void => {
    const i = findChunk(all, a);
    if (i < 0) refuse(`a short branch into the moved code comes from outside its segment`);
    first = Math.min(first, i);
    last = Math.max(last, i);
    const r = range();
    if (r.lo < wLo || r.hi > wHi) refuse('short branches chain the moved code too far');
  };
  for (let changed = true; changed;) {
    changed = false;
    for (const r of sweep.refs) {
      if (r.kind !== 'branch' || r.size !== 1) continue;
      const cur = range();
      const src = inRange(cur, r.ip);
      if (src !== inRange(cur, r.target)) {
        extendTo(src ? r.target : r.ip);
        changed = true;
      }
    }
  }
  const { lo, hi } = range();
  const chunks = all.slice(first, last + 1);
  const ev: Evacuation = {
    pages,
    lo,
    hi,
    map,
    chunks,
    incoming: [],
    outgoing: [],
    data: [],
    symbols: [],
    eh: undefined,
    tables: [],
  };
  checkChunks(chunks);
  const inside = codeOccurrences.find((o) => inRange(ev, o.address));
  if (inside)
    refuse(
      `0F 01 D4 at ${hex(inside.address)} is in code that would move; both at once is not supported`,
    );
  const bad = sweep.invalid.find((a) => inRange(ev, a));
  if (bad !== undefined) refuse(`undecodable bytes at ${hex(bad)} in code that would move`);
  const inR = (c: Chunk): boolean => c.kind === 'code';
  const stored = new Set([...dyn.refs.map((d) => d.target), ...dyn.symbols.map((d) => d.value)]);
  ev.tables = tablesOf(elf, maps, chunks.filter(inR), sweep, 'in code that would move', stored).map(
    (t) => ({ ...t, moves: true }),
  );
  for (const t of ev.tables) {
    const bad = t.targets.find((x) => inRange(ev, x) && !inMovedCode(ev, x));
    if (bad !== undefined)
      refuse(`the jump table at ${hex(t.table)} leads into data at ${hex(bad)}`);
  }
  // A function's .cold part and its hot part may jump into each other through a table.
  const names = new Set(chunks.filter((c) => c.kind === 'code').map((c) => stem(c.symbol!)));
  const family = maps.flatMap((m) =>
    m.chunks.filter(
      (c) =>
        c.kind === 'code' &&
        !inRange(ev, c.start) &&
        c.symbol !== undefined &&
        names.has(stem(c.symbol)),
    ),
  );
  if (family.length > 0) {
    const starts = new Set(family.map((c) => c.start));
    const fam = sweepCode(
      elf,
      maps,
      (ip, t) => ip === t,
      (s) => starts.has(s),
    );
    const known = { ...fam, refs: sweep.refs };
    const found = tablesOf(
      elf,
      maps,
      family,
      known,
      'in a part of a function that would move',
      stored,
    );
    for (const t of found) {
      if (!t.targets.some((x) => inMovedCode(ev, x))) continue;
      if (ev.tables.some((u) => u.table === t.table))
        refuse(`the jump table at ${hex(t.table)} is used by code that moves and code that stays`);
      ev.tables.push({ ...t, moves: false });
    }
  }
  const covered = functionCoverage(elf);
  for (const r of sweep.refs) {
    const src = inRange(ev, r.ip);
    const toCode = inMovedCode(ev, r.target);
    if (!src && toCode) {
      // It will be patched: it must be known to be code, or the patch could corrupt data.
      const m = maps.find(
        (x) => x.segment.vaddr <= r.ip && r.ip < x.segment.vaddr + x.segment.filesz,
      )!;
      const c = m.chunks[findChunk(m.chunks, r.ip)];
      // Covered by a function symbol with a size, or in the chunk the entry point starts
      // (`_start` often has no size); and no undecodable bytes before it in its sweep.
      const doubt =
        (c.start === elf.header.entry ? undefined : covered(r.ip, r.next, c)) ??
        (sweep.invalid.some((a) => a >= c.start && a < r.ip)
          ? `the sweep from ${hex(c.start)} met undecodable bytes before it`
          : undefined);
      if (doubt)
        refuse(
          `the reference at ${hex(r.ip)} into the moved code may be data decoded as code (${doubt})`,
        );
      ev.incoming.push(r);
    }
    if (src && !toCode) ev.outgoing.push(r);
    if (r.kind === 'branch' && inRange(ev, r.target) && !toCode)
      refuse(`the branch at ${hex(r.ip)} goes into data inside the code that would move`);
  }
  ev.symbols = dyn.symbols.filter((s) => s.defined && inMovedCode(ev, s.value));
  ev.data = dyn.refs.filter(
    (d) =>
      inMovedCode(ev, d.target) || (d.symbolValue !== undefined && inMovedCode(ev, d.symbolValue)),
  );
  ev.eh = planEh(elf, lo, hi);
  if (elf.header.type === ET_EXEC) {
    const img = new Image(elf);
    const known: Known = [
      ...dyn.refs.map((d): [number, number] => [d.fileOffset, 8]),
      ...dyn.symbols.map((d): [number, number] => [d.fileOffset, 8]),
      ...sweep.refs.map((r): [number, number] => [r.fileOffset + r.field, r.size]),
      ...ev.tables
        .filter((t) => t.kind === 'absolute')
        .map((t): [number, number] => [img.at(t.table, t.count * 8, 'jump table'), t.count * 8]),
    ];
    checkStrayPointers(elf, chunks, known);
  }
  return ev;
}

function setField(buf: Uint8Array, at: number, size: number, value: bigint, what: string): void {
  if (size !== 4 || !fitsI32(value)) refuse(`${what}: ${hex(value)} does not fit its field`);
  buf.set(le32(value), at);
}

/**
 * The copy (for address lo + delta), the patches re-pointing every way in, the new read-only
 * data (unwind tables at `dataBase`, then the jump tables' copies).
 */
export function buildEvacuation(
  elf: ElfFile,
  ev: Evacuation,
  delta: bigint,
  dataBase: bigint,
): BuiltEvacuation {
  const seg = ev.map.segment;
  const off = Number(seg.offset + (ev.lo - seg.vaddr));
  const copy = Uint8Array.from(elf.bytes.subarray(off, off + Number(ev.hi - ev.lo)));
  for (const c of ev.chunks)
    if (c.kind === 'data') copy.fill(0xcc, Number(c.start - ev.lo), Number(c.end - ev.lo));
  for (const r of ev.outgoing)
    setField(
      copy,
      Number(r.ip - ev.lo) + r.field,
      r.size,
      r.target - (r.next + delta),
      `moved ${hex(r.ip)}`,
    );
  const moved = (a: bigint): bigint => (inMovedCode(ev, a) ? a + delta : a);
  const ehSize = ev.eh?.size ?? 0;
  const tablesAt = dataBase + BigInt(align8(ehSize));
  const tables = buildTables(ev.tables, tablesAt, moved, delta);
  // The moved code's references to its tables: after the outgoing ones, which they override.
  for (const r of tables.inCopy)
    setField(copy, Number(r.ip - ev.lo) + r.field, 4, r.value, `table reference ${hex(r.ip)}`);
  const patches: Patch[] = [...tables.patches];
  for (const r of ev.incoming) {
    // A copy: elf.bytes may be a Node Buffer, whose slice() is a view onto the caller's input.
    const bytes = Uint8Array.from(
      elf.bytes.subarray(r.fileOffset + r.field, r.fileOffset + r.field + r.size),
    );
    setField(bytes, 0, r.size, r.target + delta - r.next, `${hex(r.ip)} into the moved code`);
    patches.push({ fileOffset: r.fileOffset + r.field, bytes });
  }
  for (const s of ev.symbols)
    patches.push({ fileOffset: s.fileOffset, bytes: le64(s.value + delta) });
  for (const d of ev.data) {
    // RELATIVE and plain fields hold the address; symbolic RELA addends make S' + A' = T'.
    const value =
      d.symbolValue === undefined ? moved(d.target) : moved(d.target) - moved(d.symbolValue);
    patches.push({ fileOffset: d.fileOffset, bytes: le64(value) });
  }
  const data = new Uint8Array(evacuationDataSize(ev));
  if (ev.eh) data.set(buildEh(elf, ev.eh, dataBase, delta), 0);
  if (tables.data.length > 0) data.set(tables.data, Number(tablesAt - dataBase));
  return { copy, patches, data };
}
