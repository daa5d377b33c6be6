// The Zircon personality: system calls by number in RAX (arguments in RDI, RSI, RDX, R10,
// R8, R9, R12, R13 as Zircon's x86-64 ABI), a zx_status_t back in EAX; the setup a root job
// does (channels, handles with rights in each process's table); and the scheduler glue.
//
// Blocking: a thread that must wait (zx_channel_call's reply, zx_object_wait_one) blocks on
// an Event in its own thread object and the scheduler picks who runs next. Whoever signals
// that Event makes the thread ready through the common core's run queues (makeReady); the
// reschedule that Zircon's AutoReschedDisable defers to the end of the call decides whether
// the woken thread preempts the waker (higher priority) or waits its turn. When the
// scheduler later resumes the thread, it finishes its own system call (copying the reply out
// into its own memory) in kernel mode after the context switch, as Zircon's thread returns
// from Event::Wait: that is the `resume` kernel extension, which must be passed to the
// Subkernel (use bootZircon).

import type { Core } from '../../hw/core.ts';
import { R } from '../../hw/core.ts';
import { rdtsc, swapgs } from '../../hw/isa.ts';
import type { Machine } from '../../hw/machine.ts';
import type { CodeLayout } from '../code-layout.ts';
import { physmap, PHYSMAP_BASE } from '../layout.ts';
import { ZIRCON_ENTRY } from '../kernel-mixes.ts';
import type { EntryExitCounts, Personality } from '../personality.ts';
import type { Process } from '../process.ts';
import {
  DEFAULT_CONFIG,
  Subkernel,
  type KernelExtension,
  type SubkernelConfig,
} from '../subkernel.ts';
import { ThreadState, type Thread } from '../thread.ts';
import { R8, R9, R10, R12, R13 } from '../tcb-layout.ts';
import { callResume, channelCall, channelRead, channelWrite } from './channel.ts';
import { HandleArena, lookupHandle, releaseRef, type Lookup } from './handles.ts';
import { PagePool } from './heap.ts';
import {
  TIME_INFINITE,
  ARENA_HANDLES,
  CH,
  CH_BYTES,
  H,
  DEFAULT_CHANNEL_RIGHTS,
  HANDLE_BYTES,
  HT,
  HT_BYTES,
  MW,
  OBJ_TYPE_CHANNEL,
  PH_BYTES,
  SIGNAL,
  Sys,
  TCB_HANDLE_TABLE,
  TCB_RAX,
  TCB_STATE,
  TS,
  WO,
  ZIRCON_TCB,
} from './objects.ts';
import { layoutZircon, type ZirconPaths } from './paths.ts';
import { observerOf, waiterOf } from './signals.ts';
import { SwitchData, contextSwitch, withThreadLock } from './switch.ts';
import { closeHandle, detachThread, handleClose, objectWaitOne, waitResume } from './wait.ts';

export interface ZirconOptions {
  /** PMM pages set aside for message packets. */
  packetPages: number;
}

type Resume = 'call' | 'wait';

export class Zircon implements Personality {
  readonly name = 'Zircon';
  readonly tcb = ZIRCON_TCB;
  readonly entryExit: EntryExitCounts = {
    // x86_syscall: the user-RSP/kernel-stack exchange through %gs, the table bound check and
    // indirect call (the 16 pushes are charged as stores); the return: the pops (loads), the
    // RSP restore. Its two SWAPGS run as themselves (entrySwapgs in syscall(), exitSwapgs in
    // the resume extension before every exit), so they are not in these counts.
    entryInstructions: 9,
    entryBytes: 40,
    exitInstructions: 5,
    exitBytes: 22,
    source: 'fuchsia zircon/kernel/arch/x86/syscall.S x86_syscall (entry, dispatch, return)',
    mix: ZIRCON_ENTRY,
  };
  paths!: ZirconPaths;
  k!: Subkernel;
  pool!: PagePool;
  arena!: HandleArena;
  /** thread_lock and the per-CPU scheduler data (switch.ts). */
  sw!: SwitchData;
  private readonly tables = new Map<Process, number>();
  private heapNext = 0;
  private heapEnd = 0;
  private nextKoid = 1024;
  /** Threads made ready during the current system call (for the deferred reschedule). */
  private woken: Thread[] = [];
  /** The kernel extension that runs a resumed thread's half-finished system call. */
  readonly resume: KernelExtension = {
    layoutKernel: () => {},
    boot: () => {},
    beforeExit: (_k, core, next) => {
      this.continueSyscall(core, next);
      swapgs(core, this.paths.exitSwapgs);
    },
  };

  constructor(readonly options: ZirconOptions = { packetPages: 256 }) {}

  layoutKernel(text: CodeLayout): void {
    this.paths = layoutZircon(text);
  }

  /** Binds to the kernel: the PMM pool and the handle arena (boot work, uncharged). */
  attach(k: Subkernel): void {
    if (this.k === k) return;
    this.k = k;
    this.pool = new PagePool(k, this.options.packetPages, this.paths);
    const arenaGpa = k.frames.frames(Math.ceil((ARENA_HANDLES * HANDLE_BYTES) / 4096));
    this.arena = new HandleArena(k.machine.mem, physmap(arenaGpa));
    this.sw = new SwitchData(k);
  }

  // ---- Setup (the root job's work; memory written directly, uncharged) ------------------

  private alloc(bytes: number): number {
    if (this.heapNext + bytes > this.heapEnd) {
      this.heapNext = physmap(this.k.frames.frame());
      this.heapEnd = this.heapNext + 4096;
    }
    const at = this.heapNext;
    this.heapNext += Math.ceil(bytes / 64) * 64;
    return at;
  }

  /** The HandleTable of `p`, created on first use (koid, a mixer that differs per process). */
  handleTable(p: Process): number {
    let t = this.tables.get(p);
    if (t === undefined) {
      t = this.alloc(HT_BYTES);
      const mem = this.k.machine.mem;
      const g = t - PHYSMAP_BASE;
      mem.write32(g + HT.koid, this.nextKoid++);
      // Zircon draws the mixer from the kernel PRNG with the two fixed bits clear; a
      // deterministic per-process value keeps runs reproducible.
      mem.write32(g + HT.mixer, (Math.imul(p.id + 1, 0x9e37_79b1) & 0x3fff_fffc) >>> 0);
      this.tables.set(p, t);
    }
    return t;
  }

  /** zx_channel_create for the root job: an endpoint pair; a handle to one end goes into
   *  `a` and to the other into `b`, each with `rights` (default: the channel defaults).
   *  Returns the two handle values and the endpoints' kernel addresses. */
  createChannel(
    a: Process,
    b: Process,
    rights: { a?: number; b?: number } = {},
  ): { a: number; b: number; endpoints: [number, number] } {
    const mem = this.k.machine.mem;
    const holder = this.alloc(PH_BYTES);
    const e0 = this.alloc(CH_BYTES);
    const e1 = this.alloc(CH_BYTES);
    mem.write64n(holder - PHYSMAP_BASE, 2);
    for (const [e, peer] of [
      [e0, e1],
      [e1, e0],
    ] as const) {
      const g = e - PHYSMAP_BASE;
      mem.write64n(g + CH.type, OBJ_TYPE_CHANNEL);
      mem.write64n(g + CH.refcount, 1);
      mem.write64n(g + CH.koid, this.nextKoid++);
      mem.write32(g + CH.signals, SIGNAL.CHANNEL_WRITABLE);
      mem.write64n(g + CH.peer, peer);
      mem.write64n(g + CH.holder, holder);
    }
    mem.write64n(e0 - PHYSMAP_BASE + CH.peerKoid, mem.read32(e1 - PHYSMAP_BASE + CH.koid));
    mem.write64n(e1 - PHYSMAP_BASE + CH.peerKoid, mem.read32(e0 - PHYSMAP_BASE + CH.koid));
    const put = (p: Process, e: number, r: number): number => {
      const table = this.handleTable(p);
      // Handle::set_process_id → dispatcher->set_owner(pid).
      mem.write64n(e - PHYSMAP_BASE + CH.owner, mem.read32(table - PHYSMAP_BASE + HT.koid));
      return this.arena.make(table, e, r);
    };
    return {
      a: put(a, e0, rights.a ?? DEFAULT_CHANNEL_RIGHTS),
      b: put(b, e1, rights.b ?? DEFAULT_CHANNEL_RIGHTS),
      endpoints: [e0, e1],
    };
  }

  initThread(k: Subkernel, _core: Core, t: Thread): void {
    this.attach(k);
    const mem = k.machine.mem;
    mem.write64n(t.tcbGpa + TCB_HANDLE_TABLE, this.handleTable(t.process));
    mem.write64n(t.tcbGpa + TCB_STATE, TS.READY);
  }

  // ---- Helpers the paths use ---------------------------------------------------------------

  /** The calling thread's HandleTable (ThreadDispatcher → ProcessDispatcher): one load. */
  tableOf(core: Core, t: Thread): number {
    return core.load64(t.tcb + TCB_HANDLE_TABLE);
  }

  koidOf(core: Core, t: Thread): number {
    return core.load64(this.tableOf(core, t) + HT.koid);
  }

  lookup(core: Core, t: Thread, value: number, rights: number, type: number): Lookup {
    const table = this.tableOf(core, t);
    return lookupHandle(
      core,
      this.paths.handleLookup,
      this.arena.base,
      table,
      value >>> 0,
      rights,
      type,
    );
  }

  release(core: Core, d: number): void {
    releaseRef(core, this.paths.refRelease, d);
  }

  /** Scheduler::Unblock: the thread goes on its core's run queue (an IPI if remote). */
  unblock(core: Core, t: Thread): void {
    const P = this.paths;
    rdtsc(core, P.schedUnblockTsc);
    core.run(P.schedUnblock);
    core.store64(t.tcb + TCB_STATE, TS.READY);
    this.k.makeReady(core, t);
    this.woken.push(t);
  }

  /** Event::Wait → WaitQueue::BlockEtc → Scheduler::Block: `t` waits on the queue word at
   *  `queue`; the scheduler picks the next thread. */
  private block(core: Core, t: Thread, queue: number, resume: Resume): Thread | null {
    const P = this.paths;
    let next: Thread | null = null;
    withThreadLock(this.sw, core, () => {
      core.store64(queue, t.tcb);
      core.store64(t.tcb + TCB_STATE, TS.BLOCKED);
      t.state = ThreadState.Blocked;
      t.ext.zxResume = resume;
      rdtsc(core, P.schedBlockTsc);
      core.run(P.schedBlock);
      this.woken = [];
      next = this.k.chooseThread(core);
      if (next !== null && next !== t) contextSwitch(P, this.sw, core);
    });
    return next;
  }

  /** The end of a system call that did not block: status to EAX, then the reschedule
   *  AutoReschedDisable deferred: a woken thread of higher priority on this core runs now. */
  private finish(core: Core, t: Thread, status: number): Thread | null {
    const P = this.paths;
    core.run(P.sysReturn);
    core.store64(t.tcb + TCB_RAX, status >>> 0);
    const preempt = this.woken.some((w) => w.core === core && w.priority > t.priority);
    this.woken = [];
    if (!preempt) return t;
    rdtsc(core, P.schedBlockTsc);
    core.run(P.schedBlock);
    this.k.makeReady(core, t);
    const next = this.k.chooseThread(core);
    if (next !== null && next !== t) contextSwitch(P, this.sw, core);
    return next;
  }

  /** Runs before the exit path returns to `t`: a thread resumed from a wait finishes its
   *  system call in its own context (Zircon: the return from Event::Wait). */
  private continueSyscall(core: Core, t: Thread): void {
    const what = t.ext.zxResume as Resume | undefined;
    if (what === undefined) return;
    delete t.ext.zxResume;
    const P = this.paths;
    core.run(P.waitResume);
    core.store64(t.tcb + TCB_STATE, TS.RUNNING);
    const status = what === 'call' ? callResume(this, core, t) : waitResume(this, core, t);
    core.run(P.sysReturn);
    core.store64(t.tcb + TCB_RAX, status >>> 0);
    this.woken = [];
  }

  // ---- System calls --------------------------------------------------------------------

  syscall(_k: Subkernel, core: Core, t: Thread): Thread | null {
    const P = this.paths;
    swapgs(core, P.entrySwapgs);
    core.run(P.sysGlue);
    const r = core.regs;
    const a = [R.RDI, R.RSI, R.RDX, R10, R8, R9, R12, R13].map((i) => r.get(i));
    // The deadline (third argument of channel_call and object_wait_one): only INT64_MAX is
    // infinite; read exactly, not through the rounded number.
    if (r.hi[R.RDX] === 0x7fff_ffff && r.lo[R.RDX] === -1) a[2] = TIME_INFINITE;
    this.woken = [];
    let status: number | null;
    switch (r.get(R.RAX)) {
      case Sys.channel_write:
        status = channelWrite(this, core, t, a);
        break;
      case Sys.channel_read:
        status = channelRead(this, core, t, a);
        break;
      case Sys.channel_call:
        status = channelCall(this, core, t, a);
        if (status === null) {
          const w = waiterOf(t.tcb);
          if (core.load32(w + MW.eventSignaled) !== 0) status = callResume(this, core, t);
          else return this.block(core, t, w + MW.eventQueue, 'call');
        }
        break;
      case Sys.object_wait_one:
        status = objectWaitOne(this, core, t, a);
        if (status === null) return this.block(core, t, observerOf(t.tcb) + WO.eventQueue, 'wait');
        break;
      case Sys.handle_close:
        status = handleClose(this, core, t, a);
        break;
      default:
        status = -13; // ZX_ERR_BAD_SYSCALL
    }
    return this.finish(core, t, status);
  }

  onStop(k: Subkernel, core: Core, t: Thread): void {
    this.attach(k);
    delete t.ext.zxResume;
    detachThread(this, core, t);
    // The last thread of a process gone: the process's handles close (ProcessDispatcher
    // exit → HandleTable::Clean), so peers see PEER_CLOSED and their callers wake.
    const p = t.process;
    if (p.threads.some((o) => o.alive)) return;
    const table = this.tables.get(p);
    if (table === undefined) return;
    for (let h = core.load64(table + HT.head); h !== 0; h = core.load64(table + HT.head)) {
      core.run(this.paths.handleClose);
      closeHandle(this, core, table, h, core.load64(h + H.dispatcher));
    }
    this.woken = [];
  }
}

/** A Subkernel with the Zircon personality (its resume extension first), bound to it. */
export function bootZircon(
  m: Machine,
  config: Partial<SubkernelConfig> = {},
  options?: ZirconOptions,
  extensions: readonly KernelExtension[] = [],
): { k: Subkernel; zircon: Zircon } {
  const zircon = new Zircon(options);
  const k = new Subkernel(m, zircon, { ...DEFAULT_CONFIG, ...config }, [
    zircon.resume,
    ...extensions,
  ]);
  zircon.attach(k);
  return { k, zircon };
}
