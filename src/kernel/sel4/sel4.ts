// The seL4 personality: its objects, its system calls, and the setup a root task does
// (creating endpoints, CSpaces, minting capabilities). System calls follow seL4's split:
// fastpath.ts when the fastpath's conditions hold, ipc.ts otherwise.

import type { Core } from '../../hw/core.ts';
import { R } from '../../hw/core.ts';
import type { CodeLayout } from '../code-layout.ts';
import { physmap } from '../layout.ts';
import { SEL4_ENTRY } from '../kernel-mixes.ts';
import type { EntryExitCounts, Personality } from '../personality.ts';
import type { Process } from '../process.ts';
import type { Subkernel } from '../subkernel.ts';
import type { Thread } from '../thread.ts';
import { SLOT_BYTES } from './cspace.ts';
import { fastpathCall, fastpathReplyRecv } from './fastpath.ts';
import { slowCall, slowRecv, slowReply, slowReplyRecv, slowSend } from './ipc.ts';
import {
  Cap,
  CapType,
  EP_BYTES,
  SLOT_CALLER,
  SLOT_REPLY,
  SEL4_TCB,
  SLOT_CTABLE,
  SLOT_VTABLE,
  TCB_IPC_BUFFER,
  TCB_STATE,
  TS,
  RI,
  Sel4Error,
  msgInfo,
  capType,
  putCap,
  readCap,
  regOffset,
  writeCap,
  type CapWords,
} from './objects.ts';
import { epRemove } from './endpoint.ts';
import { layoutSel4, type Sel4Paths } from './paths.ts';

/** System-call numbers in RDX (seL4's are negative: SysCall = -1 …; we use their magnitude). */
export const Sys = {
  Call: 1,
  ReplyRecv: 2,
  Send: 3,
  NBSend: 4,
  Recv: 5,
  Reply: 6,
  Yield: 7,
} as const;

export interface Sel4Options {
  /** Take the fastpath when its conditions hold (seL4's default); off forces the slowpath. */
  fastpath: boolean;
}

export class Sel4 implements Personality {
  readonly name = 'seL4';
  readonly tcb = SEL4_TCB;
  readonly entryExit: EntryExitCounts = {
    // handle_fastsyscall: 22 instructions of which 16 are the register pushes (charged as
    // stores), leaving 6; fastpath_restore: 18 of which 13 pops (charged as loads), leaving 5.
    entryInstructions: 6,
    entryBytes: 24,
    exitInstructions: 5,
    exitBytes: 18,
    source:
      'seL4 10.1.1 src/arch/x86/64/traps.S handle_fastsyscall; include/arch/x86/arch/64/mode/fastpath/fastpath.h fastpath_restore',
    mix: SEL4_ENTRY,
  };
  paths!: Sel4Paths;
  k!: Subkernel;
  private readonly cnodes = new Map<Process, { cnode: number; radix: number }>();
  private heapNext = 0;
  private heapEnd = 0;

  constructor(readonly options: Sel4Options = { fastpath: true }) {}

  layoutKernel(text: CodeLayout): void {
    this.paths = layoutSel4(text);
  }

  // ---- Setup (the root task's work; writes memory directly, uncharged) -------------------

  private alloc(bytes: number, align: number): number {
    const k = this.k;
    this.heapNext = Math.ceil(this.heapNext / align) * align;
    if (this.heapNext + bytes > this.heapEnd) {
      const pages = Math.max(1, Math.ceil(bytes / 4096));
      this.heapNext = physmap(k.frames.frames(pages));
      this.heapEnd = this.heapNext + pages * 4096;
    }
    const at = this.heapNext;
    this.heapNext += bytes;
    return at;
  }

  /** A new endpoint object; returns its kernel address. */
  newEndpoint(): number {
    return this.alloc(EP_BYTES, EP_BYTES);
  }

  /** The CNode of `p`'s CSpace (one level, 2^radix slots), created on first use. */
  cspaceOf(p: Process, radix = 8): { cnode: number; radix: number } {
    let c = this.cnodes.get(p);
    if (c === undefined) {
      c = {
        cnode: this.alloc(
          (1 << radix) * SLOT_BYTES,
          (1 << radix) * SLOT_BYTES > 4096 ? 4096 : (1 << radix) * SLOT_BYTES,
        ),
        radix,
      };
      this.cnodes.set(p, c);
    }
    return c;
  }

  /** Puts `cap` into slot `index` of `p`'s CSpace. */
  mint(p: Process, index: number, cap: CapWords): void {
    const { cnode, radix } = this.cspaceOf(p);
    if (index <= 0 || index >= 1 << radix)
      throw new RangeError(`slot ${index} outside a CNode of ${1 << radix} slots (slot 0 is null)`);
    putCap(this.k.machine.mem, cnode - physmap(0) + index * SLOT_BYTES, cap);
  }

  initThread(k: Subkernel, _core: Core, t: Thread): void {
    this.k = k;
    const mem = k.machine.mem;
    const { cnode, radix } = this.cspaceOf(t.process);
    // One-level CSpace: the guard covers the bits above the radix (guard value 0).
    putCap(mem, t.tcbGpa + SLOT_CTABLE, Cap.cnode(cnode, radix, 64 - radix, 0));
    putCap(mem, t.tcbGpa + SLOT_VTABLE, Cap.pml4(t.process.space.userRoot, t.process.space.asid));
    mem.write64n(t.tcbGpa + TCB_STATE, TS.Running);
    mem.write64n(t.tcbGpa + TCB_IPC_BUFFER, t.ipcBufferUser);
  }

  /** Binds the personality to a kernel before any thread exists (for setup calls). */
  attach(k: Subkernel): void {
    this.k = k;
  }

  // ---- System calls --------------------------------------------------------------------

  syscall(k: Subkernel, core: Core, t: Thread): Thread | null {
    const P = this.paths;
    core.run(P.cHandleSyscall);
    const nr = core.regs.get(R.RDX);
    switch (nr) {
      case Sys.Call:
        return (
          (this.options.fastpath ? fastpathCall(this, core, t) : null) ?? slowCall(this, core, t)
        );
      case Sys.ReplyRecv:
        return (
          (this.options.fastpath ? fastpathReplyRecv(this, core, t) : null) ??
          slowReplyRecv(this, core, t)
        );
      case Sys.Send:
        return slowSend(this, core, t, true);
      case Sys.NBSend:
        return slowSend(this, core, t, false);
      case Sys.Recv:
        return slowRecv(this, core, t);
      case Sys.Reply:
        return slowReply(this, core, t);
      case Sys.Yield:
        k.makeReady(core, t);
        return k.chooseThread(core);
      default:
        return t;
    }
  }

  onStop(k: Subkernel, core: Core, t: Thread): void {
    const blockedOn = t.ext.blockedOn as number | undefined;
    if (blockedOn !== undefined) {
      // Leave the endpoint queue it waits in (seL4 cancelIPC).
      epRemove(core, blockedOn, t);
      delete t.ext.blockedOn;
    }
    // A caller stopped while it waits for a reply: delete the reply capability its server
    // holds to it (seL4 cancelIPC, BlockedOnReply), so no reply can resume a dead thread.
    const server = t.ext.replyFrom as Thread | undefined;
    if (server !== undefined) {
      const cap = readCap(core, server.tcb + SLOT_CALLER);
      if (capType(cap) === CapType.Reply && cap.w1 === t.tcb) {
        writeCap(core, server.tcb + SLOT_CALLER, Cap.null());
        core.store64(server.tcb + SLOT_CALLER + 16, 0);
        core.store64(t.tcb + SLOT_REPLY + 24, 0);
      }
      delete t.ext.replyFrom;
    }
    // A caller waiting for this thread's reply is woken with an error: its reply
    // capability died with the server (seL4 deletes the reply cap and restarts the caller
    // with a fault; we report seL4_FailedLookup in the label, see docs).
    for (const other of k.threads) {
      if (other.ext.replyFrom === t && other.alive) {
        delete other.ext.replyFrom;
        core.store64(other.tcb + regOffset(RI.RSI), msgInfo(Sel4Error.FailedLookup, 0, 0));
        core.store64(other.tcb + TCB_STATE, TS.Running);
        k.makeReady(core, other);
      }
    }
  }
}
