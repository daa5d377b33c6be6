// SkyBridge's Subkernel part: server and client registration (mapping the trampoline, server
// stacks, calling keys, shared buffers, and asking the Rootkernel for the client's view of
// each server), the EPTP list installed for whichever process a core returns to, and the
// identity page through which the kernel knows which view a thread was in. Personality-
// independent: it uses only the common Subkernel core and the Rootkernel's hypercalls.

import { createHash } from 'node:crypto';
import type { Core } from '../hw/core.ts';
import { R } from '../hw/core.ts';
import { vmfunc } from '../hw/vmx.ts';
import { Hypercall } from '../rootkernel/hypercalls.ts';
import type { Block, CodeLayout } from '../kernel/code-layout.ts';
import { physmap } from '../kernel/layout.ts';
import type { Process } from '../kernel/process.ts';
import type { KernelExtension, Subkernel } from '../kernel/subkernel.ts';
import type { Thread, UserEvent } from '../kernel/thread.ts';
import type { UserApi } from '../kernel/user.ts';
import {
  BINDINGS_VA,
  BINDING_BYTES,
  IDENTITY_VA,
  KEY_TABLE_VA,
  MAX_CLIENTS,
  MAX_CONCURRENT,
  SERVER_STACKS_VA,
  SERVER_STACK_BYTES,
  SERVER_STATE_VA,
  SHARED_SLOT_BYTES,
  SHARED_VA,
  TRAMPOLINE_BYTES,
  TRAMPOLINE_VA,
} from './layout.ts';
import { layoutTrampoline, type Trampoline } from './trampoline.ts';

/** What a server's handler receives: the register arguments, the shared buffer's address
 *  (in both address spaces), and the client's key-table slot. */
export interface ServerCall {
  args: number[];
  buffer: number;
  bufferBytes: number;
  clientSlot: number;
}

/** A server's handler: runs on the calling client's thread, in the server's address space. */
export type ServerHandler = (u: UserApi, call: ServerCall) => Generator<UserEvent, number[], void>;

export interface Server {
  readonly id: number;
  readonly process: Process;
  readonly handler: ServerHandler;
  readonly maxConcurrent: number;
  readonly keyTableGpa: number;
  readonly stateGpa: number;
  readonly slots: (Binding | null)[];
}

export interface Binding {
  readonly id: number;
  readonly client: Process;
  readonly server: Server;
  /** Index of the server's view in the client's EPTP list (1..511). */
  readonly index: number;
  readonly slot: number;
  readonly key: number;
  readonly view: number;
  readonly eptp: number;
  readonly buffer: number;
  readonly bufferBytes: number;
  active: boolean;
}

export interface SkyBridgeOptions {
  /** Seed of the calling-key generator (deterministic runs). */
  seed: number;
}

const LIST_ENTRIES = 512;

export class SkyBridge implements KernelExtension {
  readonly trampoline: Trampoline;
  readonly servers: Server[] = [];
  readonly bindings: Binding[] = [];
  k!: Subkernel;
  /** Kernel text: installing a process's EPTP list, the kernel's own VMFUNC, the fault path. */
  private install!: Block;
  private kernelVmfunc = 0;
  faultPath!: Block;
  /** Kernel text: giving back the server stacks of a thread stopped inside a call. */
  private reclaim!: Block;
  private trampolineGpa = -1;
  /** Per process: its EPTP list's entries by index (the server ID), 0 where none. */
  private readonly lists = new Map<Process, number[]>();
  /** Processes with an unregistered binding whose view is still in their list. */
  private readonly revoking = new Set<Process>();
  private readonly views = new Map<string, { view: number; eptp: number }>();
  private readonly bindingPages = new Map<Process, number>();
  private readonly identityPages = new Map<Thread, number>();
  private readonly identityMapped = new Map<Process, Set<Thread>>();
  /** Per thread: the server stacks its calls hold, outermost first (a chain holds one in
   *  each server). The model's record of what the kernel would find by walking the stopped
   *  thread's frames: its saved RSP is in the innermost server stack, and each server stack
   *  holds the trampoline's frame of the call made from it. */
  private readonly holding = new Map<Thread, { server: Server; bit: number }[]>();
  private listVa: number[] = [];
  private installedFor: (Process | null)[] = [];
  private currentIndex: number[] = [];
  private installedLength: number[] = [];
  private keyCounter = 0;

  constructor(readonly options: SkyBridgeOptions = { seed: 1 }) {
    this.trampoline = layoutTrampoline();
  }

  // ---- KernelExtension -------------------------------------------------------------------

  layoutKernel(text: CodeLayout): void {
    text.align(64);
    // Per context switch: compare the incoming process with the installed one, loop over
    // its entries (the stores are charged as stores).
    this.install = text.block(10, 36);
    this.kernelVmfunc = text.insn('vmfunc');
    this.faultPath = text.block(20, 64);
    this.reclaim = text.block(12, 40);
  }

  boot(k: Subkernel, core: Core): void {
    this.k = k;
    const gpa = k.rk.guestBytes + core.id * 4096;
    const r = k.hypercall(core, Hypercall.MapEptpList, gpa);
    if (r !== 0) throw new Error(`MapEptpList failed on core ${core.id}: ${r}`);
    this.listVa[core.id] = physmap(gpa);
    this.installedFor[core.id] = null;
    this.currentIndex[core.id] = 0;
    this.installedLength[core.id] = 0;
  }

  beforeExit(k: Subkernel, core: Core, next: Thread): void {
    const p = next.process;
    // A revoked view waiting for the threads inside it to leave: retire it once they have.
    if (this.revoking.has(p))
      this.retireViews(p, (t) => core.load64(physmap(this.identityPages.get(t)!)));
    if (this.installedFor[core.id] !== p) {
      // Install the incoming process's EPTP list: its views at their indices, and clear
      // whatever the previous process had beyond them. Entry 0 (the base EPT) never changes.
      core.exec(this.install.at, this.install.bytes, this.install.instructions);
      const entries = this.lists.get(p) ?? [];
      const n = Math.max(entries.length, this.installedLength[core.id]!);
      for (let i = 1; i < n; i++) core.store64(this.listVa[core.id]! + i * 8, entries[i] ?? 0);
      this.installedFor[core.id] = p;
      this.installedLength[core.id] = entries.length;
      if (this.currentIndex[core.id] !== 0) this.switchView(core, 0);
    }
    // A thread preempted while in a server goes back into that server's view.
    const id = this.identityPages.get(next);
    if (id !== undefined) {
      const index = core.load64(physmap(id));
      if (index !== this.currentIndex[core.id]) this.switchView(core, index);
    } else if (this.currentIndex[core.id] !== 0) {
      this.switchView(core, 0);
    }
  }

  /**
   * A thread stopped while inside a server (its process killed, from another thread or
   * core): its call never returns through the trampoline, so the kernel frees the server
   * stacks it held, through its own mapping of each server's state page. Without this, the
   * server answered Busy to every other client for good once maxConcurrent such threads had
   * died inside it.
   */
  onStop(_k: Subkernel, core: Core, t: Thread): void {
    const held = this.holding.get(t);
    if (held === undefined) return;
    this.holding.delete(t);
    core.exec(this.reclaim.at, this.reclaim.bytes, this.reclaim.instructions);
    for (const { server, bit } of held.reverse()) {
      const state = physmap(server.stateGpa);
      const busy = core.load64(state);
      if (Math.floor(busy / 2 ** bit) % 2 === 1) core.store64(state, busy - 2 ** bit);
    }
  }

  /** The trampoline took stack `bit` of `server` for a call of `t`. */
  holdStack(t: Thread, server: Server, bit: number): void {
    let held = this.holding.get(t);
    if (held === undefined) this.holding.set(t, (held = []));
    held.push({ server, bit });
  }

  /** The innermost stack `t` held was freed (the call returned or was refused). */
  releaseStack(t: Thread): void {
    const held = this.holding.get(t);
    held?.pop();
    if (held?.length === 0) this.holding.delete(t);
  }

  /** The kernel's own VMFUNC (CPL 0, at its site in kernel text). */
  private switchView(core: Core, index: number): void {
    core.regs.set(R.RAX, 0);
    core.regs.set(R.RCX, index);
    vmfunc(core, this.kernelVmfunc);
    this.currentIndex[core.id] = index;
  }

  /** Tells the kernel that `core` now runs in view `index` (the trampoline switched). */
  noteView(core: Core, index: number): void {
    this.currentIndex[core.id] = index;
  }

  // ---- Registration (the Subkernel's work; page tables written directly, uncharged; the
  // Rootkernel's EPT work is charged to the core that asks) --------------------------------

  /**
   * A fresh 52-bit calling key: SHA-256 of the kernel's secret seed and a counter, so runs
   * are deterministic yet one key says nothing about another (a client that knows its own
   * key cannot compute the next client's). Still a secret, not a capability: it can be
   * guessed, and nothing limits the guessing (skybridge.md; test/skybridge/security-keys).
   */
  private nextKey(): number {
    const h = createHash('sha256')
      .update(`skybridge-key:${this.options.seed}:${++this.keyCounter}`)
      .digest();
    return (h.readUInt32LE(0) & 0xfffff) * 2 ** 32 + h.readUInt32LE(4) || 1;
  }

  private mapTrampoline(p: Process): void {
    if (this.trampolineGpa < 0) {
      this.trampolineGpa = this.k.frames.frames(TRAMPOLINE_BYTES / 4096);
      this.k.machine.mem.writeBytes(this.trampolineGpa, this.trampoline.code.bytes);
    }
    if (!this.lists.has(p) && !this.servers.some((s) => s.process === p)) {
      p.space.map(TRAMPOLINE_VA, this.trampolineGpa, TRAMPOLINE_BYTES, { writable: false });
    }
  }

  /** Registers `p` as a server whose `handler` serves at most `maxConcurrent` calls at once
   *  (one stack each). Returns the server ID. */
  registerServer(p: Process, handler: ServerHandler, maxConcurrent: number): number {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > MAX_CONCURRENT) {
      throw new RangeError(`maxConcurrent must be 1..${MAX_CONCURRENT}, got ${maxConcurrent}`);
    }
    if (this.servers.some((s) => s.process === p))
      throw new Error(`process ${p.name} is already a server`);
    this.mapTrampoline(p);
    const f = this.k.frames;
    const keyTableGpa = f.frame();
    p.space.map(KEY_TABLE_VA, keyTableGpa, 4096, { writable: false, noExec: true });
    const stateGpa = f.frame();
    p.space.map(SERVER_STATE_VA, stateGpa, 4096, { writable: true, noExec: true });
    this.k.machine.mem.write64n(stateGpa + 8, maxConcurrent);
    const stacks = (maxConcurrent * SERVER_STACK_BYTES) / 4096;
    p.space.map(SERVER_STACKS_VA, f.frames(stacks), maxConcurrent * SERVER_STACK_BYTES, {
      writable: true,
      noExec: true,
    });
    // The server ID is its index in every EPTP list (entry 0 is the process's own view).
    const id = this.servers.length + 1;
    if (id >= LIST_ENTRIES)
      throw new Error(`at most ${LIST_ENTRIES - 1} servers fit in an EPTP list`);
    // Word 2 of the state page: the server's ID, which the return path checks.
    this.k.machine.mem.write64n(stateGpa + 16, id);
    const s: Server = {
      id,
      process: p,
      handler,
      maxConcurrent,
      keyTableGpa,
      stateGpa,
      slots: [],
    };
    this.servers.push(s);
    return s.id;
  }

  server(id: number): Server | undefined {
    return this.servers[id - 1];
  }

  /**
   * Binds client `p` to server `serverId` from kernel mode on `core`: a key in the server's
   * table, the client's view of the server from the Rootkernel (BindClientServer, then its
   * EPTP), an entry in the client's EPTP list, the binding record, a shared buffer.
   */
  registerClient(
    core: Core,
    p: Process,
    serverId: number,
    opts: { bufferBytes?: number } = {},
  ): Binding {
    const s = this.server(serverId);
    if (s === undefined) throw new Error(`no server ${serverId}`);
    if (s.process === p) throw new Error(`process ${p.name} cannot bind to itself`);
    if (s.process.killed) throw new Error(`server ${serverId} (${s.process.name}) was killed`);
    if (core.cpl !== 0) throw new Error('registration runs in kernel mode');
    const list = this.lists.get(p) ?? [0];
    if (list.length >= LIST_ENTRIES)
      throw new Error(
        `process ${p.name} is bound to ${LIST_ENTRIES - 1} servers already (EPTP list full)`,
      );
    let slot = s.slots.findIndex((b) => b === null);
    if (slot < 0) slot = s.slots.length;
    if (slot >= MAX_CLIENTS)
      throw new Error(`server ${serverId} has ${MAX_CLIENTS} clients already`);
    this.mapTrampoline(p);
    this.lists.set(p, list);
    const direct = this.viewFor(core, p, s);
    const index = s.id;
    const key = this.nextKey();
    const mem = this.k.machine.mem;
    mem.write64n(s.keyTableGpa + slot * 8, key);
    let page = this.bindingPages.get(p);
    if (page === undefined) {
      page = this.k.frames.frame();
      this.bindingPages.set(p, page);
      p.space.map(BINDINGS_VA, page, 4096, { writable: false, noExec: true });
    }
    const id = this.bindings.length + 1;
    const bufferBytes = Math.max(4096, Math.ceil((opts.bufferBytes ?? 4096) / 4096) * 4096);
    if (bufferBytes > SHARED_SLOT_BYTES)
      throw new RangeError(`shared buffer at most ${SHARED_SLOT_BYTES} bytes`);
    const buffer = SHARED_VA + id * SHARED_SLOT_BYTES;
    const bufGpa = this.k.frames.frames(bufferBytes / 4096);
    p.space.map(buffer, bufGpa, bufferBytes, { writable: true, noExec: true });
    s.process.space.map(buffer, bufGpa, bufferBytes, { writable: true, noExec: true });
    const rec = page + serverId * BINDING_BYTES;
    mem.write64n(rec, index);
    mem.write64n(rec + 8, slot);
    mem.write64n(rec + 16, key);
    mem.write64n(rec + 24, buffer);
    const b: Binding = {
      id,
      client: p,
      server: s,
      index,
      slot,
      key,
      view: direct.view,
      eptp: direct.eptp,
      buffer,
      bufferBytes,
      active: true,
    };
    s.slots[slot] = b;
    this.bindings.push(b);
    // Chains: a thread of any process that reaches `p` may now call on into `s` (and what
    // `s` reaches) from `p`'s handler, with its own EPTP list; give each such process its
    // view of each server it can reach, at the server's index.
    for (const q of [...this.lists.keys()]) {
      for (const srv of this.reach(q)) {
        if (srv === q) continue;
        this.viewFor(
          core,
          q,
          this.servers.find((x) => x.process === srv)!,
        );
      }
    }
    // Cores running this client pick the new entry up at their next exit to it.
    this.installedFor = this.installedFor.map((q) => (q === p ? null : q));
    // Every thread that can now reach the server needs its identity page mapped there.
    for (const t of this.identityPages.keys()) this.identityOf(t);
    for (const t of p.threads) this.identityOf(t);
    return b;
  }

  /** The view of server `s` for threads of process `q` (q's page-table root remapped to the
   *  server's), made once through the Rootkernel and entered in q's EPTP list at s.id. */
  private viewFor(core: Core, q: Process, s: Server): { view: number; eptp: number } {
    const key = `${q.id}:${s.id}`;
    let v = this.views.get(key);
    if (v === undefined) {
      const view = this.k.hypercall(
        core,
        Hypercall.BindClientServer,
        q.space.userRoot,
        s.process.space.userRoot,
      );
      if (view < 0) throw new Error(`BindClientServer failed: ${view}`);
      const eptp = this.k.hypercall(core, Hypercall.EptpValue, view);
      if (eptp < 0) throw new Error(`EptpValue failed: ${eptp}`);
      v = { view, eptp };
      this.views.set(key, v);
    }
    const list = this.lists.get(q) ?? [0];
    this.lists.set(q, list);
    while (list.length <= s.id) list.push(0);
    list[s.id] = v.eptp;
    this.installedFor = this.installedFor.map((x) => (x === q ? null : x));
    return v;
  }

  /** Unbinds: the server's key slot is cleared (a call in flight fails its return check) and
   *  the list entry removed. */
  /**
   * A killed process leaves SkyBridge: as a server, every binding to it is revoked (its
   * clients get NotBound instead of calls into a dead process's code, which would otherwise
   * still run on their threads), and no client can bind to it again; as a client, its own
   * bindings are revoked (their key slots freed).
   */
  onKill(_k: Subkernel, _core: Core, p: Process): void {
    for (const b of this.bindings)
      if (b.active && (b.server.process === p || b.client === p)) this.unregisterClient(b);
  }

  unregisterClient(b: Binding): void {
    const mem = this.k.machine.mem;
    mem.write64n(b.server.keyTableGpa + b.slot * 8, 0);
    b.server.slots[b.slot] = null;
    const page = this.bindingPages.get(b.client)!;
    for (let i = 0; i < 4; i++) mem.write64n(page + b.server.id * BINDING_BYTES + i * 8, 0);
    b.active = false;
    // The view itself leaves the client's list only when no thread of the client is inside
    // the server (the kernel would resume it into a removed entry: a VMFUNC failure in the
    // kernel) and no other binding still reaches the server (a chain through another one).
    this.revoking.add(b.client);
    this.retireViews(b.client, (t) => this.k.machine.mem.read32(this.identityPages.get(t)!));
  }

  /** Clears the list entries of `p` that nothing needs any more (see unregisterClient);
   *  `inside(t)` reads the view index thread `t` is in from its identity page. */
  private retireViews(p: Process, inside: (t: Thread) => number): void {
    const list = this.lists.get(p)!;
    const reached = new Set(this.reach(p).map((q) => q.id));
    const busy = new Set(
      p.threads.filter((t) => t.alive && this.identityPages.has(t)).map((t) => inside(t)),
    );
    let pending = false;
    let changed = false;
    for (let i = 1; i < list.length; i++) {
      if (list[i] === 0) continue;
      const s = this.server(i);
      if (s !== undefined && reached.has(s.process.id)) continue;
      if (busy.has(i)) pending = true;
      else {
        list[i] = 0;
        changed = true;
      }
    }
    if (!pending) this.revoking.delete(p);
    if (changed) this.installedFor = this.installedFor.map((q) => (q === p ? null : q));
  }

  /**
   * The user address of `t`'s identity page: one page per thread in the whole system, at the
   * same address in the thread's own process and in every server its calls can reach (a
   * chain's servers too), since the trampoline writes it from whichever view it is in.
   * Mapped on first use and after every new binding.
   */
  identityOf(t: Thread): number {
    const va = IDENTITY_VA + t.id * 4096;
    let gpa = this.identityPages.get(t);
    if (gpa === undefined) {
      gpa = this.k.frames.frame();
      this.identityPages.set(t, gpa);
    }
    for (const q of this.reach(t.process)) {
      let mapped = this.identityMapped.get(q);
      if (mapped === undefined) this.identityMapped.set(q, (mapped = new Set()));
      if (mapped.has(t)) continue;
      q.space.map(va, gpa, 4096, { writable: true, noExec: true });
      mapped.add(t);
    }
    return va;
  }

  /** `p` and every server process its bindings reach, transitively. */
  private reach(p: Process): Process[] {
    const out = [p];
    for (let i = 0; i < out.length; i++) {
      for (const b of this.bindings) {
        if (b.active && b.client === out[i] && !out.includes(b.server.process))
          out.push(b.server.process);
      }
    }
    return out;
  }

  /** The kernel's address of `t`'s identity page (for attribution). */
  identityKernel(t: Thread): number | undefined {
    const g = this.identityPages.get(t);
    return g === undefined ? undefined : physmap(g);
  }

  bindingOf(p: Process, serverId: number): Binding | undefined {
    return this.bindings.find((b) => b.client === p && b.server.id === serverId && b.active);
  }

  /** The server (if any) whose view `t` was running in when it entered the kernel, read from
   *  its identity page (word 1 holds the server ID the trampoline recorded). */
  serverOf(core: Core, t: Thread): Server | undefined {
    const va = this.identityKernel(t);
    if (va === undefined) return undefined;
    const id = core.load64(va + 8);
    return id === 0 ? undefined : this.server(id);
  }
}
