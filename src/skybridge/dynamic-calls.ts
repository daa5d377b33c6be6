// The kernel's side of dynamic EPTP lists (the design, and why, in dynamic-lists.ts): the
// miss handler that refills a slot and resumes the VMFUNC, the eviction that keeps every
// core's list page consistent, and the two repairs at a thread's exit from the kernel (a
// stale index in a preempted thread's registers; a thread whose view was evicted while it
// was inside). Off unless SkyBridge is built with `dynamicLists`.

import type { Core } from '../hw/core.ts';
import { R } from '../hw/core.ts';
import type { Block, CodeLayout } from '../kernel/code-layout.ts';
import { physmap } from '../kernel/layout.ts';
import type { Process } from '../kernel/process.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import { REG_RFLAGS, REG_RIP } from '../kernel/tcb-layout.ts';
import { EntryKind, type Thread } from '../kernel/thread.ts';
import { UpcallRegs } from '../rootkernel/hypercalls.ts';
import { FRAME_REGS, MAP_UPCALL_FRAME, UpcallFrame } from '../rootkernel/upcall-frame.ts';
import { CALL_MARK, CallPaths } from './calls.ts';
import { MISS_INDEX, ResidentSet, type DynStats } from './dynamic-lists.ts';
import { BINDING_BYTES, Rec, Tag, Tb } from './layout.ts';
import type { Binding, Server } from './skybridge.ts';
import type { Trampoline } from './trampoline.ts';

/** Basic exit reason of a VMFUNC that failed (SDM Vol. 3C Appendix C). */
const EXIT_VMFUNC = 59;
/** Where the upcall frames go in the EPTP-list window (the lists take its first pages). */
const FRAME_WINDOW_OFFSET = 0x10_0000;

/** `mov (%r8), %r9` (the record's index) and `mov %r9, %rcx` in sb_call. */
const READ_INDEX = [0x4d, 0x8b, 0x08];
const INDEX_TO_RCX = [0x4c, 0x89, 0xc9];

function find(t: Trampoline, bytes: readonly number[], from: number, to: number): number {
  const base = t.at.sb_call;
  let at = -1;
  for (let a = from; a + bytes.length <= to; a++)
    if (bytes.every((b, i) => t.page[a - base + i] === b)) {
      if (at >= 0) throw new Error(`trampoline: two sites of ${bytes.join(' ')} in sb_call`);
      at = a;
    }
  if (at < 0) throw new Error(`trampoline: no ${bytes.join(' ')} in sb_call`);
  return at;
}

export abstract class DynamicCallPaths extends CallPaths {
  /** Per dynamic client: its resident set. */
  readonly resident = new Map<Process, ResidentSet<Binding>>();
  private clock = 0;
  private frameVa: number[] = [];
  private upcallReason: number[] = [];
  /** Per thread: the server whose view it was in at its last entry (0: its own view). */
  private readonly savedServer = new Map<Thread, number>();
  private miss: Block | null = null;
  /** sb_call's window in which the index is in a register: [readEnd, toRcx] in R9, then
   *  (toRcx, sb_vmfunc_call] in RCX. */
  private readonly window: { readEnd: number; toRcx: number; vmfunc: number };

  constructor(
    trampoline: Trampoline,
    /** Slots a dynamic client's list uses (1..511), or null: static lists only. */
    readonly dynamicCapacity: number | null,
  ) {
    super(trampoline);
    const v = trampoline.at.sb_vmfunc_call;
    const read = find(trampoline, READ_INDEX, trampoline.at.sb_call, v);
    this.window = {
      readEnd: read + READ_INDEX.length,
      toRcx: find(trampoline, INDEX_TO_RCX, read, v),
      vmfunc: v,
    };
  }

  protected abstract bindingsOf(p: Process): readonly Binding[];
  /** Guest-physical address of `p`'s binding records, if it has any. */
  protected abstract recordsOf(p: Process): number | undefined;

  /** Events of `p`'s dynamic list (zeros for a static one). */
  dynStats(p: Process): DynStats {
    return this.resident.get(p)?.stats ?? { refills: 0, evictions: 0, replaced: 0, refreshed: 0 };
  }

  override layoutKernel(text: CodeLayout): void {
    super.layoutKernel(text);
    // Counts are ours, for the C a Subkernel would run: check the reason and the site, find
    // the binding, choose the slot (a scan of the resident set's stamps, charged as a loop
    // below), write the records, tags and list entries (charged as stores), save the frame.
    if (this.dynamicCapacity !== null) this.miss = text.block(40, 128);
  }

  override boot(k: Subkernel, core: Core): void {
    super.boot(k, core);
    if (this.dynamicCapacity === null) return;
    const gpa = k.rk.guestBytes + FRAME_WINDOW_OFFSET + core.id * 4096;
    const r = k.hypercall(core, MAP_UPCALL_FRAME, gpa);
    if (r !== 0) throw new Error(`MapUpcallFrame failed on core ${core.id}: ${r}`);
    this.frameVa[core.id] = physmap(gpa);
    this.upcallReason[core.id] = 0;
  }

  override onEntry(k: Subkernel, core: Core, t: Thread): void {
    const f = this.frameVa[core.id];
    if (f !== undefined) {
      // The upcall this entry came from, if any; cleared so that no later entry takes it.
      const reason = core.load64(f + UpcallFrame.reason);
      this.upcallReason[core.id] = reason;
      if (reason !== 0) core.store64(f + UpcallFrame.reason, 0);
    }
    super.onEntry(k, core, t);
  }

  protected override viewRead(core: Core, t: Thread, index: number): void {
    const set = this.resident.get(t.process);
    if (set === undefined) return;
    // Which view this is, by its server (the index changes when a view moves).
    const sid = index === 0 ? 0 : core.load64(physmap(this.tagGpa) + Tag.server);
    this.savedServer.set(t, sid);
    const clock = ++this.clock;
    if (sid !== 0) {
      const b = this.dynBinding(t.process, sid);
      if (b !== undefined) set.touch(b, clock);
    }
    // The server it last called (the trampoline writes it at every call).
    const own = this.blocks.get(t)?.get(t.process);
    if (own !== undefined) {
      const last = core.load64(physmap(own) + Tb.server) % CALL_MARK;
      const b = this.dynBinding(t.process, last);
      if (b !== undefined) set.touch(b, clock);
    }
  }

  protected override serverIn(t: Thread, index: number): Server | undefined {
    if (!this.resident.has(t.process) || index === 0) return super.serverIn(t, index);
    return this.server(this.savedServer.get(t) ?? 0);
  }

  private dynBinding(p: Process, sid: number): Binding | undefined {
    if (sid <= 0) return undefined;
    return this.bindingsOf(p).find(
      (b) => b.server.id === sid && b.active && this.lists.dynamic.has(b),
    );
  }

  /** The saved-register slot of `reg` in `t`'s TCB (the trap-saved one where both exist). */
  private tcbAt(t: Thread, reg: number): number {
    const L = this.k.personality.tcb;
    const s = L.trapSaved.find((x) => x.reg === reg) ?? L.saved.find((x) => x.reg === reg);
    if (s === undefined) throw new Error(`the TCB layout saves no register ${reg}`);
    return t.tcb + s.offset;
  }

  protected override onMiss(_k: Subkernel, core: Core, t: Thread, rip: number): boolean {
    const reason = this.upcallReason[core.id] ?? 0;
    this.upcallReason[core.id] = 0;
    const set = this.resident.get(t.process);
    if (reason !== EXIT_VMFUNC || rip !== this.window.vmfunc || set === undefined) return false;
    if ((this.savedView.get(t) ?? 0) !== 0) return false;
    const f = this.frameVa[core.id]!;
    const b = this.dynBinding(t.process, core.load64(f + UpcallFrame.rdi));
    if (b === undefined) return false;
    core.run(this.miss!);
    const slot = this.makeResident(core, t, b);
    if (slot < 0) return false;
    // Save the thread as an interrupt entry would: the registers the upcall overwrote from
    // the frame, the others from the core, RSP from the upcall; resume at the VMFUNC with
    // RCX = the slot.
    const fromFrame = new Map(FRAME_REGS.map((x) => [x.reg, x.offset]));
    const L = this.k.personality.tcb;
    for (const s of [...L.saved, ...L.trapSaved]) {
      let v: number;
      if (s.reg === REG_RIP) v = rip;
      else if (s.reg === REG_RFLAGS) v = core.load64(f + UpcallFrame.rflags);
      else if (s.reg === R.RCX) v = slot;
      else if (s.reg === R.RSP) v = core.regs.get(UpcallRegs.rsp);
      else if (fromFrame.has(s.reg)) v = core.load64(f + fromFrame.get(s.reg)!);
      else v = core.regs.get(s.reg);
      core.store64(t.tcb + s.offset, v);
    }
    t.entry = EntryKind.Interrupt;
    set.stats.refills++;
    return true;
  }

  /**
   * Makes `b` resident in its client's list and returns its slot (-1 if every slot holds a
   * static binding). A binding resident already (a thread with a stale slot, or a core
   * that has not reinstalled) keeps its slot.
   */
  private makeResident(core: Core, t: Thread, b: Binding): number {
    const p = b.client;
    const set = this.resident.get(p)!;
    const clock = ++this.clock;
    if (set.resident(b)) {
      set.touch(b, clock);
      return b.index;
    }
    const list = this.lists.listOf(p);
    // Bindings another thread of the client was last seen inside: evicted only if nothing
    // else can be.
    const busy = new Set<Binding>();
    for (const u of p.threads) {
      if (u === t) continue;
      const x = this.dynBinding(p, this.savedServer.get(u) ?? 0);
      if (x !== undefined) busy.add(x);
    }
    const choice = set.choose(
      (i) => list[i] !== null && list[i] !== undefined && set.slots[i] === null,
      busy,
    );
    if (choice === null) return -1;
    const { slot, victim } = choice;
    if (victim !== null) {
      // First the victim's way in is closed: its record, its tag, this slot on every core.
      this.writeIndex(core, victim, MISS_INDEX);
      set.forget(victim);
      set.stats.evictions++;
    }
    const e = this.lists.dynView(core, p, b.server);
    list[slot] = e;
    set.put(b, slot, clock);
    for (const c of this.k.machine.cores) {
      // Every page that holds the client's entries, whether or not it is already due for a
      // reinstall: it may be used until then.
      if (this.pageOf[c.id] !== p) continue;
      if (c === core && this.installedFor[c.id] === p) {
        core.store64(this.listVa[c.id]! + slot * 8, e.eptp);
        this.installedTop[c.id] = Math.max(this.installedTop[c.id]!, slot + 1);
      } else {
        // Not that core's entry yet: a VMFUNC there to this slot exits and is sorted out by
        // that core, which reinstalls the whole list at its next exit from the kernel.
        core.store64(this.listVa[c.id]! + slot * 8, 0);
        this.installedFor[c.id] = null;
      }
    }
    // Last, the way in is opened: the record the trampoline reads.
    this.writeIndex(core, b, slot);
    return slot;
  }

  /** Writes `b`'s index into its record and its view's tag. */
  private writeIndex(core: Core, b: Binding, index: number): void {
    b.index = index;
    const rec = this.recordsOf(b.client)!;
    core.store64(physmap(rec) + b.server.id * BINDING_BYTES + Rec.index, index);
    const e = this.lists.dynView(core, b.client, b.server);
    core.store64(physmap(e.tagGpa) + Tag.index, index);
  }

  /** A thread preempted between its record read and its VMFUNC holds an index that may
   *  have changed since: refresh it from the record (restartable-sequence style). */
  protected override refreshIndex(core: Core, t: Thread): void {
    if (t.entry !== EntryKind.Interrupt || !this.resident.has(t.process)) return;
    const rip = core.load64(this.tcbAt(t, REG_RIP));
    const w = this.window;
    if (rip < w.readEnd || rip > w.vmfunc) return;
    const sid = core.load64(this.tcbAt(t, R.RDI));
    const b = this.dynBinding(t.process, sid);
    if (b === undefined) return;
    const reg = rip <= w.toRcx ? 9 : R.RCX;
    const at = this.tcbAt(t, reg);
    if (core.load64(at) === b.index) return;
    core.store64(at, b.index);
    this.resident.get(t.process)!.stats.refreshed++;
  }

  /** A thread that resumes inside a view that has moved or been evicted is put back in it. */
  protected override resolveView(core: Core, t: Thread, index: number): number {
    const set = this.resident.get(t.process);
    if (set === undefined) return index;
    const sid = this.savedServer.get(t) ?? 0;
    const e = this.lists.listOf(t.process)[index];
    if (e !== null && e !== undefined && e.server.id === sid) return index;
    const b = this.dynBinding(t.process, sid);
    if (b === undefined) return MISS_INDEX;
    const slot = this.makeResident(core, t, b);
    if (slot < 0) return MISS_INDEX;
    core.store64(this.viewWord(t), slot);
    this.savedView.set(t, slot);
    set.stats.replaced++;
    return slot;
  }

  /**
   * Whether a binding of `p` to `s` is made dynamic: dynamic lists are on, `p` is not a
   * server and no other process runs its code, and `s` calls no one (no chain carries the
   * index into another list). A server's own bindings stay static, so that it can be
   * chained through. Throws if `s`'s process binds dynamically itself (its
   * bindings could not be carried into `p`'s list).
   */
  protected dynamicFor(p: Process, s: Server): boolean {
    if (
      this.allBindings.some((b) => b.active && this.lists.dynamic.has(b) && b.server.process === p)
    )
      throw new Error(
        `process ${p.name} serves a client that binds to it dynamically; it cannot call on`,
      );
    const below = this.lists.reach(s.process, this.allBindings);
    if (
      this.allBindings.some(
        (b) => b.active && below.includes(b.client) && this.lists.dynamic.has(b),
      )
    )
      throw new Error(
        `server ${s.id} (${s.process.name}) has dynamic bindings of its own; no chain can pass through it`,
      );
    if (this.dynamicCapacity === null || this.serverOf(p) !== undefined) return false;
    return (
      this.lists.reachers(p, this.participants, this.allBindings).length <= 1 && below.length === 1
    );
  }

  /** A new dynamic binding: its view made now; resident at once if a slot is free (the
   *  lowest one no static binding holds), else not resident until its first call misses. */
  protected placeNew(core: Core, b: Binding, rec: number): void {
    const p = b.client;
    let set = this.resident.get(p);
    if (set === undefined) this.resident.set(p, (set = new ResidentSet(this.dynamicCapacity!)));
    this.lists.dynamic.add(b);
    const e = this.lists.dynView(core, p, b.server);
    const list = this.lists.listOf(p);
    let slot = MISS_INDEX;
    for (let i = 1; i <= set.capacity; i++)
      if (set.slots[i] === null && (list[i] === null || list[i] === undefined)) {
        slot = i;
        break;
      }
    const mem = this.k.machine.mem;
    b.index = slot;
    mem.write64n(rec + Rec.index, slot);
    mem.write64n(e.tagGpa + Tag.index, slot);
    if (slot !== MISS_INDEX) set.put(b, slot, 0);
  }

  override onStop(k: Subkernel, core: Core, t: Thread): void {
    super.onStop(k, core, t);
    this.savedServer.delete(t);
  }
}
