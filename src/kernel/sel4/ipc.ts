// seL4's IPC slowpath (src/api/syscall.c handleInvocation/handleRecv/handleReply,
// src/object/endpoint.c sendIPC/receiveIPC, src/kernel/thread.c doIPCTransfer,
// setupCallerCap, possibleSwitchTo): long messages through the IPC buffers, capability
// transfer, senders and receivers queued on the endpoint, the scheduler choosing who runs.

import type { Core } from '../../hw/core.ts';
import { R } from '../../hw/core.ts';
import type { Block } from '../code-layout.ts';
import { ThreadState, type Thread } from '../thread.ts';
import { SLOT_BYTES, lookupCap, type Lookup } from './cspace.ts';
import { epAppend, epRemove, readEp } from './endpoint.ts';
import {
  Cap,
  CapType,
  EpState,
  IPCBUF_CAPS,
  IPCBUF_MSG,
  IPCBUF_RECEIVE_INDEX,
  MSG_MAX_LENGTH,
  MSG_REGISTERS,
  RI,
  RIGHT,
  SLOT_CALLER,
  SLOT_CTABLE,
  SLOT_REPLY,
  Sel4Error,
  TCB_STATE,
  TS,
  capHas,
  capPtr,
  capType,
  msgExtraCaps,
  msgInfo,
  msgLabel,
  msgLength,
  readCap,
  regOffset,
  writeCap,
  FAST_MESSAGE_REGISTERS,
} from './objects.ts';
import type { Sel4 } from './sel4.ts';

const run = (core: Core, b: Block): void => core.run(b);

/** Writes an error into the caller's returned message info (label) and returns to it. */
function fail(core: Core, t: Thread, error: number): Thread {
  core.store64(t.tcb + regOffset(RI.RSI), msgInfo(error, 0, 0));
  return t;
}

function lookup(s: Sel4, core: Core, t: Thread, cptr: number): Lookup {
  run(core, s.paths.lookupSlow);
  return lookupCap(core, readCap(core, t.tcb + SLOT_CTABLE), cptr, s.paths.lookupLevel);
}

/** doIPCTransfer: message registers (CPU registers, then IPC buffer words), badge, message
 *  info, and granted capabilities into the receiver's receive slot. */
function transfer(
  s: Sel4,
  core: Core,
  from: Thread,
  to: Thread,
  info: number,
  badge: number,
  canGrant: boolean,
): void {
  const P = s.paths;
  run(core, P.transfer);
  const len = Math.min(msgLength(info), MSG_MAX_LENGTH);
  for (let i = 0; i < Math.min(len, FAST_MESSAGE_REGISTERS); i++) {
    const off = regOffset(MSG_REGISTERS[i]!);
    core.store64(to.tcb + off, core.load64(from.tcb + off));
  }
  for (let i = FAST_MESSAGE_REGISTERS; i < len; i++) {
    run(core, P.transferWord);
    core.store64(
      to.ipcBufferKernel + IPCBUF_MSG + i * 8,
      core.load64(from.ipcBufferKernel + IPCBUF_MSG + i * 8),
    );
  }
  let caps = 0;
  const extra = msgExtraCaps(info);
  if (extra > 0 && canGrant) {
    run(core, P.capTransfer);
    const dest = s.cspaceOf(to.process);
    const recvIndex = core.load64(to.ipcBufferKernel + IPCBUF_RECEIVE_INDEX);
    for (let i = 0; i < extra && i < 1; i++) {
      const cptr = core.load64(from.ipcBufferKernel + IPCBUF_CAPS + i * 8);
      const lk = lookupCap(core, readCap(core, from.tcb + SLOT_CTABLE), cptr, P.lookupLevel);
      if (
        !lk.ok ||
        capType(lk.cap) === CapType.Null ||
        recvIndex <= 0 ||
        recvIndex >= 1 << dest.radix
      )
        break;
      writeCap(core, dest.cnode + recvIndex * SLOT_BYTES, lk.cap);
      caps++;
    }
  }
  core.store64(to.tcb + regOffset(RI.RDI), badge);
  core.store64(to.tcb + regOffset(RI.RSI), msgInfo(msgLabel(info), caps, len));
}

/** setupCallerCap: the caller blocks on the reply; the receiver's tcbCaller slot gets a
 *  reply capability to it. */
function setupCaller(s: Sel4, core: Core, caller: Thread, receiver: Thread): void {
  run(core, s.paths.setupCaller);
  core.store64(caller.tcb + TCB_STATE, TS.BlockedOnReply);
  writeCap(core, receiver.tcb + SLOT_CALLER, Cap.reply(caller.tcb, false));
  core.store64(receiver.tcb + SLOT_CALLER + 16, caller.tcb + SLOT_REPLY);
  core.store64(caller.tcb + SLOT_REPLY + 24, receiver.tcb + SLOT_CALLER + 3);
  caller.state = ThreadState.Blocked;
  caller.ext.replyFrom = receiver;
}

/** possibleSwitchTo: the woken thread runs now if it is on this core and outranks the
 *  current one; otherwise it is queued (and its core told, if remote). */
function wake(s: Sel4, core: Core, woken: Thread, current: Thread | null): Thread | null {
  run(core, s.paths.possibleSwitch);
  core.store64(woken.tcb + TCB_STATE, TS.Running);
  delete woken.ext.blockedOn;
  if (woken.core === core && (current === null || woken.priority > current.priority)) {
    if (current !== null) s.k.makeReady(core, current);
    return woken;
  }
  s.k.makeReady(core, woken);
  return current;
}

/** sendIPC for Call, Send and NBSend. */
function send(s: Sel4, core: Core, t: Thread, blocking: boolean, call: boolean): Thread | null {
  const P = s.paths;
  const info = core.regs.get(R.RSI);
  const lk = lookup(s, core, t, core.regs.get(R.RDI));
  if (!lk.ok) return fail(core, t, Sel4Error.FailedLookup);
  if (capType(lk.cap) !== CapType.Endpoint || !capHas(lk.cap, RIGHT.Send))
    return fail(core, t, Sel4Error.InvalidCapability);
  if (msgLength(info) > MSG_MAX_LENGTH) return fail(core, t, Sel4Error.RangeError);
  const ep = capPtr(lk.cap);
  const badge = lk.cap.w1;
  const canGrant = capHas(lk.cap, RIGHT.Grant);
  run(core, P.sendIpc);
  const v = readEp(core, ep);
  if (v.state === EpState.Recv) {
    const dest = s.k.byTcb.get(v.head)!;
    epRemove(core, ep, dest);
    transfer(s, core, t, dest, info, badge, canGrant);
    if (call) {
      setupCaller(s, core, t, dest);
      // The caller is blocked: the receiver runs if it can, else the scheduler decides.
      const next = wake(s, core, dest, null);
      return next ?? s.k.chooseThread(core);
    }
    return wake(s, core, dest, t);
  }
  if (!blocking) return t;
  // No receiver: queue on the endpoint (thread_state: blockingObject, isCall, badge).
  run(core, P.epQueue);
  core.store64(t.tcb + TCB_STATE, ep + TS.BlockedOnSend);
  core.store64(t.tcb + TCB_STATE + 8, (call ? 1 : 0) + (canGrant ? 2 : 0));
  core.store64(t.tcb + TCB_STATE + 16, badge);
  epAppend(core, ep, t, EpState.Send);
  t.state = ThreadState.Blocked;
  t.ext.blockedOn = ep;
  return s.k.chooseThread(core);
}

export function slowCall(s: Sel4, core: Core, t: Thread): Thread | null {
  run(core, s.paths.slowEntry);
  return send(s, core, t, true, true);
}

export function slowSend(s: Sel4, core: Core, t: Thread, blocking: boolean): Thread | null {
  run(core, s.paths.slowEntry);
  return send(s, core, t, blocking, false);
}

/** receiveIPC: take a queued sender's message, or block on the endpoint. */
function receive(s: Sel4, core: Core, t: Thread): Thread | null {
  const P = s.paths;
  const lk = lookup(s, core, t, core.regs.get(R.RDI));
  if (!lk.ok) return fail(core, t, Sel4Error.FailedLookup);
  if (capType(lk.cap) !== CapType.Endpoint || !capHas(lk.cap, RIGHT.Receive))
    return fail(core, t, Sel4Error.InvalidCapability);
  const ep = capPtr(lk.cap);
  run(core, P.receiveIpc);
  const v = readEp(core, ep);
  if (v.state === EpState.Send) {
    const sender = s.k.byTcb.get(v.head)!;
    const flags = core.load64(sender.tcb + TCB_STATE + 8);
    const badge = core.load64(sender.tcb + TCB_STATE + 16);
    epRemove(core, ep, sender);
    // The sender's message info is in its saved RSI.
    const info = core.load64(sender.tcb + regOffset(RI.RSI));
    transfer(s, core, sender, t, info, badge, (flags & 2) !== 0);
    delete sender.ext.blockedOn;
    if ((flags & 1) !== 0) {
      setupCaller(s, core, sender, t);
      return t;
    }
    return wake(s, core, sender, t);
  }
  run(core, P.epQueue);
  core.store64(t.tcb + TCB_STATE, ep + TS.BlockedOnReceive);
  epAppend(core, ep, t, EpState.Recv);
  t.state = ThreadState.Blocked;
  t.ext.blockedOn = ep;
  return s.k.chooseThread(core);
}

export function slowRecv(s: Sel4, core: Core, t: Thread): Thread | null {
  run(core, s.paths.slowEntry);
  return receive(s, core, t);
}

/** handleReply: deliver the reply through the tcbCaller reply capability, delete it, and
 *  make the caller runnable. Returns the caller (or null if there was none). */
function reply(s: Sel4, core: Core, t: Thread): Thread | null {
  run(core, s.paths.doReply);
  const cap = readCap(core, t.tcb + SLOT_CALLER);
  if (capType(cap) !== CapType.Reply) return null;
  const caller = s.k.byTcb.get(cap.w1);
  if (caller === undefined || !caller.alive) return null;
  transfer(s, core, t, caller, core.regs.get(R.RSI), 0, false);
  const prev = core.load64(t.tcb + SLOT_CALLER + 16);
  if (prev !== 0) core.store64(prev + 24, 0);
  writeCap(core, t.tcb + SLOT_CALLER, Cap.null());
  core.store64(t.tcb + SLOT_CALLER + 16, 0);
  delete caller.ext.replyFrom;
  return caller;
}

export function slowReply(s: Sel4, core: Core, t: Thread): Thread | null {
  run(core, s.paths.slowEntry);
  const caller = reply(s, core, t);
  return caller === null ? t : wake(s, core, caller, t);
}

export function slowReplyRecv(s: Sel4, core: Core, t: Thread): Thread | null {
  run(core, s.paths.slowEntry);
  const caller = reply(s, core, t);
  if (caller !== null) {
    core.store64(caller.tcb + TCB_STATE, TS.Running);
    s.k.makeReady(core, caller);
  }
  return receive(s, core, t);
}

export { SLOT_BYTES };
