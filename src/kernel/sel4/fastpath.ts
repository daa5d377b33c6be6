// seL4's IPC fastpath (src/fastpath/fastpath.c, 10.1.1): fastpath_call and
// fastpath_reply_recv as a list of checks, each falling back to the slowpath (return null),
// then the point of no return. Every object field the C code reads or writes is a load or
// store here, at seL4's offsets; the blocks between them carry its instruction counts
// (paths.ts). The address-space switch and the register restore are the common exit path.

import type { Core } from '../../hw/core.ts';
import { R } from '../../hw/core.ts';
import { ThreadState, type Thread } from '../thread.ts';
import { lookupCap } from './cspace.ts';
import { readEp, epAppend } from './endpoint.ts';
import {
  Cap,
  CapType,
  EpState,
  MSG_REGISTERS,
  RI,
  RIGHT,
  SLOT_CALLER,
  SLOT_CTABLE,
  SLOT_REPLY,
  SLOT_VTABLE,
  TCB_BOUND_NTFN,
  TCB_EP_NEXT,
  TCB_EP_PREV,
  TCB_FAULT,
  TCB_PRIORITY,
  TCB_STATE,
  TS,
  capHas,
  capPtr,
  capType,
  msgExtraCaps,
  msgInfo,
  msgLabel,
  msgLength,
  pml4IsMapped,
  readCap,
  regOffset,
  writeCap,
  FAST_MESSAGE_REGISTERS,
  type CapWords,
} from './objects.ts';
import type { Sel4 } from './sel4.ts';
import type { Block } from '../code-layout.ts';

function copyMrs(core: Core, from: Thread, to: Thread, n: number): void {
  for (let i = 0; i < n; i++) {
    const off = regOffset(MSG_REGISTERS[i]!);
    core.store64(to.tcb + off, core.load64(from.tcb + off));
  }
}

type Run = (b: Block) => void;

/**
 * The checks both fastpaths begin with, in seL4's order: decode the message info, the
 * caller's fault state, the message-length and extra-caps check (`checks` is the call's or
 * reply_recv's block), the CSpace lookup, an endpoint capability with `right`. Returns the
 * endpoint capability and the message, or null for the slowpath.
 */
function prologue(
  s: Sel4,
  core: Core,
  t: Thread,
  checks: Block,
  right: number,
): { info: number; len: number; cap: CapWords } | null {
  const P = s.paths;
  const run: Run = (b) => core.run(b);
  run(P.fpDecode);
  const info = core.regs.get(R.RSI);
  const cptr = core.regs.get(R.RDI);
  const len = msgLength(info);
  core.load64(t.tcb + TCB_FAULT);
  run(checks);
  if (len > FAST_MESSAGE_REGISTERS || msgExtraCaps(info) !== 0) return null;
  const lk = lookupCap(core, readCap(core, t.tcb + SLOT_CTABLE), cptr, P.lookupLevel);
  if (!lk.ok) return null;
  run(P.fpEpCheck);
  if (capType(lk.cap) !== CapType.Endpoint || !capHas(lk.cap, right)) return null;
  return { info, len, cap: lk.cap };
}

/** fastpath_call: returns the receiver to switch to, or null for the slowpath. */
export function fastpathCall(s: Sel4, core: Core, t: Thread): Thread | null {
  const P = s.paths;
  const run: Run = (b) => core.run(b);
  const pro = prologue(s, core, t, P.fpChecks, RIGHT.Send);
  if (pro === null) return null;
  const { info, len, cap } = pro;
  const ep = capPtr(cap);
  const v = readEp(core, ep);
  run(P.fpEpState);
  if (v.state !== EpState.Recv) return null;
  const dest = s.k.byTcb.get(v.head);
  if (dest === undefined) return null;
  const vt = readCap(core, dest.tcb + SLOT_VTABLE);
  run(P.fpVtable);
  if (capType(vt) !== CapType.PML4 || !pml4IsMapped(vt)) return null;
  const destPrio = core.load64(dest.tcb + TCB_PRIORITY);
  const curPrio = core.load64(t.tcb + TCB_PRIORITY);
  run(P.fpPrio);
  if (destPrio < curPrio) return null;
  run(P.fpGrant);
  if (!capHas(cap, RIGHT.Grant) && !capHas(cap, RIGHT.GrantReply)) return null;
  // SMP builds require the same core (tcbAffinity); cross-core IPC takes the slowpath.
  if (dest.core !== core) return null;

  // Point of no return. Dequeue the receiver.
  run(P.fpDequeue);
  const next = core.load64(dest.tcb + TCB_EP_NEXT);
  core.store64(ep + 8, next);
  if (next !== 0) core.store64(next + TCB_EP_PREV, 0);
  else core.store64(ep, EpState.Idle);
  // Block the caller on the reply and link the reply capability.
  run(P.fpBlockCaller);
  core.store64(t.tcb + TCB_STATE, TS.BlockedOnReply);
  run(P.fpReplyLink);
  core.load64(dest.tcb + TCB_STATE + 8);
  writeCap(core, dest.tcb + SLOT_CALLER, Cap.reply(t.tcb, false));
  core.store64(dest.tcb + SLOT_CALLER + 16, t.tcb + SLOT_REPLY);
  core.store64(t.tcb + SLOT_REPLY + 24, dest.tcb + SLOT_CALLER + 3);
  run(P.fpCopyMrs);
  copyMrs(core, t, dest, len);
  run(P.fpSetRunning);
  core.store64(dest.tcb + TCB_STATE, TS.Running);
  run(P.fpSwitch);
  // fastpath_restore hands the badge and message info over in RDI and RSI.
  core.store64(dest.tcb + regOffset(RI.RDI), cap.w1);
  core.store64(dest.tcb + regOffset(RI.RSI), msgInfo(msgLabel(info), 0, len));
  t.state = ThreadState.Blocked;
  t.ext.replyFrom = dest;
  delete dest.ext.blockedOn;
  return dest;
}

/** fastpath_reply_recv: returns the caller to switch to, or null for the slowpath. */
export function fastpathReplyRecv(s: Sel4, core: Core, t: Thread): Thread | null {
  const P = s.paths;
  const k = s.k;
  const run: Run = (b) => core.run(b);
  const pro = prologue(s, core, t, P.rrChecks, RIGHT.Receive);
  if (pro === null) return null;
  const { info, len, cap } = pro;
  run(P.rrNtfn);
  if (core.load64(t.tcb + TCB_BOUND_NTFN) !== 0) return null;
  const ep = capPtr(cap);
  const v = readEp(core, ep);
  if (v.state === EpState.Send) return null;
  run(P.rrCallerSlot);
  const callerCap = readCap(core, t.tcb + SLOT_CALLER);
  if (capType(callerCap) !== CapType.Reply) return null;
  const caller = k.byTcb.get(callerCap.w1);
  if (caller === undefined) return null;
  core.load64(caller.tcb + TCB_FAULT);
  const vt = readCap(core, caller.tcb + SLOT_VTABLE);
  run(P.fpVtable);
  if (capType(vt) !== CapType.PML4 || !pml4IsMapped(vt)) return null;
  run(P.rrPrio);
  const callerPrio = core.load64(caller.tcb + TCB_PRIORITY);
  if (callerPrio < k.queues[core.id]!.highestPriority(core)) return null;
  if (caller.core !== core) return null;

  // Point of no return. Block the server on the endpoint.
  run(P.rrBlockSelf);
  core.store64(t.tcb + TCB_STATE, ep + TS.BlockedOnReceive);
  run(P.rrEnqueue);
  epAppend(core, ep, t, EpState.Recv);
  // Delete the reply capability (and its MDB link from the caller's tcbReply slot).
  run(P.rrDeleteReply);
  const prev = core.load64(t.tcb + SLOT_CALLER + 16);
  if (prev !== 0) core.store64(prev + 24, 0);
  writeCap(core, t.tcb + SLOT_CALLER, Cap.null());
  core.store64(t.tcb + SLOT_CALLER + 16, 0);
  core.store64(t.tcb + SLOT_CALLER + 24, 0);
  run(P.fpCopyMrs);
  copyMrs(core, t, caller, len);
  run(P.fpSetRunning);
  core.store64(caller.tcb + TCB_STATE, TS.Running);
  run(P.fpSwitch);
  core.store64(caller.tcb + regOffset(RI.RDI), 0);
  core.store64(caller.tcb + regOffset(RI.RSI), msgInfo(msgLabel(info), 0, len));
  t.state = ThreadState.Blocked;
  t.ext.blockedOn = ep;
  delete caller.ext.replyFrom;
  return caller;
}
