// Zircon's kernel paths as blocks of kernel text, one per step of the C++ between the memory
// accesses the model makes explicitly (those are charged as the loads and stores they are).
// The instruction counts are our estimates from reading Fuchsia's sources (zircon/kernel,
// 2020 tree: lib/syscalls/channel.cc, object/*.cc, kernel/{event,wait,mutex,scheduler}.cc,
// vm/pmm_node.cc); none was set from a measurement, SkyBridge's or anyone's. Unlike
// Fiasco.OC's (src/kernel/fiasco/paths.ts), these counts were not taken from a compiled
// kernel: Zircon's kernel does not build outside Fuchsia's tree and toolchain.
//
// Instructions with a cost of their own are run as themselves or priced from the profile,
// from Zircon's source (PanQL/zircon, a 2019 snapshot, and the 2020 tree above):
// - RDTSC in the scheduler's CurrentTime(), SWAPGS at every system call's entry and exit
//   (arch/x86/syscall.S) and twice in arch_context_switch (thread.cc: with FSGSBASE the
//   user GS base is swapped in with RDGSBASE/WRGSBASE between two SWAPGS; RDFSBASE and
//   WRFSBASE are plain instructions in schedBlock's count);
// - XSAVES of the old thread's and XRSTORS of the new thread's extended state on every
//   context switch (registers.cc x86_extended_register_context_switch: Zircon switches
//   FPU/SSE/AVX state eagerly), ops.xsave / ops.xrstor;
// - the preemption timer (timer.cc timer_preempt_reset → update_platform_timer): the new
//   deadline (now + the fair scheduler's time slice) goes to per-CPU data; the TSC deadline
//   MSR is written (WRMSR, lapic.cc apic_timer_set_tsc_deadline) only when it is earlier
//   than the one already programmed, which a ping-pong within one time slice never is;
// - locked atomics, ops.lockRmw on top of their access: the handle table's BrwLock reader
//   add and sub, RefPtr AddRef/Release (fbl::RefCounted), Mutex acquire and release (a
//   compare-exchange each: channel locks and the PMM node's), the thread_lock spin lock
//   (kernel/event.cc, wait.cc; its release is a plain store).
// Blocks that now run one of these separately are shorter by it (schedBlock, eventSignal,
// callBegin, callEnd, waitBegin, waitEnd, the entry and exit), so nothing is counted twice.

import type { Block, CodeLayout } from '../code-layout.ts';
import { ZIRCON_KERNEL } from '../kernel-mixes.ts';

export interface ZirconPaths {
  /** x86_syscall after the register pushes: syscall-number bound check and table jump
   *  (arch/x86/syscall.S); the generated wrapper's vDSO PC check (VDso::ValidSyscallPC)
   *  and ProcessDispatcher::GetCurrent (lib/syscalls/syscalls.cc). */
  sysGlue: Block;
  /** The wrapper's return: status into RAX, Thread::Current::ProcessPendingSignals check. */
  sysReturn: Block;
  /** HandleTable::GetDispatcherWithRights (handle_table.h): BrwLock reader acquire,
   *  map_value_to_handle, Handle::FromU32 (arena range, base_value compare), process_id
   *  compare, HasRights, DownCastDispatcher, RefPtr copy, reader release. */
  handleLookup: Block;
  /** RefPtr<Dispatcher> destructor at the syscall's end (fbl::RefCounted::Release). */
  refRelease: Block;
  /** user_copy (arch/x86/user_copy.cc _x86_copy_to_or_from_user): range check
   *  (is_user_accessible_range), STAC, the REP MOVSB set-up, CLAC, return. The bytes moved
   *  are charged as the loads and stores they are, one per cache line. */
  userCopy: Block;
  /** MessagePacket::CreateCommon (message_packet.cc): size and handle-count checks,
   *  PayloadOffset; BufferChain::Alloc (buffer_chain.h): page count, list set-up, the
   *  Buffer, BufferChain and MessagePacket constructed in place. */
  msgCreate: Block;
  /** BufferChain::CopyIn/CopyOut per buffer: pointer and length arithmetic. */
  chainSegment: Block;
  /** pmm_alloc_pages → PmmNode::AllocPages (vm/pmm_node.cc): Guard<Mutex> acquire and
   *  release, free-count check, list set-up. */
  pmmAllocCall: Block;
  /** Per page: list_remove_head, vm_page state → IPC, AllocPageHelperLocked. */
  pmmAllocPage: Block;
  /** MessagePacket::recycle → BufferChain::Free → pmm_free (PmmNode::FreeList): lock,
   *  list splice, count. */
  pmmFreeCall: Block;
  /** Per page: paddr_to_vm_page lookup, state → FREE, list_add_head. */
  pmmFreePage: Block;
  /** AutoReschedDisable + Guard<Mutex> on the PeerHolder's lock (kernel/mutex.cc
   *  Mutex::Acquire fast path: compare-exchange of the owner word). */
  channelLock: Block;
  /** Mutex::Release fast path and AutoReschedDisable's re-enable check. */
  channelUnlock: Block;
  /** ChannelDispatcher::Call up to the txid: GetMessageWaiter, MessageWaiter::BeginWait
   *  (RefPtr to the channel, status, event_.Unsignal), owner and peer checks,
   *  ++txid_ | 0x80000000, set_txid on waiter and message, waiters_.push_back. */
  callBegin: Block;
  /** One iteration of a waiters_ scan (txid compare, next). */
  waiterScan: Block;
  /** ChannelDispatcher::WriteSelf without a matching waiter: messages_.push_back,
   *  max_message_count_, kMaxPendingMessageCount checks. */
  writeSelf: Block;
  /** MessageWaiter::Deliver: msg_ moved in, status_ = ZX_OK. */
  deliver: Block;
  /** StateTracker::UpdateStateLocked (object/dispatcher.cc): new signals, change test, the
   *  observer list walk. */
  updateState: Block;
  /** One StateObserver::OnStateChange (WaitSignalObserver: trigger test). */
  observer: Block;
  /** Event::Signal (kernel/event.cc): thread lock, result store, WaitQueue::WakeAll →
   *  wait_queue_wake_one's unblock of the waiting thread. */
  eventSignal: Block;
  /** Scheduler::Unblock (kernel/scheduler.cc): after CurrentTime(), FindTargetCpu,
   *  the fair run queue's WAVL insert, preemption decision, mp_reschedule mask. */
  schedUnblock: Block;
  /** Its CurrentTime(): RDTSC. */
  schedUnblockTsc: number;
  /** timer_preempt_reset → update_platform_timer: per-CPU deadline, the compare. */
  preemptTimer: Block;
  /** WRMSR IA32_TSC_DEADLINE (when the deadline moves earlier). */
  tscDeadline: number;
  /** arch_context_switch's XSAVES and XRSTORS (4 bytes each with REX.W). */
  xsaves: Block;
  xrstors: Block;
  /** arch_context_switch's SWAPGS around RDGSBASE/WRGSBASE. */
  switchSwapgs: number;
  switchSwapgsBack: number;
  /** x86_syscall's SWAPGS on entry and before SYSRETQ. */
  entrySwapgs: number;
  exitSwapgs: number;
  /** Event::Wait → WaitQueue::BlockEtc (kernel/wait.cc): state BLOCKED, wait-queue insert;
   *  Scheduler::Block → RescheduleCommon after CurrentTime(): runtime accounting,
   *  EvaluateNextThread (WAVL remove), context-switch bookkeeping, arch_context_switch's
   *  callee-saved registers, TSS rsp0, RDFSBASE/WRFSBASE and segment resets (without the
   *  preemption timer, the thread_lock word, XSAVES/XRSTORS and the two SWAPGS, run apart). */
  schedBlock: Block;
  schedBlockTsc: number;
  /** The blocked thread's return from BlockEtc: wait result, thread-lock release. */
  waitResume: Block;
  /** ChannelDispatcher::Read: owner check, empty check, size checks, pop_front. */
  readPop: Block;
  /** ResumeInterruptedCall's tail: MessageWaiter::EndWait (msg out, channel_ reset). */
  callEnd: Block;
  /** channel_read_out / sys_channel_read tail: size checks, actual_bytes and
   *  actual_handles out, msg_get_handles set-up. */
  readOut: Block;
  /** sys_channel_call (lib/syscalls/channel.cc): args copy-in set-up, wr_num_bytes ≥ 4 and
   *  option checks. */
  callArgs: Block;
  /** sys_object_wait_one (lib/syscalls/object_wait.cc): WaitSignalObserver::Begin →
   *  Dispatcher::AddObserver under the lock, OnInitialize's immediate signal test. */
  waitBegin: Block;
  /** WaitSignalObserver::End: RemoveObserver under the lock; observed signals out. */
  waitEnd: Block;
  /** sys_handle_close → HandleTable::RemoveHandle (writer lock, list unlink) → Handle::Delete
   *  (TearDown, arena free, decrement_handle_count). */
  handleClose: Block;
  /** PeeredDispatcher::on_zero_handles → OnPeerZeroHandlesLocked (PEER_CLOSED, waiters
   *  cancelled), peer_ reset, messages_.clear(). */
  peerClosed: Block;
}

export function layoutZircon(t: CodeLayout): ZirconPaths {
  t.use(ZIRCON_KERNEL);
  t.align(64);
  const b = (n: number, bytes = n * 3.5): Block => t.block(n, Math.ceil(bytes));
  return {
    sysGlue: b(20),
    sysReturn: b(12),
    handleLookup: b(30),
    refRelease: b(6),
    userCopy: b(14),
    msgCreate: b(40),
    chainSegment: b(10),
    pmmAllocCall: b(30),
    pmmAllocPage: b(14),
    pmmFreeCall: b(30),
    pmmFreePage: b(14),
    channelLock: b(12),
    channelUnlock: b(12),
    callBegin: b(23), // 25 − BeginWait's AddRef (a load and a store)
    waiterScan: b(5),
    writeSelf: b(20),
    deliver: b(8),
    updateState: b(20),
    observer: b(15),
    eventSignal: b(28), // 30 − the thread_lock word's acquire and release
    schedUnblock: b(60),
    schedUnblockTsc: t.insn('rdtsc'),
    schedBlock: b(136), // 150 − preemptTimer (8), XSAVES, XRSTORS, 2 SWAPGS, the lock word (2)
    schedBlockTsc: t.insn('rdtsc'),
    preemptTimer: b(6), // timer_preempt_reset 3 + update_platform_timer 3, besides 2 accesses
    tscDeadline: t.insn('wrmsr'),
    xsaves: t.block(1, 4),
    xrstors: t.block(1, 4),
    switchSwapgs: t.insn('swapgs'),
    switchSwapgsBack: t.insn('swapgs'),
    entrySwapgs: t.insn('swapgs'),
    exitSwapgs: t.insn('swapgs'),
    waitResume: b(10),
    readPop: b(25),
    callEnd: b(13), // 15 − EndWait's Release
    readOut: b(20),
    callArgs: b(12),
    waitBegin: b(28), // 30 − the observer's AddRef
    waitEnd: b(18), // 20 − its Release
    handleClose: b(60),
    peerClosed: b(30),
  };
}
