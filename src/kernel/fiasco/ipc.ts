// Fiasco.OC's IPC (src/kern/thread-ipc.cpp Thread::do_ipc, do_ipc_receive, transfer_msg,
// copy_utcb_to_utcb, ipc_send_msg; receiver.cpp sender_ok, prepare_receive, set_reply_cap):
// a send phase that hands the message to a receiver already waiting (or queues the sender
// by priority), then a receive phase that takes a queued sender's message or waits. The
// message words go from the sender's UTCB to the receiver's, word by word through the
// core; the receiver's frame gets the tag and the label ("from"). A receiver that was
// waiting is switched to directly (time-slice donation, activate_ipc_partner →
// switch_exec_locked) without a scheduler pass. Every field access is a load or a store at
// objects.ts's offsets; the blocks between them carry paths.ts's counts.

import type { Core } from '../../hw/core.ts';
import { MSR, wrmsr } from '../../hw/isa.ts';
import type { Block } from '../code-layout.ts';
import { ThreadState, type Thread } from '../thread.ts';
import { F, L4Error, MAX_WORDS, TH, TS, UTCB, tagWords, withError } from './objects.ts';
import type { Fiasco } from './fiasco.ts';
import { locked } from '../priced.ts';
import { firstSender, inSenderList, senderDequeue, senderEnqueue } from './senders.ts';

const run = (core: Core, b: Block): void => core.run(b);

/** What an invocation asks of do_ipc (Thread::check_sys_ipc's results plus the tag). */
export interface IpcRequest {
  tag: number;
  /** The label the receiver sees (gate: _id | rights; thread cap: the sender's RSI). */
  fromSpec: number;
  rights: number;
  /** Send-phase partner, or null for a receive only. */
  partner: Thread | null;
  haveReceive: boolean;
  /** Receive phase: whom to wait for (closed wait), null for an open wait. */
  sender: Thread | null;
}

/** Kobject_iface::commit_error: the error into the UTCB's error TCR, the tag's error bit. */
export function commitError(f: Fiasco, core: Core, t: Thread, error: number, tag = 0): Thread {
  run(core, f.paths.commitError);
  core.store64(t.ipcBufferKernel + UTCB.error, error);
  core.store64(t.tcb + F.rax, withError(tag));
  return t;
}

function setState(core: Core, t: Thread, del: number, add: number): void {
  const s = core.load64(t.tcb + TH.state);
  core.store64(t.tcb + TH.state, (s & ~del) | add);
}

/** transfer_msg → copy_utcb_to_utcb: words UTCB to UTCB, tag and label into the
 *  receiver's frame, and the reply capability for a call into an open wait. */
function transferMsg(
  f: Fiasco,
  core: Core,
  snd: Thread,
  rcv: Thread,
  tag: number,
  rights: number,
  openWait: boolean,
): void {
  const P = f.paths;
  run(core, P.transfer);
  const dst = core.load64(rcv.tcb + TH.rcvRegs);
  core.load64(snd.tcb + TH.utcbHandler);
  core.load64(rcv.tcb + TH.utcbHandler);
  const su = core.load64(snd.tcb + TH.utcbKernel);
  const ru = core.load64(rcv.tcb + TH.utcbKernel);
  const n = Math.min(tagWords(tag), MAX_WORDS);
  for (let i = 0; i < n; i++) {
    run(core, P.copyWord);
    core.store64(ru + UTCB.values + i * 8, core.load64(su + UTCB.values + i * 8));
  }
  // The receiver's Syscall_frame (its rcv_regs): the tag into RAX, the label into RSI.
  const frame = dst === 0 ? rcv.tcb + F.r15 : dst;
  core.store64(frame + (F.rax - F.r15), tag - (tag & 0x8000));
  core.store64(frame + (F.rsi - F.r15), core.load64(snd.tcb + TH.fromSpec));
  if (openWait && core.load64(snd.tcb + TH.partner) === rcv.tcb) {
    // Receiver::set_reply_cap: the receiver's current reply slot names the caller.
    run(core, P.setReplyCap);
    const slot = core.load64(rcv.tcb + TH.curReplySlot);
    core.load64(slot);
    core.store64(snd.tcb + TH.partnerReplyCap, slot);
    // The slot is claimed with a LOCK CMPXCHG (Reply_cap_slot::cas).
    core.store64(slot, snd.tcb + (rights & 3));
    locked(core);
  }
}

/** The receiver side of a switch (switch_exec_locked → switch_cpu → switchin_context), and
 *  the path it returns along (its do_ipc_receive tail and the epilogues) to the exit. */
export function switchCost(f: Fiasco, core: Core, from: Thread | null, to: Thread): void {
  const P = f.paths;
  const cpu = f.cpuVar(core);
  run(core, P.switchExec);
  core.load64(to.tcb + TH.state);
  core.load64(to.tcb + TH.currentCpu);
  core.load64(to.tcb + TH.homeCpu);
  if (from !== null) core.load64(from.tcb + TH.state);
  core.store64(to.tcb + TH.helper, 0);
  core.store64(to.tcb + TH.currentCpu, core.id);
  core.load64(cpu + CPU.fpuOwner);
  run(core, P.switchCpu);
  core.load64(cpu + CPU.gdt);
  for (let i = 0; i < 4; i++) core.store64(cpu + CPU.gdt + 8 + i * 8, i);
  if (from !== null) core.store64(from.tcb + TH.segs, 0);
  core.load64(to.tcb + TH.segs);
  // set_fs_base / set_gs_base (cpu-64.cpp): a WRMSR each for a thread with null FS and GS
  // selectors, which is every thread here. GS base = &utcb->utcb_addr (arch_setup_utcb_ptr).
  core.load64(to.tcb + TH.fsBase);
  wrmsr(core, P.wrmsrFs, MSR.IA32_FS_BASE, 0);
  wrmsr(core, P.wrmsrGs, MSR.IA32_GS_BASE, core.load64(to.tcb + TH.gsBase));
  if (from !== null) core.store64(from.tcb + TH.kernelSp, from.tcb + F.r15 - 16);
  core.load64(to.tcb + TH.kernelSp);
  run(core, P.switchin);
  core.store64(cpu + CPU.tssRsp0, to.tcb + F.ss + 8);
  core.load64(to.tcb + TH.space);
  // Mem_space::switchin_context's part for another address space (the CR3 write itself is
  // the common core's).
  if (from === null || from.process.space !== to.process.space) run(core, P.switchinSpace);
  // `to` resumes where it switched away: the switch's tail and handle_drq, then its own
  // return path.
  run(core, P.switchTail);
  f.returnTail(core, to);
}

/** Per-CPU data (our choice of layout): the current Sched_context, the FPU owner, the TSS
 *  rsp0 the CPU loads at entry, the user GDT entries. */
export const CPU = { currentSched: 0, fpuOwner: 8, tssRsp0: 16, gdt: 64 } as const;

/** A thread that gives up the CPU: Context::schedule, then the ready queue's choice. */
function schedule(f: Fiasco, core: Core, t: Thread): Thread | null {
  run(core, f.paths.schedule);
  const next = f.k.chooseThread(core);
  if (next !== null) {
    core.store64(f.cpuVar(core) + CPU.currentSched, next.tcb);
    switchCost(f, core, t, next);
  }
  return next;
}

/** Thread::do_ipc for `t` (the current thread). Returns the thread to run next. */
export function doIpc(f: Fiasco, core: Core, t: Thread, q: IpcRequest): Thread | null {
  const P = f.paths;
  run(core, P.doIpc);
  // do_ipc_receive's tail resets the callee's reply cap after a call (sender == partner).
  t.ext.fiascoCall = q.sender !== null && q.sender === q.partner;
  // Receiver::prepare_receive: where the message goes, whom we wait for.
  const openWait = q.haveReceive && q.sender === null;
  if (openWait) {
    run(core, P.openWait);
    core.store64(t.tcb + TH.curReplySlot, t.tcb + TH.replyCap);
  }
  core.store64(t.tcb + TH.rcvRegs, q.haveReceive ? t.tcb + F.r15 : 0);
  core.store64(t.tcb + TH.partner, q.sender?.tcb ?? 0);
  if (q.sender !== null) {
    core.store64(t.tcb + TH.partnerInSenderList, inSenderList(core, t, q.sender) ? 1 : 0);
  }
  core.load64(f.cpuVar(core) + CPU.currentSched);
  let activate = false;
  let doSwitch = false;
  const partner = q.partner;
  if (partner !== null) {
    doSwitch = (q.tag & 0x2000) === 0 && partner.core === core;
    core.store64(t.tcb + TH.sendRights, q.rights);
    core.store64(t.tcb + TH.fromSpec, q.fromSpec);
    core.load64(partner.tcb + TH.homeCpu);
    // reset_caller: replying to our caller by another route drops its reply link.
    if (core.load64(partner.tcb + TH.partner) === t.tcb) {
      run(core, P.resetCaller);
      resetPartnerReplyCap(core, partner);
    }
    // handshake_receiver → check_sender → sender_ok.
    run(core, P.checkSender);
    const ps = core.load64(partner.tcb + TH.state);
    if (ps === TS.Invalid || (ps & TS.Dead) !== 0 || !partner.alive) {
      setState(core, t, TS.IpcMask, 0);
      return commitError(f, core, t, L4Error.NotExistent);
    }
    const pPartner = core.load64(partner.tcb + TH.partner);
    const head = core.load64(partner.tcb + TH.senderList);
    const receiving = (ps & TS.IpcMask) === TS.ReceiveWait;
    const open = receiving && pPartner === 0 && (head === 0 || head === t.tcb);
    if (open) run(core, P.senderOkOpen);
    const closed = receiving && pPartner === t.tcb;
    if (!open && !closed) {
      // Queued: wait in the partner's sender list (do_send_wait blocks until it receives).
      run(core, P.senderEnqueue);
      core.store64(t.tcb + TH.sndRegs, t.tcb + F.r15);
      senderEnqueue(core, partner, t, P.prioWalk);
      setState(core, t, 0, TS.SendWait | (q.haveReceive ? TS.ReceiveWait : 0));
      setState(core, t, TS.Ready, 0);
      t.state = ThreadState.Blocked;
      t.ext.sendTo = partner;
      return schedule(f, core, t);
    }
    setState(core, partner, TS.IpcMask | TS.Ready, TS.IpcTransfer);
    core.load64(partner.tcb + TH.timeout);
    transferMsg(f, core, t, partner, q.tag, q.rights, open);
    run(core, P.afterSend);
    setState(core, t, TS.IpcMask, q.haveReceive ? TS.ReceiveWait : 0);
    activate = partner !== t;
  } else {
    setState(core, t, 0, TS.ReceiveWait);
  }
  return doIpcReceive(f, core, t, q, activate, doSwitch);
}

function doIpcReceive(
  f: Fiasco,
  core: Core,
  t: Thread,
  q: IpcRequest,
  activate: boolean,
  doSwitch: boolean,
): Thread | null {
  const P = f.paths;
  const k = f.k;
  run(core, P.receivePrep);
  let next: Thread | null = null;
  if (q.haveReceive) {
    const first = firstSender(k, core, t);
    next =
      q.sender === null
        ? first
        : q.sender !== null && inSenderList(core, t, q.sender)
          ? q.sender
          : null;
    if (next === null) core.load64(t.tcb + TH.utcbKernel); // setup_timer(never)
  }
  const partner = q.partner;
  let switchedTo: Thread | null = null;
  if (activate && partner !== null) {
    const cur = core.load64(f.cpuVar(core) + CPU.currentSched);
    const callWait = q.haveReceive && q.sender !== null;
    // Not a call: the test goes on to whose scheduling context runs (time-slice donation).
    if (doSwitch && next === null && !callWait) run(core, P.directCheck);
    const direct = doSwitch && next === null && (callWait || cur !== t.tcb);
    core.load64(partner.tcb + TH.homeCpu);
    setState(core, partner, TS.IpcTransfer, TS.Ready);
    delete partner.ext.sendTo;
    if (partner.core !== core) {
      k.makeReady(core, partner);
    } else if (direct) {
      switchedTo = partner;
    } else {
      // deblock_and_schedule: the partner preempts us only with a higher priority.
      run(core, P.deblock);
      // (A receive phase of ours continues before the switch here, after it in Fiasco.)
      if (partner.priority > t.priority) switchedTo = partner;
      else k.makeReady(core, partner);
    }
  }
  if (next !== null) {
    // A sender is already queued: take its message now (Thread::ipc_send_msg).
    setState(core, t, TS.IpcMask, TS.ReceiveInProgress);
    ipcSendMsg(f, core, next, t, q.sender === null);
    setState(core, t, TS.IpcMask | TS.ReceiveInProgress, 0);
  } else if (q.haveReceive) {
    t.state = ThreadState.Blocked;
    // After a switch to the partner, Fiasco's thread stays Ready until it resumes still
    // waiting (do_receive_wait runs then); without one it waits now.
    if (switchedTo === null) {
      run(core, P.receiveWait);
      setState(core, t, TS.Ready, 0);
      return schedule(f, core, t);
    }
  }
  if (switchedTo !== null) {
    if (t.state !== ThreadState.Blocked) k.makeReady(core, t);
    switchCost(f, core, t, switchedTo);
    return switchedTo;
  }
  f.returnTail(core, t);
  return t;
}

/** Thread::ipc_send_msg: a queued sender `s` delivers to receiver `r` (running now). */
function ipcSendMsg(f: Fiasco, core: Core, s: Thread, r: Thread, openWait: boolean): void {
  const k = f.k;
  run(core, f.paths.ipcSendMsg);
  senderDequeue(core, s);
  const regs = core.load64(s.tcb + TH.sndRegs);
  const tag = core.load64(regs + (F.rax - F.r15));
  const rights = core.load64(s.tcb + TH.sendRights);
  transferMsg(f, core, s, r, tag, rights, openWait);
  const call = core.load64(s.tcb + TH.rcvRegs) !== 0;
  setState(core, s, TS.IpcMask | TS.IpcTransfer, TS.Ready | (call ? TS.ReceiveWait : 0));
  delete s.ext.sendTo;
  // A caller goes on waiting for the reply (Fiasco lets it run briefly into
  // do_receive_wait, which blocks it again; the model keeps it blocked). A plain sender
  // is ready again.
  if (!call) k.makeReady(core, s);
}

/** Receiver::reset_partner_reply_cap: the callee's reply slot naming `caller` is cleared. */
export function resetPartnerReplyCap(core: Core, caller: Thread): void {
  const slot = core.load64(caller.tcb + TH.partnerReplyCap);
  if (slot === 0) return;
  const v = core.load64(slot);
  // The slot is cleared with a LOCK CMPXCHG against the caller's reply cap.
  if (v - (v & 3) === caller.tcb) core.store64(slot, 0);
  locked(core);
  core.store64(caller.tcb + TH.partnerReplyCap, 0);
}
