// The EPT views and the hypercalls that make and change them (numbers and errors in
// hypercalls.ts). View i's EPTP is entry i of the view table in the Rootkernel's memory,
// read (charged) whenever a call names a view; 0 there means "no such view". Which frames
// belong to which view is bookkeeping the TypeScript keeps (a C Rootkernel would keep the
// same lists in its own memory; their cost is negligible next to the 512-entry table work).
//
// TLB consistency (SDM Vol. 3C §29.4.3): translations cached under an EPT are tagged with its
// EP4TA and survive until INVEPT, so
// - RemapPage invalidates the view on this core (single-context INVEPT);
// - DestroyView invalidates it on this core, and on every other core that has run a guest at
//   its next VM exit; the view's root frame (its EP4TA, the tag) is not reused until all have,
//   so no new view can inherit stale entries. A destroyed view is in no EPTP list and is no
//   core's current EPTP (both checked), so no core can switch to it meanwhile.

import { PAGE_4K } from '../hw/addr.ts';
import type { Core } from '../hw/core.ts';
import { EPT_R, EPT_W } from '../hw/formats.ts';
import type { Machine } from '../hw/machine.ts';
import { makeEptp } from '../hw/vmcs.ts';
import { invept } from '../hw/vmx.ts';
import { SITES, run } from './code.ts';
import { EPT_RWX, EptEditor, type FramePool } from './ept.ts';
import { HypercallError as E } from './hypercalls.ts';
import { MAX_VIEWS, type Layout } from './layout.ts';

export interface View {
  readonly id: number;
  readonly root: number;
  readonly eptp: number;
  /** Every table frame of the view, the root first. */
  readonly tables: number[];
}

interface Quarantined {
  readonly root: number;
  readonly eptp: number;
  readonly waiting: Set<number>;
}

export class Views {
  readonly base: View;
  private readonly live = new Map<number, View>();
  /** core id → guest-physical address of its mapped EPTP list. */
  private readonly listGpa = new Map<number, number>();
  /** core id → guest-physical address of its mapped upcall frame (upcall-frame.ts). */
  private readonly frameGpa = new Map<number, number>();
  private readonly quarantine: Quarantined[] = [];

  constructor(
    private readonly machine: Machine,
    private readonly layout: Layout,
    private readonly pool: FramePool,
    baseRoot: number,
    /** Host-physical address of each core's EPTP-list page. */
    private readonly lists: readonly number[],
  ) {
    this.base = { id: 0, root: baseRoot, eptp: makeEptp(baseRoot), tables: [] };
    // Boot time, uncharged.
    machine.mem.write64n(layout.viewTable, this.base.eptp);
  }

  /** The EPTP of a live view (0 = the base), or undefined. Uncharged, for TypeScript. */
  eptpOf(id: number): number | undefined {
    return id === 0 ? this.base.eptp : this.live.get(id)?.eptp;
  }

  get liveCount(): number {
    return this.live.size;
  }

  private editor(core: Core): EptEditor {
    return new EptEditor(core, this.layout.code, this.pool);
  }

  /** Reads view `id`'s slot in the view table; the view or an error code. */
  private find(core: Core, id: number): View | number {
    if (!Number.isInteger(id) || id < 0 || id >= MAX_VIEWS) return E.NoSuchView;
    const eptp = core.load64(this.layout.viewTable + id * 8);
    if (eptp === 0) return E.NoSuchView;
    return id === 0 ? this.base : this.live.get(id)!;
  }

  /** A view other than the base, or an error code. */
  private findCopy(core: Core, id: number): View | number {
    if (id === 0) return E.BaseViewImmutable;
    return this.find(core, id);
  }

  /** 0 if `gpa` is a 4 KiB-aligned address of guest RAM, else the error code. */
  private checkRam(gpa: number): number {
    if (!Number.isInteger(gpa) || gpa % PAGE_4K !== 0) return E.Unaligned;
    if (gpa < 0 || gpa >= this.layout.guestBytes) return E.OutsideRam;
    return 0;
  }

  // ---- Hypercalls (each returns RAX) --------------------------------------------------

  create(core: Core): number {
    run(core, this.layout.code, 'createView');
    const v = this.copyBase(core);
    return typeof v === 'number' ? v : v.id;
  }

  private copyBase(core: Core): View | number {
    let id = 1;
    while (this.live.has(id)) id++;
    if (id >= MAX_VIEWS) return E.OutOfMemory;
    const tables: number[] = [];
    const root = this.editor(core).copyTree(this.base.root, 4, tables);
    if (root < 0) {
      for (const t of tables) this.pool.give(t);
      return E.OutOfMemory;
    }
    const view: View = { id, root, eptp: makeEptp(root), tables };
    core.store64(this.layout.viewTable + id * 8, view.eptp);
    this.live.set(id, view);
    return view;
  }

  remap(core: Core, id: number, gpa: number, target: number): number {
    run(core, this.layout.code, 'remapPage');
    const v = this.findCopy(core, id);
    if (typeof v === 'number') return v;
    const bad = this.checkRam(gpa) || this.checkRam(target);
    if (bad !== 0) return bad;
    if (!this.remapIn(core, v, gpa, target)) return E.OutOfMemory;
    // Local only. SkyBridge remaps a view before any EPTP list holds it, so no other core
    // has cached it; remapping a view other cores may be running on would need a shootdown
    // (IPI, INVEPT on each, wait), SDM Vol. 3C §29.4.3.4.
    invept(core, this.layout.code + SITES.invept, 1, v.eptp);
    return 0;
  }

  private remapIn(core: Core, v: View, gpa: number, target: number): boolean {
    const ed = this.editor(core);
    const hpa = ed.lookup(this.base.root, target);
    return ed.map4k(v.root, gpa, hpa, EPT_RWX, v.tables);
  }

  destroy(core: Core, id: number): number {
    run(core, this.layout.code, 'destroyView');
    const v = this.findCopy(core, id);
    if (typeof v === 'number') return v;
    if (this.inUse(core, v)) return E.ViewInUse;
    core.store64(this.layout.viewTable + id * 8, 0);
    this.live.delete(id);
    for (const t of v.tables.slice(1)) this.pool.give(t);
    invept(core, this.layout.code + SITES.invept, 1, v.eptp);
    const waiting = new Set<number>();
    for (const c of this.machine.cores) if (c !== core && c.vmcs?.launched) waiting.add(c.id);
    if (waiting.size === 0) this.pool.give(v.root);
    else this.quarantine.push({ root: v.root, eptp: v.eptp, waiting });
    return 0;
  }

  /** Whether any core runs on `v` or any EPTP list holds it (compared by EP4TA: an entry
   *  with other flag bits still walks the same tables). Another core's current EPTP is read
   *  from its VMCS for free here; on hardware VMFUNC changes it without an exit, so a VMM
   *  must ask that core (IPI), a cost this model leaves out. */
  private inUse(core: Core, v: View): boolean {
    for (const c of this.machine.cores) if (c.vmcs?.eptp === v.eptp) return true;
    for (const list of this.lists) {
      run(core, this.layout.code, 'scanLoop', 512);
      for (let i = 0; i < 512; i++) {
        const e = core.load64(list + i * 8);
        if (e - (e % PAGE_4K) === v.root) return true;
      }
    }
    return false;
  }

  /** Runs the INVEPTs other cores asked of `core` (at each VM exit, before its handler). */
  drainPending(core: Core): void {
    for (let i = this.quarantine.length - 1; i >= 0; i--) {
      const q = this.quarantine[i]!;
      if (!q.waiting.delete(core.id)) continue;
      invept(core, this.layout.code + SITES.invept, 1, q.eptp);
      if (q.waiting.size === 0) {
        this.pool.give(q.root);
        this.quarantine.splice(i, 1);
      }
    }
  }

  bind(core: Core, clientRoot: number, serverRoot: number): number {
    run(core, this.layout.code, 'bindClientServer');
    const bad = this.checkRam(clientRoot) || this.checkRam(serverRoot);
    if (bad !== 0) return bad;
    const v = this.copyBase(core);
    if (typeof v === 'number') return v;
    if (!this.remapIn(core, v, clientRoot, serverRoot)) {
      this.live.delete(v.id);
      core.store64(this.layout.viewTable + v.id * 8, 0);
      for (const t of v.tables) this.pool.give(t);
      return E.OutOfMemory;
    }
    // No INVEPT: the view's root frame is fresh or was invalidated on every core before it
    // returned to the pool, so no core holds a translation tagged with it.
    return v.id;
  }

  mapList(core: Core, gpa: number): number {
    run(core, this.layout.code, 'mapEptpList');
    const r = this.mapWindowPage(core, gpa, this.lists[core.id]!, EPT_R | EPT_W, this.listGpa);
    if (r === 0) this.listGpa.set(core.id, gpa);
    return r;
  }

  /** MapUpcallFrame (upcall-frame.ts): `hpa`, this core's frame page, read/write at `gpa`. */
  mapFrame(core: Core, gpa: number, hpa: number): number {
    run(core, this.layout.code, 'mapEptpList');
    const r = this.mapWindowPage(core, gpa, hpa, EPT_R | EPT_W, this.frameGpa);
    if (r === 0) this.frameGpa.set(core.id, gpa);
    return r;
  }

  /** Maps host page `hpa` at `gpa` of the window in the base EPT and every view (present and
   *  future: views are copies of the base). */
  private mapWindowPage(
    core: Core,
    gpa: number,
    hpa: number,
    rights: number,
    mine: Map<number, number>,
  ): number {
    const l = this.layout;
    if (!Number.isInteger(gpa) || gpa % PAGE_4K !== 0) return E.Unaligned;
    if (gpa < l.windowBase || gpa >= l.windowEnd) return E.OutsideWindow;
    if (mine.has(core.id)) return E.AlreadyMapped;
    for (const g of [...this.listGpa.values(), ...this.frameGpa.values()])
      if (g === gpa) return E.AlreadyMapped;
    // Each EPT may need a new PD and PT on the way (checked first so that either every
    // view gets the page or none does).
    if (this.pool.available < 2 * (this.live.size + 1)) return E.OutOfMemory;
    const ed = this.editor(core);
    for (const v of [this.base, ...[...this.live.values()].sort((a, b) => a.id - b.id)]) {
      ed.map4k(v.root, gpa, hpa, rights, v.tables);
    }
    // No INVEPT: the entries changed from not present to present, and nothing is cached
    // from a walk that ended at a not-present entry (SDM Vol. 3A §4.10.4.3 and, for EPT,
    // Vol. 3C §29.4.3.4).
    return 0;
  }

  eptpValue(core: Core, id: number): number {
    run(core, this.layout.code, 'eptpValue');
    const v = this.find(core, id);
    return typeof v === 'number' ? v : v.eptp;
  }

  /** Guest-physical address of `coreId`'s mapped upcall frame, if mapped. */
  frameGpaOf(coreId: number): number | undefined {
    return this.frameGpa.get(coreId);
  }

  /** A frame from the pool (the upcall frame pages), or -1; giveFrame returns one. */
  takeFrame(): number {
    return this.pool.take();
  }

  giveFrame(frame: number): void {
    this.pool.give(frame);
  }

  /** Guest-physical address of `coreId`'s mapped EPTP list, if mapped. */
  listGpaOf(coreId: number): number | undefined {
    return this.listGpa.get(coreId);
  }
}
