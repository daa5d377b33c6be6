// Per-process EPTP lists and the views in them. Each process that takes part in SkyBridge has
// a list of up to 511 server views (entry 0 is its own EPT); a client bound to a server has
// that server's view at some index of its list, so the 511 limit is per client, as in the
// paper. The index is chosen per binding and written in the client's binding record, which
// the trampoline reads in whichever address space makes the call: in a chain (client → A →
// B), A's code runs on the client's thread with the client's list installed, so every
// process whose threads can run A's code needs B's view at the index A's record names. An
// index is therefore chosen free in all those lists at once (first fit), and a binding whose
// indices cannot be made to agree is refused before anything is allocated.
//
// Each view also remaps the tag page: its guest-physical frame shows, in this view only, a
// frame that says which view it is (its index, the server, the caller number at that server,
// the calling process). No page table lets user code write it, and VMFUNC is the only way
// to change views, so the tag is the one word about a thread's position user code cannot
// forge: the kernel reads it on every entry and the trampoline on every call.

import type { Core } from '../hw/core.ts';
import { Hypercall } from '../rootkernel/hypercalls.ts';
import type { Process } from '../kernel/process.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import { MISS_INDEX } from './dynamic-lists.ts';
import { LIST_ENTRIES, MAX_CALLERS, Tag } from './layout.ts';

/** What a server is to the list code: its id, process, and the caller numbers it gave out. */
export interface ListServer {
  readonly id: number;
  readonly process: Process;
  callers: number;
}

/** What a binding is to the list code. */
export interface ListBinding {
  readonly client: Process;
  readonly server: ListServer;
  /** Its index in the client's list; with dynamic lists it changes, and is MISS_INDEX
   *  (512, beyond every list) while the binding is not resident (dynamic-lists.ts). */
  index: number;
  active: boolean;
}

export interface ListEntry {
  readonly server: ListServer;
  readonly view: number;
  readonly eptp: number;
  readonly tagGpa: number;
}

export class EptpLists {
  /** Per process: its list, indexed 0..511 (0, its own EPT, is never an entry here). */
  readonly lists = new Map<Process, (ListEntry | null)[]>();
  private readonly views = new Map<string, ListEntry>();
  /** Bindings whose index the dynamic lists manage (dynamic-lists.ts): their view is one
   *  per (client, server), whatever slot it is at. */
  readonly dynamic = new WeakSet<ListBinding>();

  constructor(
    private readonly k: () => Subkernel,
    /** The tag page's guest-physical address. */
    private readonly tagGpa: number,
  ) {}

  listOf(p: Process): (ListEntry | null)[] {
    let l = this.lists.get(p);
    if (l === undefined)
      this.lists.set(p, (l = new Array<ListEntry | null>(LIST_ENTRIES).fill(null)));
    return l;
  }

  /** `p` and every server its active bindings reach, transitively. */
  reach(p: Process, bindings: readonly ListBinding[]): Process[] {
    const out = [p];
    for (let i = 0; i < out.length; i++)
      for (const b of bindings)
        if (b.active && b.client === out[i] && !out.includes(b.server.process))
          out.push(b.server.process);
    return out;
  }

  /** The processes whose threads can run `q`'s code (q among them). */
  reachers(q: Process, procs: Iterable<Process>, bindings: readonly ListBinding[]): Process[] {
    return [...procs].filter((p) => this.reach(p, bindings).includes(q));
  }

  /** What each process's list must hold: for every active binding of a process it reaches,
   *  the binding's index → its server. Throws if two disagree. */
  needs(
    procs: Iterable<Process>,
    bindings: readonly ListBinding[],
  ): Map<Process, Map<number, ListBinding>> {
    const out = new Map<Process, Map<number, ListBinding>>();
    for (const p of procs) {
      const want = new Map<number, ListBinding>();
      const reach = this.reach(p, bindings);
      for (const b of bindings) {
        if (!b.active || !reach.includes(b.client) || b.index >= LIST_ENTRIES) continue;
        const had = want.get(b.index)?.server;
        if (had !== undefined && had !== b.server)
          throw new Error(
            `index ${b.index} of ${p.name}'s EPTP list is wanted for servers ${had.id} and ${b.server.id}`,
          );
        want.set(b.index, b);
      }
      out.set(p, want);
    }
    return out;
  }

  /** The first index at which `q` can reach server `s` consistently with every list that
   *  would then hold it; throws with the reason if there is none. Nothing is changed. */
  plan(
    q: Process,
    s: ListServer,
    procs: Iterable<Process>,
    bindings: readonly ListBinding[],
  ): { index: number; affected: Process[] } {
    const affected = [...new Set([q, ...this.reachers(q, procs, bindings)])];
    // What the lists of `affected` must also hold once they reach `s`: its bindings and
    // those of everything it reaches, at their own indices.
    const below = this.reach(s.process, bindings);
    const carried = bindings.filter((b) => b.active && below.includes(b.client));
    const free = (i: number, srv: ListServer): boolean =>
      affected.every((p) => {
        const e = this.lists.get(p)?.[i];
        return e === null || e === undefined || e.server === srv;
      });
    for (const b of carried)
      if (!free(b.index, b.server))
        throw new Error(
          `server ${s.id} calls on to server ${b.server.id} at index ${b.index}, which a list that would reach it uses for another server`,
        );
    let fresh = 0;
    for (let index = 1; index < LIST_ENTRIES; index++) {
      if (!free(index, s) || carried.some((b) => b.index === index && b.server !== s)) continue;
      for (const p of affected) if (!this.views.has(this.key(p, s, index))) fresh++;
      if (s.callers + fresh > MAX_CALLERS)
        throw new Error(`server ${s.id} has ${MAX_CALLERS} caller views already`);
      return { index, affected };
    }
    throw new Error(
      `no index of ${q.name}'s EPTP list is free in every list that would hold server ${s.id} (${LIST_ENTRIES - 1} entries each)`,
    );
  }

  /** Makes every list hold exactly what it needs; returns the processes whose list changed. */
  sync(core: Core, procs: Iterable<Process>, bindings: readonly ListBinding[]): Set<Process> {
    const changed = new Set<Process>();
    for (const [p, want] of this.needs(procs, bindings)) {
      const list = this.listOf(p);
      for (let i = 1; i < LIST_ENTRIES; i++) {
        const b = want.get(i);
        const e =
          b === undefined
            ? null
            : this.dynamic.has(b)
              ? this.dynView(core, p, b.server)
              : this.view(core, p, b.server, i);
        if (list[i] !== e) {
          list[i] = e;
          changed.add(p);
        }
      }
    }
    return changed;
  }

  private key(p: Process, s: ListServer, i: number): string {
    return `${p.id}:${s.id}:${i}`;
  }

  /** Whether `p`'s view of `s` for a dynamic binding exists (no caller number taken yet). */
  hasDynView(p: Process, s: ListServer): boolean {
    return this.views.has(`${p.id}:${s.id}:d`);
  }

  /** The view of server `s` for a dynamic binding of `p`: one per (client, server), made
   *  once; its tag's index is rewritten whenever the binding moves (dynamic-calls.ts). */
  dynView(core: Core, p: Process, s: ListServer): ListEntry {
    return this.view(core, p, s, MISS_INDEX, `${p.id}:${s.id}:d`);
  }

  /** The view of server `s` for threads of `p` at index `i`: `p`'s page-table root remapped
   *  to the server's (BindClientServer), and the tag page remapped to this view's tag. Made
   *  once through the Rootkernel, charged to `core`. */
  private view(
    core: Core,
    p: Process,
    s: ListServer,
    i: number,
    key: string = this.key(p, s, i),
  ): ListEntry {
    let e = this.views.get(key);
    if (e !== undefined) return e;
    const k = this.k();
    const caller = s.callers++;
    const tagGpa = k.frames.frame();
    const mem = k.machine.mem;
    mem.write64n(tagGpa + Tag.index, i);
    mem.write64n(tagGpa + Tag.server, s.id);
    mem.write64n(tagGpa + Tag.caller, caller);
    mem.write64n(tagGpa + Tag.pid, p.id);
    const view = k.hypercall(
      core,
      Hypercall.BindClientServer,
      p.space.userRoot,
      s.process.space.userRoot,
    );
    if (view < 0) throw new Error(`BindClientServer failed: ${view}`);
    const r = k.hypercall(core, Hypercall.RemapPage, view, this.tagGpa, tagGpa);
    if (r !== 0) throw new Error(`RemapPage of the tag page failed: ${r}`);
    const eptp = k.hypercall(core, Hypercall.EptpValue, view);
    if (eptp < 0) throw new Error(`EptpValue failed: ${eptp}`);
    e = { server: s, view, eptp, tagGpa };
    k.machine.owners.byView.set(eptp, s.process.owner);
    this.views.set(key, e);
    return e;
  }
}
