// Jump tables in code moved off a page (evacuate.ts). A table's entries lead to code by
// offsets (or, position-dependent, absolute addresses) that carry no relocation, so the moved
// code cannot use the original table: its targets would be the old code, which no longer
// runs. The original table is data and is never changed; instead the moved code gets its own
// copy in the new read-only segment, each entry leading to the moved target (or to the
// original one, for a target that did not move: a `.cold` part), and its `lea T(%rip)` (or
// `jmp *T(,%idx,8)`) is pointed at the copy. A table used by code that stays (a `.cold` part
// of a moved function) whose targets moved gets a copy the same way, the reference in the
// original file re-pointed. Tables are recognised by jump-tables.ts; what it cannot
// recognise is refused, with its reason.
import { findChunk, type Chunk, type SegmentMap } from './code-map.ts';
import type { Sweep } from './code-refs.ts';
import type { ElfFile } from './elf-types.ts';
import type { Patch } from './elf-writer.ts';
import { RewriteRefusedError } from './errors.ts';
import { fitsI32, hex, le32, le64 } from './image.ts';
import { findJumpTables, type JumpTable } from './jump-tables.ts';

export interface MovedTable extends JumpTable {
  /** True when the code using it (its jumps and refs) moves; else it stays, in a .cold part. */
  moves: boolean;
}

/** A function's name without a `.cold` suffix: its parts share it. */
export const stem = (name: string): string => name.replace(/\.cold(\.\d+)?$/, '');

const refuse = (why: string): never => {
  throw new RewriteRefusedError(why);
};

function inMaps(maps: SegmentMap[], a: bigint): Chunk | undefined {
  for (const m of maps) {
    const i = findChunk(m.chunks, a);
    if (i >= 0) return m.chunks[i];
  }
  return undefined;
}

/**
 * The tables of the indirect jumps in `chunks` (grouped by chunk), or a RewriteRefusedError
 * naming the first jump not recognised. `stored`: code addresses held in data (relocations,
 * .dynsym), which may lead into a function anywhere; `where` says, for messages, what code
 * the jumps are in.
 */
export function tablesOf(
  elf: ElfFile,
  maps: SegmentMap[],
  chunks: Chunk[],
  sweep: Sweep,
  where: string,
  stored: Set<bigint> = new Set(),
): JumpTable[] {
  const out: JumpTable[] = [];
  for (const c of chunks) {
    const jumps = sweep.indirectJumps.filter((a) => a >= c.start && a < c.end);
    if (jumps.length === 0) continue;
    // Ways into the function other than its own branches: branches from other code,
    // addresses taken (RIP-relative operands) or stored.
    const inside = (a: bigint): boolean => a >= c.start && a < c.end;
    const entries = new Set<bigint>([...stored].filter(inside));
    for (const r of sweep.refs)
      if (inside(r.target) && (r.kind === 'rip' || !inside(r.ip))) entries.add(r.target);
    // The function's other parts (`f.cold`), where its table entries may lead too.
    const family = (a: bigint): boolean => {
      const x = inMaps(maps, a);
      return (
        x?.kind === 'code' &&
        x !== c &&
        x.symbol !== undefined &&
        stem(x.symbol) === stem(c.symbol ?? '')
      );
    };
    const found = findJumpTables(
      elf,
      c,
      jumps,
      (a) => entries.has(a),
      (a) => inMaps(maps, a)?.kind === 'code',
      family,
    );
    if (!Array.isArray(found))
      refuse(
        `indirect jump \`${found.text}\` at ${hex(found.jump)} (${c.symbol ?? '?'}) ${where}: not a jump table that can be read (${found.why}), so its targets cannot all be found`,
      );
    else out.push(...found);
  }
  return out;
}

/** Bytes of the copies, each 8-aligned, in `tables` order. */
export function tablesSize(tables: JumpTable[]): number {
  return tables.reduce(
    (n, t) => n + Math.ceil((t.count * (t.kind === 'relative' ? 4 : 8)) / 8) * 8,
    0,
  );
}

/** Where each copy goes when the copies start at `base`. */
export function tableAddresses(tables: JumpTable[], base: bigint): bigint[] {
  let at = base;
  return tables.map((t) => {
    const here = at;
    at += BigInt(tablesSize([t]));
    return here;
  });
}

/**
 * The copies (for `base`), patches to references that stay in the original file, and a
 * setter that points references in the moved copy of the code at the copies.
 */
export function buildTables(
  tables: MovedTable[],
  base: bigint,
  moved: (a: bigint) => bigint,
  delta: bigint,
): { data: Uint8Array; patches: Patch[]; inCopy: { ip: bigint; field: number; value: bigint }[] } {
  const data = new Uint8Array(tablesSize(tables));
  const addrs = tableAddresses(tables, base);
  const patches: Patch[] = [];
  const inCopy: { ip: bigint; field: number; value: bigint }[] = [];
  tables.forEach((t, n) => {
    const at = addrs[n];
    const o = Number(at - base);
    t.targets.forEach((x, e) => {
      const v = t.kind === 'relative' ? moved(x) - at : moved(x);
      if (t.kind === 'relative') {
        if (!fitsI32(v))
          refuse(`entry ${e} of the copy of the table at ${hex(t.table)} does not fit 32 bits`);
        data.set(le32(v), o + 4 * e);
      } else data.set(le64(v), o + 8 * e);
    });
    for (const r of t.refs) {
      // A lea's RIP displacement, from where the instruction runs; an absolute jmp's disp32.
      const next = t.moves ? r.next + delta : r.next;
      const v = t.kind === 'relative' ? at - next : at;
      if (r.size !== 4 || !fitsI32(v) || (t.kind === 'absolute' && v < 0n))
        refuse(
          `the reference at ${hex(r.ip)} cannot reach the copy of its jump table at ${hex(at)}`,
        );
      if (t.moves) inCopy.push({ ip: r.ip, field: r.field, value: v });
      else patches.push({ fileOffset: r.fileOffset + r.field, bytes: le32(v) });
    }
  });
  return { data, patches, inCopy };
}
