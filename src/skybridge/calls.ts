// The kernel's side of SkyBridge calls. The kernel is not on a call's path, but it meets
// calls whenever a thread enters it from inside one (a timer tick, a fault, a system call
// made by a handler), and it must never take the thread's word for where it is:
// - on every entry it reads the tag page through its own mapping: what it finds is the view
//   the core is really in (lists.ts), which it keeps in its own memory and leaves for the
//   base view; on the exit it goes back into that view only if the view is still in the
//   thread's list, and otherwise unwinds the call;
// - a fault in a server's code kills that server; a fault in the trampoline (a landing that
//   did not add up: sb_wild) is nobody's proof of guilt; either way the call is unwound;
// - a system call from a server's view is refused (SbError.Syscall): a handler has no
//   authority of its own on the client's thread, and must not use the client's;
// - a call that runs for the server's budget in timer ticks is unwound (Timeout); ticks
//   are counted from the start of the thread's outermost call (onTick).
// Unwinding gives back every server stack the thread holds (the kernel reads which from
// each server's thread block for the thread, a word only that server can write, so a lie
// there harms only the liar) and resumes the thread in its own view at sb_abort with the
// status, which returns it from its outermost sb_call.

import type { Core } from '../hw/core.ts';
import { R } from '../hw/core.ts';
import { MSR, wrmsr } from '../hw/isa.ts';
import { vmfunc } from '../hw/vmx.ts';
import { Hypercall } from '../rootkernel/hypercalls.ts';
import type { Block, CodeLayout } from '../kernel/code-layout.ts';
import { COMMON_KERNEL } from '../kernel/kernel-mixes.ts';
import { physmap } from '../kernel/layout.ts';
import type { Process } from '../kernel/process.ts';
import type { KernelExtension, Subkernel } from '../kernel/subkernel.ts';
import { REG_RFLAGS, REG_RIP } from '../kernel/tcb-layout.ts';
import { EntryKind, type Thread } from '../kernel/thread.ts';
import { EptpLists } from './lists.ts';
import {
  LIST_ENTRIES,
  SB_ERROR_NAMES,
  SbError,
  St,
  Tag,
  Tb,
  THREADS_VA,
  TRAMPOLINE_BYTES,
  TRAMPOLINE_VA,
} from './layout.ts';
import type { Binding, SbEvent, Server } from './skybridge.ts';
import type { Trampoline } from './trampoline.ts';

/** Added by the kernel to the caller's Tb.server word at a tick: "this call seen". */
export const CALL_MARK = 2 ** 62;

export abstract class CallPaths implements KernelExtension {
  k!: Subkernel;
  lists!: EptpLists;
  /** The tag page's guest-physical frame (its base-view contents: zeros). */
  protected tagGpa = -1;
  protected readonly participants = new Set<Process>();
  /** Per thread: its thread block's frame in each address space it can reach. */
  protected readonly blocks = new Map<Thread, Map<Process, number>>();
  /** Per core: the process whose list is installed, and the length installed. */
  protected installedFor: (Process | null)[] = [];
  /** Per core: the process whose entries its list page holds (installedFor is cleared to
   *  ask for a reinstall; this is not). */
  protected pageOf: (Process | null)[] = [];
  protected installedTop: number[] = [];
  protected listVa: number[] = [];
  private currentIndex: number[] = [];
  /** Per thread: the view it was in when it last entered the kernel (kernel memory). */
  protected readonly savedView = new Map<Thread, number>();
  private viewWords = 0;
  /** Per thread: consecutive timer ticks that found it in a server's view. */
  private readonly ticks = new Map<Thread, number>();
  protected paths!: {
    entry: Block;
    install: Block;
    vmfunc: number;
    wrmsr: number;
    refuse: Block;
    unwind: Block;
  };

  abstract readonly events: SbEvent[];
  protected abstract get allBindings(): readonly Binding[];
  abstract server(id: number): Server | undefined;
  abstract serverOf(p: Process): Server | undefined;
  abstract onKill(k: Subkernel, core: Core, p: Process): void;
  protected abstract threadBlocks(t: Thread): Map<Process, number>;

  constructor(readonly trampoline: Trampoline) {}

  layoutKernel(text: CodeLayout): void {
    text.use(COMMON_KERNEL);
    text.align(64);
    // Counts are ours, for the C a Subkernel would run here: read the tag, compare, store
    // the thread's view; install a list (compare, then a loop of stores, charged as
    // stores); refuse a system call; unwind a call (a loop over the thread's blocks).
    this.paths = {
      entry: text.block(5, 18),
      install: text.block(10, 36),
      vmfunc: text.insn('vmfunc'),
      wrmsr: text.insn('wrmsr'),
      refuse: text.block(6, 22),
      unwind: text.block(24, 80),
    };
  }

  boot(k: Subkernel, core: Core): void {
    if (this.tagGpa < 0) {
      this.k = k;
      this.tagGpa = k.frames.frame();
      this.viewWords = physmap(k.frames.frames(8));
      this.lists = new EptpLists(() => this.k, this.tagGpa);
    }
    const gpa = k.rk.guestBytes + core.id * 4096;
    const r = k.hypercall(core, Hypercall.MapEptpList, gpa);
    if (r !== 0) throw new Error(`MapEptpList failed on core ${core.id}: ${r}`);
    this.listVa[core.id] = physmap(gpa);
    this.installedFor[core.id] = null;
    this.pageOf[core.id] = null;
    this.currentIndex[core.id] = 0;
    this.installedTop[core.id] = 1;
  }

  /** The kernel word holding `t`'s view (8 frames of them: thread ids below 4096). */
  protected viewWord(t: Thread): number {
    if (t.id >= 8 * 512) throw new Error('SkyBridge: thread ids above 4095 are not supported');
    return this.viewWords + t.id * 8;
  }

  onEntry(_k: Subkernel, core: Core, t: Thread): void {
    if (!this.participants.has(t.process)) return;
    const P = this.paths;
    core.run(P.entry);
    const index = core.load64(physmap(this.tagGpa) + Tag.index);
    core.store64(this.viewWord(t), index);
    this.savedView.set(t, index);
    this.viewRead(core, t, index);
    this.currentIndex[core.id] = index;
    // The kernel runs in the base view: in a server's view the thread's page-table root
    // shows the server's tables, which the kernel must not take for the thread's.
    if (index !== 0) this.switchView(core, 0);
  }

  beforeExit(_k: Subkernel, core: Core, next: Thread): void {
    const p = next.process;
    if (this.participants.has(p)) {
      this.threadBlocks(next);
      const gs = THREADS_VA + next.id * 4096;
      if (core.gsBase !== gs) wrmsr(core, this.paths.wrmsr, MSR.IA32_GS_BASE, gs);
    }
    if (this.installedFor[core.id] !== p) this.install(core, p);
    let index = this.savedView.get(next) ?? 0;
    if (index === 0) this.refreshIndex(core, next);
    else index = this.resolveView(core, next, index);
    if (index !== 0) {
      core.load64(this.viewWord(next));
      const e = this.lists.listOf(p)[index];
      if (e === null || e === undefined) {
        this.unwind(core, next, SbError.Revoked, 'its view was withdrawn');
        index = 0;
      }
    }
    if (index !== this.currentIndex[core.id]) this.switchView(core, index);
  }

  // Hooks for dynamic EPTP lists (dynamic-calls.ts); with static lists they do nothing.
  /** On entry, in the view the thread was in (before the kernel leaves it). */
  protected viewRead(_core: Core, _t: Thread, _index: number): void {}
  /** On the way out to `t`, which resumes in its own view. */
  protected refreshIndex(_core: Core, _t: Thread): void {}
  /** On the way out to `t`, which resumes in a server's view at `index`: the index to use. */
  protected resolveView(_core: Core, _t: Thread, index: number): number {
    return index;
  }
  /** A fault the dynamic lists answer (a VMFUNC to a slot that is not resident). */
  protected onMiss(_k: Subkernel, _core: Core, _t: Thread, _rip: number): boolean {
    return false;
  }
  /** The server whose view `t` was in at `index` when it entered the kernel. */
  protected serverIn(t: Thread, index: number): Server | undefined {
    const s = this.lists.listOf(t.process)[index]?.server;
    return s === undefined ? undefined : this.server(s.id);
  }

  /** Installs `p`'s EPTP list in `core`'s list page (entry 0, the base EPT, never changes). */
  private install(core: Core, p: Process): void {
    const P = this.paths;
    core.run(P.install);
    if (this.currentIndex[core.id] !== 0) this.switchView(core, 0);
    const list = this.lists.listOf(p);
    let top = 1;
    for (let i = LIST_ENTRIES - 1; i > 0; i--)
      if (list[i] !== null) {
        top = i + 1;
        break;
      }
    const n = Math.max(top, this.installedTop[core.id]!);
    for (let i = 1; i < n; i++) core.store64(this.listVa[core.id]! + i * 8, list[i]?.eptp ?? 0);
    this.installedFor[core.id] = p;
    this.pageOf[core.id] = p;
    this.installedTop[core.id] = top;
  }

  /** The kernel's own VMFUNC (CPL 0, at its site in kernel text). */
  private switchView(core: Core, index: number): void {
    core.regs.set(R.RAX, 0);
    core.regs.set(R.RCX, index);
    vmfunc(core, this.paths.vmfunc);
    this.currentIndex[core.id] = index;
  }

  onSyscall(k: Subkernel, core: Core, t: Thread): boolean {
    if ((this.savedView.get(t) ?? 0) === 0) return false;
    const P = this.paths;
    core.run(P.refuse);
    k.writeSaved(core, t, R.RAX, SbError.Syscall);
    this.note(core, t, `system call refused in server ${this.where(t)}'s view`);
    return true;
  }

  onTick(_k: Subkernel, core: Core, t: Thread): void {
    const index = this.savedView.get(t) ?? 0;
    if (index === 0) {
      this.ticks.delete(t);
      return;
    }
    const s = this.serverIn(t, index);
    let n = (this.ticks.get(t) ?? 0) + 1;
    // The count is per call: the trampoline writes the server's id into the caller's thread
    // block at every call (Tb.server, otherwise unread) and the kernel marks it here, so an
    // unmarked word means a new call since the last tick. Only the thread's own process
    // maps that page, so no server can restart its own count.
    const own = this.blocks.get(t)?.get(t.process);
    if (own !== undefined) {
      const at = physmap(own) + Tb.server;
      const w = core.load64(at);
      if (w < CALL_MARK) {
        n = 1;
        core.store64(at, w + CALL_MARK);
      }
    }
    const budget = s === undefined ? 0 : s.budgetTicks;
    if (n < budget) this.ticks.set(t, n);
    else this.unwind(core, t, SbError.Timeout, `server ${s?.id ?? '?'} overran ${budget} ticks`);
  }

  onFault(k: Subkernel, core: Core, t: Thread, rip: number): boolean {
    if (!this.participants.has(t.process)) return false;
    if (this.onMiss(k, core, t, rip)) return true;
    const index = this.savedView.get(t) ?? 0;
    const inTrampoline = rip >= TRAMPOLINE_VA && rip < TRAMPOLINE_VA + TRAMPOLINE_BYTES;
    if (index === 0) {
      // In its own view: the thread's own fault, unless a call of its own is in flight and
      // the trampoline is where it came apart (a server may have sent it back wrongly).
      const own = this.blocks.get(t)?.get(t.process);
      if (!inTrampoline || own === undefined) return false;
      if (core.load64(physmap(own) + Tb.flight) !== 1) return false;
      this.unwind(core, t, SbError.Aborted, `a landing in the trampoline at ${rip.toString(16)}`);
      return true;
    }
    const server = this.serverIn(t, index);
    if (inTrampoline || server === undefined) {
      this.unwind(core, t, SbError.Aborted, `a landing in the trampoline at ${rip.toString(16)}`);
    } else {
      const s = server;
      k.killProcess(core, s.process, `fault at ${rip.toString(16)} while serving a call`);
      this.unwind(core, t, SbError.ServerFault, `server ${s.id} faulted; killed`);
    }
    return true;
  }

  onStop(_k: Subkernel, core: Core, t: Thread): void {
    this.release(core, t);
    this.savedView.delete(t);
    this.ticks.delete(t);
  }

  /** Gives back the server stacks `t` holds, and clears the calls its servers had in
   *  flight on it (each server's thread block for `t`). */
  private release(core: Core, t: Thread): void {
    const blocks = this.blocks.get(t);
    if (blocks === undefined) return;
    for (const [q, gpa] of blocks) {
      if (q === t.process) continue;
      const tb = physmap(gpa);
      const held = core.load64(tb + Tb.held);
      const s = this.serverOf(q);
      if (held > 0 && s !== undefined) {
        const bit = (held - 1) & 63;
        // The busy bitmap, one 32-bit half at a time (the kernel's view: plain numbers).
        const at = physmap(s.stateGpa) + St.busy + (bit >= 32 ? 4 : 0);
        const word = core.load32(at);
        const mask = 2 ** (bit & 31);
        if (Math.floor(word / mask) % 2 === 1) core.store32(at, word - mask);
      }
      core.store64(tb + Tb.held, 0);
      core.store64(tb + Tb.flight, 0);
    }
  }

  /** Unwinds `t`'s call: its stacks back, and its saved context made to resume at
   *  sb_abort in its own view with `status` in RDI (sb_abort ignores every other register). */
  protected unwind(core: Core, t: Thread, status: number, why: string): void {
    const P = this.paths;
    core.run(P.unwind);
    this.release(core, t);
    core.store64(this.viewWord(t), 0);
    this.savedView.set(t, 0);
    this.ticks.delete(t);
    this.k.writeSaved(core, t, REG_RIP, this.trampoline.at.sb_abort);
    this.k.writeSaved(core, t, R.RDI, status);
    this.k.writeSaved(core, t, REG_RFLAGS, 0x202);
    t.entry = EntryKind.Interrupt;
    this.note(core, t, `call unwound (${SB_ERROR_NAMES[status]}): ${why}`);
  }

  private where(t: Thread): string {
    const index = this.savedView.get(t) ?? 0;
    return String(this.serverIn(t, index)?.id ?? '?');
  }

  protected note(core: Core, t: Thread, what: string): void {
    this.events.push({ cycle: core.cycles, core: core.id, thread: t.name, what });
  }
}
