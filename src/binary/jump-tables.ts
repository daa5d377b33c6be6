// Jump tables: the indirect jumps compilers emit for `switch` (and Rust's `match`), recognised
// so that code using one can be moved (evacuate.ts). Two idioms (gcc 12 and LLVM alike):
//
// - position-independent (PIC/PIE): a table of 32-bit offsets from the table's own start,
//       cmp $N, %idx32 ; ja default           the bound
//       mov %idx32, %idx32                    (zero-extension; optional)
//       lea T(%rip), %base
//       movslq (%base,%idx,4), %r
//       add %base, %r                         (or add %r, %base; jmp *%base)
//       jmp *%r
// - position-dependent (-fno-pic): a table of 64-bit absolute addresses,
//       cmp $N, %idx32 ; ja default ; jmp *T(,%idx,8)
//
// The table holds N + 1 entries (N for `jae`): the guarding unsigned `cmp`/`ja` is what
// bounds the index, so the table's extent is known only through it. Nothing else in the file
// says where a table ends (no symbol, no relocation for offsets).
//
// Found by walking back from the jump through the function's control flow (chunk-flow.ts):
// the entry's `movslq` and the `add` in straight-line code (one predecessor each), the bound
// `cmp`/`ja` likewise, and the base's `lea` on every path back (a `switch` in a loop sets it
// once, before the loop: every write to it reaching the jump must be `lea T(%rip)` of one and
// the same T). The jumps of a function are resolved in rounds, each table found adding its
// jumps as predecessors of its targets, and then all checked again with every table known:
// a case label is entered from its table's jump, which a straight-line walk must not miss. A
// jump to a 64-bit address loaded from memory, or passed in by the caller, needs no table in
// a position-independent file (see POINTER). Anything else is not recognised, with the reason.
// The bound: table-bounds.ts.
import type { Chunk } from './code-map.ts';
import { ET_DYN, type ElfFile } from './elf-types.ts';
import { ChunkCode, full } from './chunk-flow.ts';
import { Code, Mnemonic, OpKind, Register, type IcedInstruction } from './iced.ts';
import { Image, hex } from './image.ts';
import { MAX_ENTRIES, boundOf } from './table-bounds.ts';

export { MAX_ENTRIES };

/** A field holding the table's address: a `lea`'s RIP displacement, or an absolute jmp's. */
export interface TableRef {
  ip: bigint;
  next: bigint;
  fileOffset: number;
  field: number;
  size: number;
}

export interface JumpTable {
  kind: 'relative' | 'absolute';
  table: bigint;
  count: number;
  /** True if a `cmp`/`ja` gives the count; false if the entries do (readTable). */
  bounded: boolean;
  targets: bigint[];
  /** The indirect jumps using it. */
  jumps: bigint[];
  /** Every field holding the table's address (re-pointed at a copy). */
  refs: TableRef[];
}

const isReg = (i: IcedInstruction, k: number): boolean => i.opKind(k) === OpKind.Register;

const isRipLea = (i: IcedInstruction, r: number): boolean =>
  i.mnemonic === Mnemonic.Lea && i.op0Register === r && i.isIpRelMemoryOperand;

/** The `lea T(%rip), base` instructions giving `base` its value at k, or why not known. */
function baseOf(cc: ChunkCode, k: number, base: number): number[] | string {
  const defs = cc.reaching(k, base);
  if (defs === undefined || defs.length === 0)
    return `the table base ${Register[base]} is not set in the function on every path to it`;
  const bad = defs.find((j) => !isRipLea(cc.list[j], base));
  if (bad !== undefined)
    return `the table base ${Register[base]} may be set by \`${cc.list[bad].toString()}\` at ${hex(cc.list[bad].ip)}`;
  if (new Set(defs.map((j) => cc.list[j].ipRelMemoryAddress)).size > 1)
    return `the table base ${Register[base]} may come from several leas`;
  return defs;
}

// count undefined: no bound found (`open` says why); the entries say where the table ends.
type Found = {
  kind: 'relative' | 'absolute';
  table: bigint;
  count: number | undefined;
  open?: string;
  refs: TableRef[];
};

// A jump to a whole 64-bit address read from memory: in a position-independent file every
// code address stored in data has a dynamic relocation (psABI), which the rewrite re-points
// (dyn-refs.ts), so the address read is right whichever it is: a tail call through a function
// pointer or the GOT, a computed goto's table of label addresses. In a position-dependent
// file nothing finds those addresses.
const POINTER = 'pointer';
const noPointer = (what: string): string =>
  `a jump to an address ${what}: in a position-dependent executable the addresses it may read have no relocations, so they cannot all be found`;

/** True if `r` holds, at k, a whole pointer loaded or passed in (through `depth` copies). */
function isPointer(cc: ChunkCode, k: number, r: number, depth: number): boolean {
  if (cc.fromCaller(k, r)) return true;
  const defs = cc.reaching(k, r);
  if (!defs || defs.length === 0) return false;
  return defs.every((j) => {
    const d = cc.list[j];
    if (d.code === Code.Mov_r64_rm64 && d.opKind(1) === OpKind.Memory) return true;
    const copy = (d.code === Code.Mov_r64_rm64 || d.code === Code.Mov_rm64_r64) && isReg(d, 1);
    return copy && depth > 0 && isPointer(cc, j, full(d.op1Register), depth - 1);
  });
}

function recognise(cc: ChunkCode, k: number, pic: boolean): Found | typeof POINTER | string {
  const jmp = cc.list[k];
  if (jmp.opKind(0) === OpKind.Memory) {
    // jmp *T(,%idx,8) in position-dependent code: absolute entries, no base register.
    if (pic) return POINTER;
    if (
      jmp.memoryBase !== Register.None ||
      jmp.memoryIndexScale !== 8 ||
      jmp.memoryIndex === Register.None
    )
      return noPointer('read from memory addressed by a register (not `jmp *T(,%index,8)`)');
    const count = boundOf(cc, k, full(jmp.memoryIndex));
    return {
      kind: 'absolute',
      table: jmp.memoryDisplacementU64,
      count: typeof count === 'string' ? undefined : count,
      open: typeof count === 'string' ? count : undefined,
      refs: [cc.ref(k)],
    };
  }
  if (!isReg(jmp, 0)) return 'not a jump through a register';
  const r = jmp.op0Register;
  // A whole pointer on every path: loaded from memory, or passed in by the caller
  // (`std::istream::operator>>(pf)` tail-calls its argument), possibly copied between
  // registers. In a PIE the address came from relocated data or a lea, both re-pointed.
  if (isPointer(cc, k, r, 4))
    return pic ? POINTER : noPointer(`loaded from memory or passed in ${Register[r]}`);
  const a = cc.defBefore(k, r);
  const add = a === undefined ? undefined : cc.list[a];
  if (
    add === undefined ||
    (add.code !== Code.Add_rm64_r64 && add.code !== Code.Add_r64_rm64) ||
    !isReg(add, 0) ||
    !isReg(add, 1) ||
    add.op0Register !== r
  )
    return `${Register[r]} is not the sum \`add base, ${Register[r]}\` of a table's base and entry`;
  const other = add.op1Register;
  // One of r / other holds the sign-extended entry, the other the table's base.
  for (const [entry, base] of [
    [r, other],
    [other, r],
  ]) {
    const m = cc.defBefore(a!, entry);
    if (m === undefined) continue;
    const mov = cc.list[m];
    if (
      mov.code !== Code.Movsxd_r64_rm32 ||
      mov.opKind(1) !== OpKind.Memory ||
      mov.memoryBase !== base ||
      mov.memoryIndexScale !== 4 ||
      mov.memoryDisplacementU64 !== 0n ||
      mov.memoryIndex === Register.None
    )
      continue;
    // The base must not change between the entry's load and the add.
    const b = cc.defBefore(a!, base);
    if (b !== undefined && b > m)
      return `the table base ${Register[base]} changes at ${hex(cc.list[b].ip)}`;
    const leas = baseOf(cc, m, base);
    if (typeof leas === 'string') return leas;
    const count = boundOf(cc, m, full(mov.memoryIndex));
    return {
      kind: 'relative',
      table: cc.list[leas[0]].ipRelMemoryAddress,
      count: typeof count === 'string' ? undefined : count,
      open: typeof count === 'string' ? count : undefined,
      refs: leas.map((j) => cc.ref(j)),
    };
  }
  return `no \`movslq (base,index,4)\` loads a table entry into the sum at ${hex(add.ip)}`;
}

type Failure = { jump: bigint; text: string; why: string };

/**
 * The entries of the table `f`, or why they cannot be read. With a bound, every entry must
 * lead to code. Without one (LLVM leaves it out when the index is an enum's discriminant,
 * whose range the type guarantees), entries are read for as long as they lead into the
 * function (an instruction boundary of its chunk, or its .cold part): every entry the jump
 * can use does, so the entries read include them all, and perhaps some words after the
 * table that happen to lead there too, which the jump never uses.
 */
function readTable(
  img: Image,
  f: Found,
  inCode: (a: bigint) => boolean,
  inFunction: (a: bigint) => boolean,
): bigint[] | string {
  if (f.count === 0) return 'its bound allows no entry';
  const size = f.kind === 'relative' ? 4 : 8;
  const entry = (e: number): bigint | undefined => {
    const o = img.offsetOf(f.table + BigInt(e * size), size);
    if (o === undefined) return undefined;
    return f.kind === 'relative' ? f.table + BigInt(img.i32(o)) : img.u64(o);
  };
  const targets: bigint[] = [];
  if (f.count === undefined) {
    for (let e = 0; e < MAX_ENTRIES; e++) {
      const t = entry(e);
      if (t === undefined || !inFunction(t)) break;
      targets.push(t);
    }
    if (targets.length === 0)
      return `${f.open ?? 'no bound'}, and the first entry of its table at ${hex(f.table)} does not lead into the function`;
    return targets;
  }
  for (let e = 0; e < f.count; e++) {
    const t = entry(e);
    if (t === undefined)
      return `its table at ${hex(f.table)} (${f.count} entries) is not in a loaded part of the file`;
    if (!inCode(t))
      return `entry ${e} of its table at ${hex(f.table)} leads to ${hex(t)}, which is not code`;
    targets.push(t);
  }
  return targets;
}

/**
 * The tables of the indirect jumps `jumps` in `chunk`, merged by table address (jumps to
 * relocated pointers need none), or the first jump that is not recognised and why.
 * `entries`: addresses in the chunk entered from elsewhere (branches from other chunks,
 * addresses taken or stored); entries are read from the file; `inCode` must accept every target.
 */
export function findJumpTables(
  elf: ElfFile,
  chunk: Chunk,
  jumps: bigint[],
  entries: (a: bigint) => boolean,
  inCode: (a: bigint) => boolean,
  inFamily: (a: bigint) => boolean = () => false,
): JumpTable[] | Failure {
  const pic = elf.header.type === ET_DYN;
  const bytes = elf.bytes.subarray(
    chunk.fileOffset,
    chunk.fileOffset + Number(chunk.end - chunk.start),
  );
  const cc = new ChunkCode(chunk, bytes, entries);
  const img = new Image(elf);
  const found = new Map<bigint, { f: Found; targets: bigint[] } | typeof POINTER>();
  try {
    const attempt = (j: bigint): { f: Found; targets: bigint[] } | typeof POINTER | Failure => {
      const k = cc.index.get(j);
      const text = k === undefined ? '?' : cc.list[k].toString();
      const fail = (why: string): Failure => ({ jump: j, text, why });
      if (k === undefined) return fail('not an instruction boundary of its function');
      const f = recognise(cc, k, pic);
      if (f === POINTER) return f;
      if (typeof f === 'string') return fail(f);
      const targets = readTable(img, f, inCode, (a) => cc.index.has(a) || inFamily(a));
      if (typeof targets === 'string') return fail(targets);
      for (const t of targets) {
        const to = cc.index.get(t);
        if (to !== undefined) cc.addEdge(k, to);
      }
      return { f, targets };
    };
    // Rounds: a table found adds its jump as a predecessor of its targets.
    let last: Failure | undefined;
    for (let progress = true; progress;) {
      progress = false;
      last = undefined;
      for (const j of jumps) {
        if (found.has(j)) continue;
        const r = attempt(j);
        if (r !== POINTER && 'why' in r) last ??= r;
        else {
          found.set(j, r);
          progress = true;
        }
      }
    }
    if (last) return last;
    // Every table known: each jump must give the same table again.
    for (const j of jumps) {
      const again = attempt(j);
      const was = found.get(j)!;
      if (again !== POINTER && 'why' in again) return again;
      const same =
        again === POINTER || was === POINTER
          ? again === was
          : again.f.table === was.f.table && again.targets.length === was.targets.length;
      if (!same)
        return { jump: j, text: '?', why: 'it reads another table once every table is known' };
    }
  } finally {
    cc.free();
  }
  const tables = new Map<bigint, JumpTable>();
  for (const [j, r] of found) {
    if (r === POINTER) continue;
    const { f, targets } = r;
    const had = tables.get(f.table);
    if (had && had.kind !== f.kind)
      return { jump: j, text: '?', why: `its table at ${hex(f.table)} is read two ways` };
    const merged: JumpTable = had ?? {
      kind: f.kind,
      table: f.table,
      count: targets.length,
      bounded: f.count !== undefined,
      refs: [],
      targets,
      jumps: [],
    };
    if (targets.length > merged.targets.length) {
      merged.targets = targets;
      merged.count = targets.length;
    }
    merged.bounded &&= f.count !== undefined;
    merged.jumps.push(j);
    for (const x of f.refs) if (!merged.refs.some((y) => y.ip === x.ip)) merged.refs.push(x);
    tables.set(f.table, merged);
  }
  return [...tables.values()];
}
