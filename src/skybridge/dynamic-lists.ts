// Dynamic EPTP lists: a client bound to more servers than its list holds. The kernel keeps
// every binding (its view is made once, at binding time) and keeps at most `capacity` of
// them resident in the client's list; the others are "not resident".
//
// Which index the trampoline uses. The trampoline reads the index from the client's binding
// record (one per server id, read-only to the client) at every call, so the record is the
// map from a logical server id to a list slot, and the kernel rewrites it: a resident
// binding's record holds its slot, a non-resident one's holds MISS_INDEX (512). VMFUNC with
// ECX ≥ 512 is a VM exit (SDM Vol. 3C §26.5.6.3, "EPTP Switching": "If ECX ≥ 512, a VM exit
// occurs"; the same for a list entry that is not a valid EPTP, which is what an evicted slot
// holds on other cores), reason 59 (VMFUNC, SDM Vol. 3C Appendix C). Keeping the logical id
// in the record and rewriting only the slot keeps the trampoline as it is and lets resident
// calls cost exactly what they cost with a static list.
//
// A miss. The Rootkernel re-enters the Subkernel at its upcall with the registers the
// upcall overwrote kept in the core's upcall frame (src/rootkernel/upcall-frame.ts). If the
// exit is a VMFUNC at the trampoline's call site, in the thread's own view, and RDI (the
// server id sb_call was given) names an active dynamic binding of the thread's process, the
// kernel makes that binding resident (a free slot, else the LRU victim's), saves the
// thread's registers with RCX = the slot, and resumes it at the same VMFUNC, which now
// succeeds. Anything else goes on as before (the thread or its process is stopped).
//
// Replacement: LRU, because a client's calls usually have locality (a few hot servers) and
// LRU keeps exactly those; but the kernel does not see hits (no kernel is on a resident
// call's path), so "use" here is what the kernel observes: a binding is stamped when it is
// made resident, and at every kernel entry of a thread of the client both the view the
// thread is in and the last server it called (the server word of its thread block, which the
// trampoline writes at every call) are stamped. The victim is the binding with the oldest
// stamp among those no other thread of the client was last seen inside, ties to the lower
// slot: deterministic. With no kernel entries between misses this is FIFO by placement.
//
// Consistency (the evicted view may be live elsewhere):
// - The evicted view is not changed or freed, so no INVEPT is needed: its cached
//   translations are still right (SDM Vol. 3C §29.4.3.1: invalidation is needed when EPT
//   entries change), and it comes back with its TLB entries if it is refilled soon.
// - Other cores that have the client's list installed get the victim's slot cleared in their
//   list page at once (it is guest memory the kernel maps; no IPI) and reinstall the whole
//   list at their next exit from the kernel. A thread there that read the victim's (or the
//   newcomer's) slot before the change then misses instead of landing in the wrong view, and
//   the miss handler there sorts it out.
// - A thread preempted between its record read and its VMFUNC would use a stale slot: at its
//   next exit from the kernel, the saved R9 or RCX (whichever holds the index at that point)
//   is refreshed from the record, as restartable sequences do.
// - A thread that was inside a view when it was evicted (preempted in the handler, or running
//   on another core) is put back: at its next exit from the kernel, if its list no longer
//   holds its view at the slot the tag named, the kernel makes the binding resident again and
//   resumes it there; its trampoline state does not depend on the slot (a client's own calls
//   return to index 0).
//
// Scope: a binding is dynamic only when its client is no one's server (no other process runs
// the client's code, so only the client's list holds it) and its server calls no one (so no
// chain carries its index into other lists); other bindings keep the static first-fit
// indices of lists.ts and are never evicted.

import { LIST_ENTRIES } from './layout.ts';

/** The record's index for a binding that is not resident: VMFUNC with ECX ≥ 512 exits. */
export const MISS_INDEX = LIST_ENTRIES;

/** What the dynamic code needs of a binding. */
export interface DynBinding {
  readonly server: { readonly id: number };
  index: number;
  active: boolean;
}

/** Events of a client's dynamic list, counted by the kernel as they happen. */
export interface DynStats {
  /** Misses the kernel refilled (a VMFUNC exit resumed). */
  refills: number;
  /** Resident bindings evicted to make room. */
  evictions: number;
  /** Threads put back into a view that had been evicted while they were inside it. */
  replaced: number;
  /** Preempted threads whose stale index the kernel refreshed before resuming them. */
  refreshed: number;
}

/** One client's resident set: slot → binding, and each binding's last observed use. */
export class ResidentSet<B extends DynBinding> {
  readonly slots: (B | null)[];
  private readonly stamps = new Map<B, number>();
  readonly stats: DynStats = { refills: 0, evictions: 0, replaced: 0, refreshed: 0 };

  constructor(
    /** Slots 1..capacity may hold dynamic bindings (static ones may take some of them). */
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity >= LIST_ENTRIES)
      throw new RangeError(`a list holds 1..${LIST_ENTRIES - 1} servers, got ${capacity}`);
    this.slots = new Array<B | null>(capacity + 1).fill(null);
  }

  /** Marks `b` used at `clock`. */
  touch(b: B, clock: number): void {
    if (this.stamps.has(b)) this.stamps.set(b, clock);
  }

  forget(b: B): void {
    this.stamps.delete(b);
    if (b.index < this.slots.length && this.slots[b.index] === b) this.slots[b.index] = null;
  }

  /** Whether `b` is resident at the slot its index names. */
  resident(b: B): boolean {
    return b.index > 0 && b.index < this.slots.length && this.slots[b.index] === b;
  }

  /**
   * Where `b` goes: a free slot (the lowest that `taken` does not hold for a static
   * binding), or the least recently used resident binding's (ties: the lower slot), not one
   * of `busy` if another exists. Returns the slot and the victim (null for a free slot), or
   * null if every slot is static.
   */
  choose(
    taken: (slot: number) => boolean,
    busy: ReadonlySet<B>,
  ): { slot: number; victim: B | null } | null {
    for (let i = 1; i <= this.capacity; i++)
      if (this.slots[i] === null && !taken(i)) return { slot: i, victim: null };
    let best: B | null = null;
    let bestBusy: B | null = null;
    for (let i = 1; i <= this.capacity; i++) {
      const b = this.slots[i];
      if (b === null || b === undefined) continue;
      const older = (x: B | null) => x === null || this.stamps.get(b)! < this.stamps.get(x)!;
      if (busy.has(b)) {
        if (older(bestBusy)) bestBusy = b;
      } else if (older(best)) best = b;
    }
    const v = best ?? bestBusy;
    return v === null ? null : { slot: v.index, victim: v };
  }

  /** Records `b` at `slot` (its index is set by the caller), used at `clock`. */
  put(b: B, slot: number, clock: number): void {
    this.slots[slot] = b;
    this.stamps.set(b, clock);
  }
}
