// SkyBridge's Subkernel part: registering servers and binding clients (the trampoline, the
// tag page, binding records, server tables and stacks, calling keys, shared buffers, thread
// blocks, and the EPT views the Rootkernel makes), and the kernel's side of every call it is
// not on the path of (calls.ts: entry, exit, faults, budgets, unwinding). Personality-
// independent: it uses only the common Subkernel core and the Rootkernel's hypercalls.
//
// Registration is the kernel's own work (a scenario or a harness asks for it from kernel
// mode): its page-table writes are uncharged, as at load time; the Rootkernel's EPT work is
// charged to the core that asks.

import { createHash } from 'node:crypto';
import type { Core } from '../hw/core.ts';
import type { Process } from '../kernel/process.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import type { Thread } from '../kernel/thread.ts';
import { DynamicCallPaths } from './dynamic-calls.ts';
import { MISS_INDEX } from './dynamic-lists.ts';
import type { ListServer } from './lists.ts';
import {
  BINDINGS_VA,
  BINDING_BYTES,
  FAILS_OFFSET,
  KEYS_OFFSET,
  MAX_CALLERS,
  MAX_CONCURRENT,
  MAX_SERVERS,
  MAX_SLOTS,
  Rec,
  SERVER_PAGES,
  SERVER_STACKS_VA,
  SERVER_STACK_BYTES,
  SERVER_VA,
  SHARED_SLOT_BYTES,
  SHARED_VA,
  SLOTS_OFFSET,
  St,
  Tag,
  TAG_VA,
  THREADS_VA,
  TRAMPOLINE_BYTES,
  TRAMPOLINE_VA,
} from './layout.ts';
import type { Trampoline } from './trampoline.ts';

export interface Server extends ListServer {
  readonly handler: number;
  readonly maxConcurrent: number;
  /** Timer ticks a call may run in this server before the kernel unwinds it. */
  readonly budgetTicks: number;
  /** Failed key checks from one caller view after which its calls are refused. */
  readonly lockAfter: number;
  /** Guest-physical address of the server's tables (SERVER_PAGES frames). */
  readonly stateGpa: number;
  readonly slots: (Binding | null)[];
  alive: boolean;
}

export interface Binding {
  readonly id: number;
  readonly client: Process;
  readonly server: Server;
  /** Index of the server's view in the client's EPTP list (1..511); with dynamic lists it
   *  changes, and is MISS_INDEX while the binding is not resident. */
  index: number;
  readonly slot: number;
  readonly key: number;
  readonly buffer: number;
  readonly bufferBytes: number;
  active: boolean;
}

export interface ServerOptions {
  /** The handler's address in the server's image (a C function, see skybridge.h). */
  handler: number;
  /** Requests served at once, one stack each (1..64, default 1). */
  maxConcurrent?: number;
  /** Timer ticks a call may run in the server before it is unwound (default 100). */
  budgetTicks?: number;
  /** Failed key checks from one caller view before its calls are refused (default 8). */
  lockAfter?: number;
}

export interface SkyBridgeOptions {
  /** Seed of the calling-key generator (deterministic runs). */
  seed: number;
  /** The trampoline, as loaded from its ELF file (trampoline.ts). */
  trampoline: Trampoline;
  /** Dynamic EPTP lists (dynamic-lists.ts): a client may be bound to more servers than its
   *  list holds, and at most this many (1..511) are resident at once; the kernel refills a
   *  slot on a miss (LRU). Off (undefined): a binding past 511 is refused. */
  dynamicLists?: number;
}

/** Something the kernel did about a call: refused a system call, unwound a call. */
export interface SbEvent {
  cycle: number;
  core: number;
  thread: string;
  what: string;
}

const FRAME = 4096;

export class SkyBridge extends DynamicCallPaths {
  readonly servers: (Server | undefined)[] = [];
  readonly bindings: Binding[] = [];
  readonly events: SbEvent[] = [];
  private trampolineGpa = -1;
  private readonly records = new Map<Process, number>();
  private keyCounter = 0;

  constructor(readonly options: SkyBridgeOptions) {
    super(options.trampoline, options.dynamicLists ?? null);
  }

  protected bindingsOf(p: Process): readonly Binding[] {
    return this.bindings.filter((b) => b.client === p);
  }

  protected recordsOf(p: Process): number | undefined {
    return this.records.get(p);
  }

  protected get allBindings(): readonly Binding[] {
    return this.bindings;
  }

  server(id: number): Server | undefined {
    return this.servers[id];
  }

  serverOf(p: Process): Server | undefined {
    return this.servers.find((s) => s?.process === p);
  }

  bindingOf(p: Process, serverId: number): Binding | undefined {
    return this.bindings.find((b) => b.client === p && b.server.id === serverId && b.active);
  }

  /**
   * A fresh 52-bit calling key: SHA-256 of the kernel's secret seed and a counter, so runs
   * are deterministic yet one key says nothing about another. A secret, not a capability:
   * the server half counts failed checks per caller view (which the caller cannot forge)
   * and refuses a view after `lockAfter` of them, so guessing gets that many tries of 2^52.
   */
  private nextKey(): number {
    const h = createHash('sha256')
      .update(`skybridge-key:${this.options.seed}:${++this.keyCounter}`)
      .digest();
    return (h.readUInt32LE(0) & 0xfffff) * 2 ** 32 + h.readUInt32LE(4) || 1;
  }

  /** Maps the trampoline (read-execute) and the tag page (read-only) into `p`, once. */
  private participate(p: Process): void {
    if (this.participants.has(p)) return;
    if (this.trampolineGpa < 0) {
      this.trampolineGpa = this.k.frames.frames(TRAMPOLINE_BYTES / FRAME);
      this.k.machine.mem.writeBytes(this.trampolineGpa, this.trampoline.page);
    }
    p.space.map(TRAMPOLINE_VA, this.trampolineGpa, TRAMPOLINE_BYTES, { writable: false });
    p.space.map(TAG_VA, this.tagGpa, FRAME, { writable: false, noExec: true });
    this.participants.add(p);
    this.lists.listOf(p);
  }

  /** Registers `p` as a server; returns its id (1..1023). Everything is checked before
   *  anything is allocated. */
  registerServer(p: Process, o: ServerOptions): number {
    const max = o.maxConcurrent ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > MAX_CONCURRENT)
      throw new RangeError(`maxConcurrent must be 1..${MAX_CONCURRENT}, got ${max}`);
    const budgetTicks = o.budgetTicks ?? 100;
    if (!(budgetTicks >= 1)) throw new RangeError(`budgetTicks must be ≥ 1, got ${budgetTicks}`);
    const lockAfter = o.lockAfter ?? 8;
    if (!Number.isInteger(lockAfter) || lockAfter < 1)
      throw new RangeError(`lockAfter must be a positive integer, got ${lockAfter}`);
    if (p.killed) throw new Error(`process ${p.name} was killed`);
    if (this.serverOf(p) !== undefined) throw new Error(`process ${p.name} is already a server`);
    let id = 1;
    while (id < MAX_SERVERS && this.servers[id] !== undefined) id++;
    if (id >= MAX_SERVERS) throw new Error(`at most ${MAX_SERVERS - 1} servers`);
    this.participate(p);
    const f = this.k.frames;
    const stateGpa = f.frames(SERVER_PAGES);
    p.space.map(SERVER_VA, stateGpa, KEYS_OFFSET, { writable: true, noExec: true });
    p.space.map(
      SERVER_VA + KEYS_OFFSET,
      stateGpa + KEYS_OFFSET,
      SERVER_PAGES * FRAME - KEYS_OFFSET,
      {
        writable: false,
        noExec: true,
      },
    );
    const stacks = max * SERVER_STACK_BYTES;
    p.space.map(SERVER_STACKS_VA, f.frames(stacks / FRAME), stacks, {
      writable: true,
      noExec: true,
    });
    const mem = this.k.machine.mem;
    // The mask of stacks, as two 32-bit halves (up to 64 bits).
    mem.write32(stateGpa + St.stacks, max >= 32 ? 0xffffffff : 2 ** max - 1);
    mem.write32(stateGpa + St.stacks + 4, max > 32 ? 2 ** (max - 32) - 1 : 0);
    mem.write64n(stateGpa + St.id, id);
    mem.write64n(stateGpa + St.handler, o.handler);
    mem.write64n(stateGpa + St.lock, lockAfter);
    const s: Server = {
      id,
      process: p,
      handler: o.handler,
      maxConcurrent: max,
      budgetTicks,
      lockAfter,
      stateGpa,
      slots: [],
      callers: 0,
      alive: true,
    };
    this.servers[id] = s;
    return id;
  }

  /**
   * Binds client `p` to server `serverId` from kernel mode on `core`: a key in the server's
   * table, the client's views of the server (and of what the server reaches) in every list
   * that needs them, the binding record, a shared buffer. Every check comes first: a refused
   * binding allocates nothing.
   */
  registerClient(
    core: Core,
    p: Process,
    serverId: number,
    opts: { bufferBytes?: number } = {},
  ): Binding {
    const s = this.server(serverId);
    if (s === undefined) throw new Error(`no server ${serverId}`);
    if (!s.alive) throw new Error(`server ${serverId} (${s.process.name}) was killed`);
    if (s.process === p) throw new Error(`process ${p.name} cannot bind to itself`);
    if (p.killed) throw new Error(`process ${p.name} was killed`);
    if (core.cpl !== 0) throw new Error('registration runs in kernel mode');
    if (this.bindingOf(p, serverId) !== undefined)
      throw new Error(`process ${p.name} is bound to server ${serverId} already`);
    const want = opts.bufferBytes ?? 4096;
    if (!Number.isInteger(want) || want < 0 || want > SHARED_SLOT_BYTES)
      throw new RangeError(`shared buffer must be 0..${SHARED_SLOT_BYTES} bytes, got ${want}`);
    const bufferBytes = Math.max(FRAME, Math.ceil(want / FRAME) * FRAME);
    let slot = s.slots.findIndex((b) => b === null);
    if (slot < 0) slot = s.slots.length;
    if (slot >= MAX_SLOTS) throw new Error(`server ${serverId} has ${MAX_SLOTS} clients already`);
    const dynamic = this.dynamicFor(p, s);
    let index = MISS_INDEX;
    let affected: Process[] = [p];
    if (!dynamic) ({ index, affected } = this.lists.plan(p, s, this.participants, this.bindings));
    else if (!this.lists.hasDynView(p, s) && s.callers >= MAX_CALLERS)
      throw new Error(`server ${s.id} has ${MAX_CALLERS} caller views already`);
    // Allocation from here on.
    this.participate(p);
    const mem = this.k.machine.mem;
    const key = this.nextKey();
    mem.write64n(s.stateGpa + KEYS_OFFSET + slot * 8, key);
    let records = this.records.get(p);
    if (records === undefined) {
      const bytes = MAX_SERVERS * BINDING_BYTES;
      records = this.k.frames.frames(bytes / FRAME);
      this.records.set(p, records);
      p.space.map(BINDINGS_VA, records, bytes, { writable: false, noExec: true });
    }
    const id = this.bindings.length + 1;
    const buffer = SHARED_VA + id * SHARED_SLOT_BYTES;
    const bufGpa = this.k.frames.frames(bufferBytes / FRAME);
    p.space.map(buffer, bufGpa, bufferBytes, { writable: true, noExec: true });
    s.process.space.map(buffer, bufGpa, bufferBytes, { writable: true, noExec: true });
    mem.write64n(s.stateGpa + SLOTS_OFFSET + slot * 16, buffer);
    mem.write64n(s.stateGpa + SLOTS_OFFSET + slot * 16 + 8, bufferBytes);
    const rec = records + serverId * BINDING_BYTES;
    mem.write64n(rec + Rec.index, index);
    mem.write64n(rec + Rec.slot, slot);
    mem.write64n(rec + Rec.key, key);
    mem.write64n(rec + Rec.buffer, buffer);
    mem.write64n(rec + Rec.bytes, bufferBytes);
    const b: Binding = {
      id,
      client: p,
      server: s,
      index,
      slot,
      key,
      buffer,
      bufferBytes,
      active: true,
    };
    s.slots[slot] = b;
    this.bindings.push(b);
    if (dynamic) this.placeNew(core, b, rec);
    this.syncLists(core, affected);
    return b;
  }

  /** Unbinds: the key slot, the slot's buffer entry and the record are cleared, and every
   *  list keeps only what it still needs. A thread inside the server through this binding
   *  is unwound with Revoked at its next kernel exit (calls.ts). */
  unregisterClient(core: Core, b: Binding): void {
    if (!b.active) return;
    const mem = this.k.machine.mem;
    const s = b.server;
    mem.write64n(s.stateGpa + KEYS_OFFSET + b.slot * 8, 0);
    mem.write64n(s.stateGpa + SLOTS_OFFSET + b.slot * 16, 0);
    mem.write64n(s.stateGpa + SLOTS_OFFSET + b.slot * 16 + 8, 0);
    s.slots[b.slot] = null;
    this.resident.get(b.client)?.forget(b);
    const rec = this.records.get(b.client)! + s.id * BINDING_BYTES;
    for (let i = 0; i < BINDING_BYTES; i += 8) mem.write64n(rec + i, 0);
    const affected = this.lists.reachers(b.client, this.participants, this.bindings);
    b.active = false;
    this.syncLists(core, affected);
  }

  /** A killed process leaves SkyBridge: as a server, every binding to it is revoked and no
   *  one can bind to it again; as a client, its own bindings are revoked. */
  onKill(_k: Subkernel, core: Core, p: Process): void {
    const s = this.serverOf(p);
    if (s !== undefined) s.alive = false;
    for (const b of this.bindings)
      if (b.active && (b.server.process === p || b.client === p)) this.unregisterClient(core, b);
  }

  /** Brings every list in line with the bindings; cores running a process whose list
   *  changed reinstall it at their next exit, and are interrupted now so that a thread
   *  inside a withdrawn view leaves it. Thread blocks are mapped where threads can now go. */
  private syncLists(core: Core, affected: readonly Process[]): void {
    const changed = this.lists.sync(core, affected, this.bindings);
    for (const c of this.k.machine.cores) {
      const q = this.installedFor[c.id];
      if (q === null || q === undefined || !changed.has(q)) continue;
      this.installedFor[c.id] = null;
      if (c !== core && this.k.current[c.id] !== null) this.k.kick(core, c);
    }
    for (const t of this.k.threads) if (affected.includes(t.process)) this.threadBlocks(t);
  }

  /**
   * Maps `t`'s thread block in its own process and in every server its calls can reach:
   * one page per (thread, address space) at THREADS_VA + id × 4096, so what the trampoline
   * keeps there in one address space is unseen in every other.
   */
  protected threadBlocks(t: Thread): Map<Process, number> {
    let m = this.blocks.get(t);
    if (m === undefined) this.blocks.set(t, (m = new Map()));
    const va = THREADS_VA + t.id * FRAME;
    for (const q of this.lists.reach(t.process, this.bindings)) {
      if (m.has(q)) continue;
      const gpa = this.k.frames.frame();
      q.space.map(va, gpa, FRAME, { writable: true, noExec: true });
      m.set(q, gpa);
    }
    return m;
  }

  /** The caller number of `p`'s view of server `id` (from the view's tag), or -1. */
  callerNumber(p: Process, id: number): number {
    const e = this.lists.listOf(p).find((x) => x !== null && x.server.id === id);
    return e ? this.k.machine.mem.read32(e.tagGpa + Tag.caller) : -1;
  }

  /** Failed key checks recorded at server `id` for caller view `caller` (for tests). */
  failures(id: number, caller: number): number {
    return this.k.machine.mem.read32(this.servers[id]!.stateGpa + FAILS_OFFSET + caller * 8);
  }
}
