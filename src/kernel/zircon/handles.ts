// Handles (object/handle.cc, handle_table.cc). All Handle objects live in one global arena;
// a process's HandleTable lists its own and holds a random mixer. A handle value is
// (base_value << 2 | 3) ^ mixer, base_value = generation << 12 | arena index. Looking a
// value up un-mixes it, indexes the arena, and accepts the Handle only if its base_value
// matches (a stale or forged value fails) and its process_id is the caller's process koid
// (a value copied from another process fails): that is what keeps one process from using
// another's handle values. Rights are checked on every use.

import type { Core } from '../../hw/core.ts';
import type { Block } from '../code-layout.ts';
import type { PhysicalMemory } from '../../hw/phys-mem.ts';
import { PHYSMAP_BASE } from '../layout.ts';
import {
  ARENA_HANDLES,
  CH,
  H,
  HANDLE_BYTES,
  HANDLE_FIXED_BITS,
  HANDLE_INDEX_BITS,
  HANDLE_INDEX_MASK,
  HT,
  ZX,
  handleBase,
  handleValue,
} from './objects.ts';
import { locked } from '../priced.ts';

const run = (core: Core, b: Block): void => core.run(b);

export type Lookup =
  { ok: true; handle: number; dispatcher: number } | { ok: false; status: number };

/** HandleTable::GetDispatcherWithRights: the dispatcher behind `value` in the table at
 *  `table`, if it has every right in `rights` and is of `type`. Takes a reference. */
export function lookupHandle(
  core: Core,
  path: Block,
  arena: number,
  table: number,
  value: number,
  rights: number,
  type: number,
): Lookup {
  run(core, path);
  // Reader side of the table's BrwLock (BrwLock::ReadAcquire: LOCK XADD on its state word;
  // ReadRelease: another).
  core.store64(table + HT.lock, core.load64(table + HT.lock) + 1);
  locked(core);
  const release = (): void => {
    core.store64(table + HT.lock, core.load64(table + HT.lock) - 1);
    locked(core);
  };
  const mixer = core.load32(table + HT.mixer);
  if ((value & HANDLE_FIXED_BITS) !== HANDLE_FIXED_BITS) {
    release();
    return { ok: false, status: ZX.ERR_BAD_HANDLE };
  }
  const base = handleBase(value, mixer);
  const h = arena + (base & HANDLE_INDEX_MASK) * HANDLE_BYTES;
  // Handle::FromU32: the slot's base_value must be this value's (generation included);
  // then GetHandleLocked: the handle must belong to this process.
  if (
    core.load32(h + H.baseValue) !== base ||
    core.load64(h + H.processId) !== core.load64(table + HT.koid)
  ) {
    release();
    return { ok: false, status: ZX.ERR_BAD_HANDLE };
  }
  const have = core.load32(h + H.rights);
  const d = core.load64(h + H.dispatcher);
  release();
  if ((have & rights) !== rights) return { ok: false, status: ZX.ERR_ACCESS_DENIED };
  if (core.load64(d + CH.type) !== type) return { ok: false, status: ZX.ERR_WRONG_TYPE };
  // RefPtr copy: fbl::RefCounted::AddRef (a LOCK XADD).
  core.store64(d + CH.refcount, core.load64(d + CH.refcount) + 1);
  locked(core);
  return { ok: true, handle: h, dispatcher: d };
}

/** The RefPtr's release at the end of the system call. */
export function releaseRef(core: Core, path: Block, d: number): void {
  run(core, path);
  // fbl::RefCounted::Release: a LOCK XADD.
  core.store64(d + CH.refcount, core.load64(d + CH.refcount) - 1);
  locked(core);
}

/** Setup side of the arena (Handle::Make, HandleTable::AddHandle), uncharged: the root
 *  job's work before the measured programs run. */
export class HandleArena {
  private next = 0;
  private readonly free: number[] = [];

  constructor(
    private readonly mem: PhysicalMemory,
    /** Kernel address of slot 0. */
    readonly base: number,
  ) {}

  get gpa(): number {
    return this.base - PHYSMAP_BASE;
  }

  /** Makes a Handle to `dispatcher` with `rights` in `table`; returns its value. */
  make(table: number, dispatcher: number, rights: number): number {
    const index = this.free.pop() ?? this.next++;
    if (index >= ARENA_HANDLES) throw new RangeError('handle arena full');
    const at = this.gpa + index * HANDLE_BYTES;
    // GetNewBaseValue: the generation after the one stashed in the free slot.
    const old = this.mem.read32(at + H.baseValue);
    const gen = ((old >>> HANDLE_INDEX_BITS) + 1) & 0x3fff;
    const base = ((gen << HANDLE_INDEX_BITS) | index) >>> 0;
    const tg = table - PHYSMAP_BASE;
    this.mem.write64n(at + H.processId, this.mem.read32(tg + HT.koid));
    this.mem.write64n(at + H.dispatcher, dispatcher);
    this.mem.write32(at + H.rights, rights);
    this.mem.write32(at + H.baseValue, base);
    // Append to the table's list.
    const tail = this.mem.read32(tg + HT.tail) + this.mem.read32(tg + HT.tail + 4) * 2 ** 32;
    this.mem.write64n(at + H.prev, tail);
    this.mem.write64n(at + H.next, 0);
    const slot = this.base + index * HANDLE_BYTES;
    if (tail === 0) this.mem.write64n(tg + HT.head, slot);
    else this.mem.write64n(tail - PHYSMAP_BASE + H.next, slot);
    this.mem.write64n(tg + HT.tail, slot);
    this.mem.write64n(tg + HT.count, this.mem.read32(tg + HT.count) + 1);
    const dg = dispatcher - PHYSMAP_BASE;
    this.mem.write32(dg + CH.handleCount, this.mem.read32(dg + CH.handleCount) + 1);
    return handleValue(base, this.mem.read32(tg + HT.mixer));
  }

  /** Handle::TearDown's arena free (charged by the caller's path): process_id cleared,
   *  the base_value stashed for the slot's next generation. */
  release(core: Core, table: number, h: number): void {
    const prev = core.load64(h + H.prev);
    const next = core.load64(h + H.next);
    if (prev === 0) core.store64(table + HT.head, next);
    else core.store64(prev + H.next, next);
    if (next === 0) core.store64(table + HT.tail, prev);
    else core.store64(next + H.prev, prev);
    core.store64(table + HT.count, core.load64(table + HT.count) - 1);
    core.store64(h + H.processId, 0);
    core.store64(h + H.dispatcher, 0);
    core.store32(h + H.rights, 0);
    this.free.push((h - this.base) / HANDLE_BYTES);
  }
}
