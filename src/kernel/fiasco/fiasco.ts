// The Fiasco.OC personality: its objects, its one system call (sys_ipc_wrapper: look up
// the object the reference in RDX names, invoke it), and the setup a root task (sigma0 /
// moe) does: tasks with capability tables, IPC gates bound to a thread with a label,
// capabilities put into a task's table with rights.

import type { Core } from '../../hw/core.ts';
import type { Block, CodeLayout } from '../code-layout.ts';
import { physmap } from '../layout.ts';
import { FIASCO_ENTRY } from '../kernel-mixes.ts';
import type { EntryExitCounts, Personality } from '../personality.ts';
import type { Process } from '../process.ts';
import type { Subkernel } from '../subkernel.ts';
import { ThreadState, type Thread } from '../thread.ts';
import { commitError, doIpc, resetPartnerReplyCap, type IpcRequest } from './ipc.ts';
import {
  CAPS_PER_PAGE,
  CAPS_PER_PAGE_LD2,
  CAP_ENTRY_BYTES,
  DIR_SLOTS,
  F,
  FIASCO_TCB,
  GATE,
  Kind,
  L4Err,
  L4Error,
  Op,
  Proto,
  Rights,
  TASK,
  TH,
  TS,
  UTCB,
  msgTag,
  refIndex,
  refOp,
  refSpecial,
  tagLabel,
  withError,
  type KindValue,
} from './objects.ts';
import { layoutFiasco, type FiascoPaths } from './paths.ts';
import { locked } from '../priced.ts';
import { firstSender, senderDequeue } from './senders.ts';

export class Fiasco implements Personality {
  readonly name = 'Fiasco.OC';
  readonly tcb = FIASCO_TCB;
  readonly entryExit: EntryExitCounts = {
    // Counted in the compiled kernel (paths.ts says how): syscall_entry_text 6 and
    // entry_sys_fast_ipc_c up to its call 26, 32 in all, of which 18 are the saved stores
    // (the pushes, the user RSP), the core's current-thread load stands for the `testl` of
    // the state, and RESET_THREAD_CANCEL_AT's `andl` is modelled as the load and store in
    // syscall() → 32 − 18 − 1 − 2 = 11. Exit (fast_ret_from_irq): 22, of which the 18
    // restores and SYSRETQ are the core's → add $8, shl, sar: 3.
    entryInstructions: 11,
    entryBytes: 40,
    exitInstructions: 3,
    exitBytes: 10,
    source:
      'kernkonzept/fiasco src/kern/ia32/64/entry.S syscall_entry_text; entry-native.S entry_sys_fast_ipc_c; low_level.h SAVE_STATE_SYSEXIT, RESTORE_STATE_SYSEXIT, SAFE_SYSRET',
    mix: FIASCO_ENTRY,
  };
  paths!: FiascoPaths;
  k!: Subkernel;
  private readonly tasks = new Map<Process, number>();
  private readonly cpus = new Map<number, number>();
  private readonly vtables = new Map<KindValue, number>();
  private heapNext = 0;
  private heapEnd = 0;

  layoutKernel(text: CodeLayout): void {
    this.paths = layoutFiasco(text);
  }

  /** Binds the personality to a kernel before any thread exists (for setup calls). */
  attach(k: Subkernel): void {
    this.k = k;
  }

  // ---- Setup (the root task's work; writes memory directly, uncharged) -------------------

  private get mem() {
    return this.k.machine.mem;
  }
  private gpa(kernelAddr: number): number {
    return kernelAddr - physmap(0);
  }

  private alloc(bytes: number, align: number): number {
    this.heapNext = Math.ceil(this.heapNext / align) * align;
    if (this.heapNext + bytes > this.heapEnd) {
      const pages = Math.max(1, Math.ceil(bytes / 4096));
      this.heapNext = physmap(this.k.frames.frames(pages));
      this.heapEnd = this.heapNext + pages * 4096;
    }
    const at = this.heapNext;
    this.heapNext += bytes;
    return at;
  }

  /** The word a kind's objects point at (their vtable): it holds the kind, standing for
   *  the invoke function's address. */
  private vtable(kind: KindValue): number {
    let v = this.vtables.get(kind);
    if (v === undefined) {
      v = this.alloc(8, 8);
      this.mem.write64n(this.gpa(v), kind);
      this.vtables.set(kind, v);
    }
    return v;
  }

  /** Per-CPU kernel data (ipc.ts CPU), one page per core. */
  cpuVar(core: Core): number {
    let c = this.cpus.get(core.id);
    if (c === undefined) {
      c = this.alloc(4096, 4096);
      this.cpus.set(core.id, c);
    }
    return c;
  }

  /** `p`'s Task object (with an empty capability directory), created on first use. */
  taskOf(p: Process): number {
    let task = this.tasks.get(p);
    if (task === undefined) {
      task = this.alloc(TASK.bytes, 64);
      const dir = this.alloc(4096, 4096);
      const g = this.gpa(task);
      this.mem.write64n(g + TASK.vtable, this.vtable(Kind.Task));
      this.mem.write64n(g + TASK.capDir, dir);
      this.mem.write64n(g + TASK.pdir, p.space.userRoot);
      this.mem.write64n(g + TASK.asid, p.space.asid);
      this.tasks.set(p, task);
    }
    return task;
  }

  /** A new IPC gate bound to `thread` with `label` (Ipc_gate_ctl::bind_thread: the label's
   *  two low bits carry the caller's rights and must be zero, else -EInval). */
  newGate(thread: Thread | null, label: number): number {
    if (label % 4 !== 0) throw new RangeError(`gate label ${label}: bits 1:0 must be 0 (EInval)`);
    const g = this.alloc(GATE.bytes, 32);
    this.mem.write64n(this.gpa(g) + GATE.vtable, this.vtable(Kind.IpcGate));
    this.mem.write64n(this.gpa(g) + GATE.thread, thread?.tcb ?? 0);
    this.mem.write64n(this.gpa(g) + GATE.id, label);
    return g;
  }

  /** Puts a capability to kernel object `obj` (a gate, a thread's `tcb`, a task) into slot
   *  `index` of `p`'s table with `rights` (CW, CS in the capability word; CD in flags). */
  putCap(p: Process, index: number, obj: number, rights: number = Rights.CWS): void {
    const d = index >> CAPS_PER_PAGE_LD2;
    if (index < 0 || d >= DIR_SLOTS) throw new RangeError(`capability index ${index}`);
    const dir = this.gpa(Number(this.mem.read64(this.gpa(this.taskOf(p)) + TASK.capDir)));
    let tab = Number(this.mem.read64(dir + d * 8));
    if (tab === 0) {
      tab = this.alloc(CAPS_PER_PAGE * CAP_ENTRY_BYTES, 4096);
      this.mem.write64n(dir + d * 8, tab);
    }
    const e = this.gpa(tab) + (index % CAPS_PER_PAGE) * CAP_ENTRY_BYTES;
    this.mem.write64n(e, obj === 0 ? 0 : obj + (rights & Rights.CWS));
    this.mem.write64n(e + 24, rights & 0xf8);
  }

  initThread(k: Subkernel, core: Core, t: Thread): void {
    this.k = k;
    const g = t.tcbGpa;
    const w = (off: number, v: number): void => this.mem.write64n(g + off, v);
    w(TH.vtable, this.vtable(Kind.Thread));
    w(TH.state, TS.Ready);
    w(TH.space, this.taskOf(t.process));
    w(TH.utcbKernel, t.ipcBufferKernel);
    w(TH.utcbUser, t.ipcBufferUser);
    w(TH.homeCpu, core.id);
    w(TH.curReplySlot, t.tcb + TH.replyCap);
    // Context::arch_setup_utcb_ptr: utcb->utcb_addr, and GS base = &utcb->utcb_addr.
    w(TH.gsBase, t.ipcBufferUser + UTCB.utcbAddr);
    this.mem.write64n(this.gpa(t.ipcBufferKernel) + UTCB.utcbAddr, t.ipcBufferUser);
    this.cpuVar(t.core);
  }

  /** The path a thread returns along to the exit: do_ipc_receive's tail (after a call,
   *  the test of the callee's reply cap), the epilogues. */
  returnTail(core: Core, t: Thread): void {
    const P = this.paths;
    core.run(P.receiverTail);
    core.load64(t.tcb + TH.state);
    if (t.ext.fiascoCall === true) {
      core.run(P.callTail);
      core.load64(t.tcb + TH.partnerReplyCap);
    }
  }

  // ---- The system call: sys_ipc_wrapper (syscalls.cpp) --------------------------------

  syscall(_k: Subkernel, core: Core, t: Thread): Thread | null {
    const P = this.paths;
    const run = (b: Block): void => core.run(b);
    t.ext.fiascoCall = false;
    // entry-native.S RESET_THREAD_CANCEL_AT: andl on the thread's state.
    const st = core.load64(t.tcb + TH.state);
    core.store64(t.tcb + TH.state, st & ~TS.Cancel);
    run(P.wrapper);
    const ref = core.load64(t.tcb + F.rdx);
    core.load64(t.tcb + TH.utcbKernel);
    const op = refOp(ref);
    let obj = 0;
    let rights = 0;
    if ((op & Op.Reply) !== 0) {
      // Obj_cap::deref with Ipc_reply: take (and clear) the implicit reply capability.
      run(P.derefReply);
      const slot = core.load64(t.tcb + TH.curReplySlot);
      // reset_reply_cap_slot: an XCHG of the slot with empty (its read and write here).
      const v = core.load64(slot);
      core.store64(slot, 0);
      locked(core, true);
      if (v !== 0) {
        obj = v - (v & 3);
        rights = v & 3;
        // The caller's _partner_reply_cap is cleared with a LOCK CMPXCHG.
        core.store64(obj + TH.partnerReplyCap, 0);
        locked(core);
      }
    } else if (refSpecial(ref)) {
      obj = t.tcb; // "self" (L4_obj_ref::Invalid with a receive operation)
      rights = Rights.CWS;
    } else {
      // Obj_space_phys::lookup_local: directory → table → entry.
      run(P.lookupLocal);
      const task = core.load64(t.tcb + TH.space);
      const dir = core.load64(task + TASK.capDir);
      const idx = refIndex(ref);
      const d = Math.floor(idx / CAPS_PER_PAGE);
      const tab = dir === 0 || d >= DIR_SLOTS ? 0 : core.load64(dir + d * 8);
      if (tab !== 0) {
        const e = core.load64(tab + (idx % CAPS_PER_PAGE) * CAP_ENTRY_BYTES);
        obj = e - (e & 3);
        rights = e & 3;
      }
    }
    if (obj === 0) return this.done(core, commitError(this, core, t, L4Error.NotExistent));
    // The virtual invoke: object → vtable → function.
    const kind = core.load64(core.load64(obj + TH.vtable));
    const tag = core.load64(t.tcb + F.rax);
    if (kind === Kind.IpcGate) {
      // Ipc_gate::invoke: the bound thread, check_sys_ipc, from_spec = _id | rights.
      run(P.gateInvoke);
      const bound = this.k.byTcb.get(core.load64(obj + GATE.thread)) ?? null;
      if (bound === null) return this.done(core, commitError(this, core, t, L4Error.NotExistent));
      const id = core.load64(obj + GATE.id);
      core.load64(t.tcb + F.timeout);
      return doIpc(this, core, t, this.sysIpc(op, bound, tag, id + rights, rights));
    }
    if (kind === Kind.Thread && this.isIpc(op, tag)) {
      // Thread_object::invoke's IPC branch; the label is the sender's RSI.
      run(P.threadInvoke);
      const target = this.k.byTcb.get(obj)!;
      const from = core.load64(t.tcb + F.rsi);
      core.load64(t.tcb + F.timeout);
      return doIpc(this, core, t, this.sysIpc(op, target, tag, from, rights));
    }
    // Any other object speaks its own protocol (Kobject_h::invoke → kinvoke): an IPC
    // message to it is refused with -EBadproto in the tag's label (commit_result).
    run(P.kobjectInvoke);
    core.store64(t.tcb + F.rax, msgTag(-L4Err.EBadproto, 0));
    return this.done(core, t);
  }

  private done(core: Core, t: Thread): Thread {
    this.returnTail(core, t);
    return t;
  }

  /** Thread_object::invoke's test: IPC unless it is a send in the thread protocol. */
  private isIpc(op: number, tag: number): boolean {
    return (
      (op !== 0 && (op & Op.Send) === 0) || (op & Op.Reply) !== 0 || tagLabel(tag) !== Proto.Thread
    );
  }

  /** Thread::check_sys_ipc (thread.cpp) on `target`, the object's thread. */
  private sysIpc(op: number, target: Thread, tag: number, from: number, rights: number) {
    const haveReceive = (op & Op.Recv) !== 0;
    const q: IpcRequest = {
      tag,
      fromSpec: from,
      rights,
      partner: (op & Op.Send) !== 0 ? target : null,
      haveReceive,
      sender: haveReceive && (op & Op.OpenWait) === 0 ? target : null,
    };
    return q;
  }

  // ---- Stopping a thread ------------------------------------------------------------------

  onStop(k: Subkernel, core: Core, t: Thread): void {
    core.store64(t.tcb + TH.state, TS.Dead);
    // It leaves the sender list it waits in, and its callee forgets it (no reply reaches it).
    senderDequeue(core, t);
    delete t.ext.sendTo;
    resetPartnerReplyCap(core, t);
    // Senders queued on it fail with Canceled (Thread::ipc_receiver_aborted).
    for (let s = firstSender(k, core, t); s !== null; s = firstSender(k, core, t)) {
      senderDequeue(core, s);
      delete s.ext.sendTo;
      this.wakeWithError(k, core, s, L4Error.Canceled);
    }
    // Threads in a closed wait on it (callers awaiting its reply) fail with R_canceled.
    for (const o of k.threads) {
      if (o === t || o.state !== ThreadState.Blocked || o.ext.sendTo !== undefined) continue;
      const waiting = (core.load64(o.tcb + TH.state) & TS.ReceiveWait) !== 0;
      if (waiting && core.load64(o.tcb + TH.partner) === t.tcb) {
        resetPartnerReplyCap(core, o);
        this.wakeWithError(k, core, o, L4Error.RCanceled);
      }
    }
  }

  private wakeWithError(k: Subkernel, core: Core, o: Thread, error: number): void {
    core.store64(o.ipcBufferKernel + UTCB.error, error);
    core.store64(o.tcb + F.rax, withError(0));
    core.store64(o.tcb + TH.partner, 0);
    core.store64(o.tcb + TH.state, TS.Ready);
    k.makeReady(core, o);
  }
}
