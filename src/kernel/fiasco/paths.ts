// Fiasco.OC's IPC path as blocks of kernel text. Each block is one step of Fiasco's C++ or
// assembly between the memory accesses the model makes explicitly (those are charged as the
// loads and stores they are, one instruction each, in ipc.ts / fiasco.ts); its count is the
// instructions of that step that are not such accesses: register moves, compares and
// branches, prologues and epilogues, argument set-up. All counts are our estimates from
// reading kernkonzept/fiasco at 245fce53 (no compiler output was inspected), per step, with
// the function they come from; none was set from a measured result. The sum is compared
// with L4Re's published 613 instructions one way in test/kernel/fiasco-ipc.test.ts.
//
// Known gap: the one-way inter-address-space IPC measures ~515 cycles against the 934–1,172
// L4Re publishes for Xeons. Why: the profile's CPI of 0.5 (L4Re's own figures imply ~1.9
// cycles per instruction on those Xeons, stalls included); the two WRMSRs to FS/GS base in
// switch_cpu (cpu-64.cpp) are charged as plain instructions, since the model gives those MSRs
// no cost of their own; ~465 instructions per one-way here against L4Re's 613. Fiasco enables
// PCID only with kernel isolation, so its own default without KPTI is PCID off (~673 cycles).

import type { Block, CodeLayout } from '../code-layout.ts';

export interface FiascoPaths {
  // ---- Kernel: the system call (syscalls.cpp sys_ipc_wrapper, FIASCO_FLATTEN) ---------
  /** Prologue (4 callee-saved pushes + frame), current_thread() (mask RSP), the frame
   *  pointer, Obj_cap decode, the `o != nullptr` test, the virtual call's argument moves
   *  and call: 6 + 2 + 1 + 1 + 2 + 2 (op & Ipc_reply) + 2 (special()) + 4 + 1 = 21. */
  wrapper: Block;
  /** Obj_space_phys::lookup_local / get_cap (obj_space_phys_util.cpp): `_dir` null test 2,
   *  d_idx = index >> Caps_per_page_ld2 (index = raw >> Cap_shift) 2, bound check 2, table
   *  null test 2, offset 1, entry address 1, rights = cap & 3 and obj = cap & ~3: 2 → 12. */
  lookupLocal: Block;
  /** Obj_cap::deref with Ipc_reply (thread_object.cpp): implicit slot select 2,
   *  Receiver::reset_reply_cap / reset_reply_cap_slot (receiver.cpp): slot address 2,
   *  xchg-style clear 1, caller and rights decode 3, caller->_partner_reply_cap = nullptr
   *  address 1 → 9. */
  derefReply: Block;
  /** Kobject_iface::commit_error (kobject_iface.cpp): error into the UTCB, tag | Error: 4. */
  commitError: Block;
  // ---- Object invocation --------------------------------------------------------------
  /** Ipc_gate::invoke (ipc_gate.cpp): prologue 7, current_thread 2, `!t` test 2, op decode
   *  1, Thread::check_sys_ipc (thread.cpp) 9, `!ipc` test 2, from_spec = _id | rights 1,
   *  do_ipc's eight arguments (two on the stack) 10, call 1 → 35. */
  gateInvoke: Block;
  /** Thread_object::invoke's IPC branch (thread_object.cpp): prologue 7, the op/protocol
   *  test 8, current_thread 2, check_sys_ipc 9, `!ok` 2, arguments 10, call 1 → 39. */
  threadInvoke: Block;
  /** Kobject_h<...>::invoke for an object that is not an IPC partner (kobject_helper.cpp):
   *  the op test, kinvoke's protocol check returning -EBadproto, has_error, the receive
   *  test, f->tag(res): 14. */
  kobjectInvoke: Block;
  // ---- Thread::do_ipc (thread-ipc.cpp), send phase -------------------------------------
  /** Prologue (6 pushes, sub, argument moves) 10, do_switch 1, Receiver::prepare_receive
   *  (receiver.cpp): open_wait 3, implicit slot 1, explicit_reply test 2, the
   *  _partner_in_sender_list expression 6, return test 2; `if (partner)` 2,
   *  tag.do_switch() 2, home_cpu compare 2, reset_caller's is_partner test 2 → 33. */
  doIpc: Block;
  /** handshake_receiver → check_sender → Receiver::sender_ok (receiver.cpp): is_invalid 2,
   *  ipc_state mask+compare 3, `!_partner` 2, sender list empty 2, return 1, the
   *  Check_sender switch 3, state_change_dirty and/or 2, do_ipc's result switch 3 → 18. */
  checkSender: Block;
  /** reset_timeout test 2; transfer_msg / copy_utcb_to (thread-ipc.cpp): the _utcb_handler
   *  tests 4; copy_utcb_to_utcb: tag.words() 1, min(Max_words) 2, Mem::memcpy_mwords set-up
   *  (rcx, rsi, rdi, rep) 4, items test 2, transfer_fpu test 2, return 1; tag.set_error 2;
   *  the reply-cap condition (success && open_wait && is_partner) 5 → 25. */
  transfer: Block;
  /** One word of memcpy_mwords (rep movsq, one iteration besides its load and store). */
  copyWord: Block;
  /** Receiver::set_reply_cap (receiver.cpp): is_used test 2, slot and Reply_cap(caller,
   *  rights) encode 3 → 5. */
  setReplyCap: Block;
  /** do_ipc after the transfer: state_del_dirty / state_add_dirty 2, activate_partner 2,
   *  `!ok` 2, have_receive = state & Thread_receive_wait 2, into do_ipc_receive 2 → 10. */
  afterSend: Block;
  // ---- Thread::do_ipc_receive, and the switch ------------------------------------------
  /** IPC_timeout on the stack 4, have_receive 2, get_next_sender (empty list) 2,
   *  setup_timer (never) 3, activate_partner 2, the direct-switch condition 8,
   *  activate_ipc_partner: home CPU 2, state_change_dirty 2, do_switch 2, call 3 → 30. */
  receivePrep: Block;
  /** Context::switch_exec_locked (context.cpp): prologue 4, running_on_different_cpu 3,
   *  call 1; _switch_exec_common: prologue 4, ready test 2, home CPU test 2,
   *  update_ready_list's ready test 2; switch_fpu (lazy: owner compares) 5 → 23. */
  switchExec: Block;
  /** Context::switch_cpu (ia32/64/context-ia32-64.cpp): load_gdt_user_entries (loop over
   *  the user GDT entries and the UTCB entry) 8; ds/es/fs/gs: read selector, compare chain
   *  4 × 3; set_fs_base and set_gs_base (cpu-64.cpp set_fs_gs_base: mov, mov, shr, WRMSR)
   *  2 × 4; the asm: push rbp, push $1f, call 3 → 31. The two WRMSRs (IA32_FS_BASE,
   *  IA32_GS_BASE) are counted here as one instruction each: the machine does not model
   *  those MSRs (src/hw/isa.ts wrmsr), so their microcoded cost is not charged. */
  switchCpu: Block;
  /** Context::switchin_context (ia32/context-ia32.cpp): prologue 2,
   *  handle_lock_holder_preemption 2, the CPU 1, regs() + 1 → TSS rsp0 2, vcpu_aware_space
   *  test 2; Space::switchin_context (space-ia32.cpp): this != from 2, Io_space 3,
   *  enable_ldt 3; return 2; `pop rax; jmp *rax`, restart `pop rbp` 3 → 22. (The CR3 write
   *  of Mem_space::make_current is the common core's address-space switch.) */
  switchin: Block;
  /** The receiver resumes: switch_handle_drq 6, _switch_exec_common epilogue 5,
   *  switch_exec_locked epilogue 4, schedule_if 3, do_ipc_receive's tail (have_receive,
   *  next, reset_partner_reply_cap test, state test) 12, IPC_timeout gone 2, do_ipc
   *  epilogue 8, invoke epilogue 7, sys_ipc_wrapper epilogue and ret 6 → 53. */
  receiverTail: Block;
  // ---- Blocking, queues, the scheduler -------------------------------------------------
  /** check_sender's Queued branch + Sender::sender_enqueue (sender.cpp, Prio_list insert)
   *  + on_sender_enqueued + handshake's state_add + do_send_wait's loop: 24. */
  senderEnqueue: Block;
  /** One element of the priority-sorted sender list passed over on insertion. */
  prioWalk: Block;
  /** Thread::ipc_send_msg (thread-ipc.cpp) for a queued sender: sender_dequeue, the
   *  Prio_list unlink, on_sender_dequeued, the state change and xcpu_state_change: 30. */
  ipcSendMsg: Block;
  /** Thread::do_receive_wait: state_del_dirty(Thread_ready), the closed-wait test: 6. */
  receiveWait: Block;
  /** Context::schedule (context.cpp) before the ready queue's choice: the lock guard,
   *  helper and home-CPU tests, update_ready_list, the loop head: 22. */
  schedule: Block;
  /** Context::deblock_and_schedule: Ready_queue::deblock and the preemption decision: 20. */
  deblock: Block;
}

export function layoutFiasco(t: CodeLayout): FiascoPaths {
  t.align(64);
  return {
    wrapper: t.block(21, 72),
    lookupLocal: t.block(12, 40),
    derefReply: t.block(9, 30),
    commitError: t.block(4, 14),
    gateInvoke: t.block(35, 120),
    threadInvoke: t.block(39, 132),
    kobjectInvoke: t.block(14, 48),
    doIpc: t.block(33, 112),
    checkSender: t.block(18, 60),
    transfer: t.block(25, 84),
    copyWord: t.block(1, 4),
    setReplyCap: t.block(5, 18),
    afterSend: t.block(10, 34),
    receivePrep: t.block(30, 100),
    switchExec: t.block(23, 78),
    switchCpu: t.block(31, 104),
    switchin: t.block(22, 74),
    receiverTail: t.block(53, 176),
    senderEnqueue: t.block(24, 80),
    prioWalk: t.block(3, 10),
    ipcSendMsg: t.block(30, 100),
    receiveWait: t.block(6, 20),
    schedule: t.block(22, 74),
    deblock: t.block(20, 66),
  };
}

/** One-way counts by step, for the report and the tests (kernel blocks only). */
export function stepCounts(p: FiascoPaths): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, b] of Object.entries(p)) out[k] = b.instructions;
  return out;
}
