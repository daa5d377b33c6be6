// Fiasco.OC's IPC path as blocks of kernel text. Each block is one step of Fiasco's code
// between the memory accesses the model makes explicitly (charged as the loads and stores
// they are, one instruction each, in ipc.ts / fiasco.ts); its count is the instructions of
// that step that are not such accesses.
//
// How the counts were obtained (fast-path blocks): kernkonzept/fiasco at 245fce53 built with
// the machine's gcc 12.2 (`make BUILDDIR=… DEFCONFIG=…`, amd64, CONFIG_PERFORMANCE=y with
// its INLINE/NDEBUG/NO_FRAME_PTR/LAZY_FPU, MP, no JDB, no kernel isolation), then
// `objdump -d -l fiasco.debug`, and the instructions on the path of the benchmark's two IPCs
// (an l4_ipc_call through an IPC gate into a server in an open wait, and its
// l4_ipc_reply_and_wait) walked branch by branch, each branch decided from the source line
// objdump names beside it. Real count per step, minus the accesses the model makes in that
// step, gives the block; the step's real total is quoted beside each block. One way, the walk
// gives 579 kernel instructions for the call and 571 for the reply; with the benchmark
// loop's own ~10 user instructions that is ~585 against L4Re's published 587 (Xeon Platinum
// 8352S, Intel N100) and 613 (Xeon Gold 6248R). Blocks off the benchmark's path (queued
// senders, the scheduler, deblocking, errors) are still our estimates from reading the
// source, and say so.
//
// Instructions with a cost of their own are run as themselves: the two WRMSRs of
// switch_cpu (IA32_FS_BASE, IA32_GS_BASE; ops.wrmsrBase), and the locked operations (the
// XCHG and LOCK CMPXCHG on reply capabilities; ops.xchgMem, ops.lockRmw, charged on top of
// their access). The MOV to CR3 is the common core's. Not on this path: the lazy FPU switch
// (a CR0.TS write or CLTS when one of the two threads owns the FPU; no thread of the
// benchmark uses it), IPC timeouts, and JDB's trace hooks (the published build may carry them).

import type { Block, CodeLayout } from '../code-layout.ts';
import { fiascoMix } from '../kernel-mixes.ts';

export interface FiascoPaths {
  // ---- sys_ipc_wrapper (syscalls.cpp) ---------------------------------------------------
  /** Common prefix: current thread from RSP, frame, UTCB, the reply-bit test: real 9. */
  wrapper: Block;
  /** Obj_space_phys::lookup_local + the virtual jump to invoke: real 27 (gate path). */
  lookupLocal: Block;
  /** Obj_cap::deref with Ipc_reply: reset_reply_cap's XCHG on the slot, the caller's
   *  _partner_reply_cap LOCK CMPXCHG, the virtual jump: real 17 (the XCHG's read and write
   *  are two of the model's accesses, so one of them stands for a block instruction). */
  derefReply: Block;
  /** Kobject_iface::commit_error: 4 (estimate). */
  commitError: Block;
  // ---- Invocation ---------------------------------------------------------------------
  /** Ipc_gate::invoke up to do_ipc: check_sys_ipc, Mem::mp_rmb (LFENCE), from_spec, the
   *  eight arguments: real 48. */
  gateInvoke: Block;
  /** Thread_object::invoke's IPC branch up to do_ipc: real 45. */
  threadInvoke: Block;
  /** Kobject_h::invoke refusing IPC with -EBadproto: 14 (estimate). */
  kobjectInvoke: Block;
  // ---- Thread::do_ipc (thread-ipc.cpp), send phase ---------------------------------------
  /** Prologue, prepare_receive, the send-phase set-up, reset_caller's test: real 48 (call). */
  doIpc: Block;
  /** prepare_receive for an open wait (explicit-reply test, the implicit slot): real +3. */
  openWait: Block;
  /** reset_caller finding the partner waiting for us (reset_partner_reply_cap): real +3. */
  resetCaller: Block;
  /** handshake_receiver → check_sender → sender_ok (closed wait), the state change,
   *  reset_timeout: real 32. */
  checkSender: Block;
  /** sender_ok's open-wait test (the sender list empty): real +1. */
  senderOkOpen: Block;
  /** transfer_msg → copy_utcb_to_utcb (the REP MOVSQ of the words, tag, label): real 48. */
  transfer: Block;
  /** One word of the REP MOVSQ (besides its load and store): our model of a string
   *  iteration (the REP instruction retires once). */
  copyWord: Block;
  /** Receiver::set_reply_cap: the slot test, SFENCE, the LOCK CMPXCHG: real 14. */
  setReplyCap: Block;
  /** After the transfer: state changes, activate_partner: real 13. */
  afterSend: Block;
  // ---- do_ipc_receive and the switch -------------------------------------------------------
  /** get_next_sender, setup_timer (never), the direct-switch test for a call, activate:
   *  real 36. */
  receivePrep: Block;
  /** The direct-switch test through the current scheduling context (not a call): real +9. */
  directCheck: Block;
  /** switch_exec_locked + _switch_exec_common up to switch_cpu (ready test,
   *  update_ready_list, set_helper, set_current_cpu, switch_fpu's owner tests): real 52. */
  switchExec: Block;
  /** switch_cpu (context-ia32-64.cpp): load_gdt_user_entries, DS/ES/FS/GS, the stack
   *  switch, the call, and `pop; jmp *%rax` into the resumed thread: real 61, of which the
   *  two WRMSRs are the sites below. */
  switchCpu: Block;
  wrmsrFs: number;
  wrmsrGs: number;
  /** switchin_context_label: TSS rsp0, the vCPU tests, the I/O-bitmap test: real 39. */
  switchin: Block;
  /** Mem_space::switchin_context for another address space: the CPU bit in its mask,
   *  pmem_to_phys, make_current: real 19 (the CR3 write and its set-up are the common
   *  core's switchSpace block and MOV CR3). */
  switchinSpace: Block;
  /** The resumed thread: _switch_exec_common's tail, switch_handle_drq → handle_drq with
   *  nothing pending: real 40. */
  switchTail: Block;
  /** do_ipc_receive's tail, do_ipc's and invoke's epilogues: real 37. */
  receiverTail: Block;
  /** The caller's reset_partner_reply_cap after a call: real +7. */
  callTail: Block;
  // ---- Blocking, queues, the scheduler (estimates from reading the source) --------------------
  /** check_sender's Queued branch, sender_enqueue, do_send_wait's loop: 24. */
  senderEnqueue: Block;
  /** One element of the sender list passed over on insertion: 3. */
  prioWalk: Block;
  /** Thread::ipc_send_msg for a queued sender: 30. */
  ipcSendMsg: Block;
  /** Thread::do_receive_wait: 6. */
  receiveWait: Block;
  /** Context::schedule before the ready queue's choice: 22. */
  schedule: Block;
  /** Context::deblock_and_schedule: 20. */
  deblock: Block;
}

export function layoutFiasco(t: CodeLayout): FiascoPaths {
  t.align(64);
  // Each count: the step's real count minus the model's explicit accesses in it (ipc.ts).
  const p = {
    wrapper: t.block(7, 24, fiascoMix('wrapper')), // 9 − 2 loads
    lookupLocal: t.block(20, 64, fiascoMix('lookupLocal')), // 27 − 7 (4 lookup, 2 vtable, the tag)
    derefReply: t.block(10, 36, fiascoMix('derefReply')), // 17 − 7
    commitError: t.block(4, 14, fiascoMix('commitError')),
    gateInvoke: t.block(45, 150, fiascoMix('gateInvoke')), // 48 − 3
    threadInvoke: t.block(43, 144, fiascoMix('threadInvoke')), // 45 − 2
    kobjectInvoke: t.block(14, 48, fiascoMix('kobjectInvoke')),
    doIpc: t.block(39, 132, fiascoMix('doIpc')), // 48 − 9
    openWait: t.block(3, 12, fiascoMix('openWait')),
    resetCaller: t.block(3, 10, fiascoMix('resetCaller')),
    checkSender: t.block(26, 88, fiascoMix('checkSender')), // 32 − 6
    senderOkOpen: t.block(1, 4, fiascoMix('senderOkOpen')),
    transfer: t.block(40, 136, fiascoMix('transfer')), // 48 − 8
    copyWord: t.block(1, 4, fiascoMix('copyWord')),
    setReplyCap: t.block(10, 36, fiascoMix('setReplyCap')), // 14 − 4
    afterSend: t.block(11, 38, fiascoMix('afterSend')), // 13 − 2
    receivePrep: t.block(29, 100, fiascoMix('receivePrep')), // 36 − 7
    directCheck: t.block(9, 30, fiascoMix('directCheck')),
    switchExec: t.block(45, 150, fiascoMix('switchExec')), // 52 − 7
    switchCpu: t.block(48, 170, fiascoMix('switchCpu')), // 61 − 11 − the 2 WRMSRs
    wrmsrFs: t.insn('wrmsr'),
    wrmsrGs: t.insn('wrmsr'),
    switchin: t.block(36, 124, fiascoMix('switchin')), // 39 − 2 − the common core's current-thread store
    switchinSpace: t.block(12, 44, fiascoMix('switchinSpace')), // 19 − MOV CR3 − the common switchSpace block (6)
    switchTail: t.block(40, 136, fiascoMix('switchTail')),
    receiverTail: t.block(36, 120, fiascoMix('receiverTail')), // 37 − 1
    callTail: t.block(6, 22, fiascoMix('callTail')), // 7 − 1
    senderEnqueue: t.block(24, 80, fiascoMix('senderEnqueue')),
    prioWalk: t.block(3, 10, fiascoMix('prioWalk')),
    ipcSendMsg: t.block(30, 100, fiascoMix('ipcSendMsg')),
    receiveWait: t.block(6, 20, fiascoMix('receiveWait')),
    schedule: t.block(22, 74, fiascoMix('schedule')),
    deblock: t.block(20, 66, fiascoMix('deblock')),
  };
  return p;
}

/** Kernel instructions per step (blocks only), for the report and the tests. */
export function stepCounts(p: FiascoPaths): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, b] of Object.entries(p)) if (typeof b === 'object') out[k] = b.instructions;
  return out;
}
