// Zircon's kernel paths as blocks of kernel text, one per step of the C++ between the memory
// accesses the model makes explicitly (those are charged as the loads and stores they are).
// The instruction counts are our estimates from reading Fuchsia's sources (zircon/kernel,
// 2020 tree: lib/syscalls/channel.cc, object/*.cc, kernel/{event,wait,mutex,scheduler}.cc,
// vm/pmm_node.cc); none was set from a measurement, SkyBridge's or anyone's. Where a step
// executes an instruction with its own architectural cost (RDTSC in the scheduler's
// CurrentTime()), that instruction is laid out with its real encoding and run as itself.
//
// Not charged (the CPU profile has no figure for them): the extra latency of locked atomic
// instructions (mutexes, reference counts), the FPU save/restore on a context switch, timer
// reprogramming in the scheduler, SWAPGS. Each would make Zircon's IPC dearer than modelled.

import type { Block, CodeLayout } from '../code-layout.ts';

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
  /** Event::Wait → WaitQueue::BlockEtc (kernel/wait.cc): state BLOCKED, wait-queue insert;
   *  Scheduler::Block → RescheduleCommon after CurrentTime(): runtime accounting,
   *  EvaluateNextThread (WAVL remove), preemption timer update, context-switch bookkeeping,
   *  arch_context_switch's callee-saved registers and FS/GS bases. */
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
    callBegin: b(25),
    waiterScan: b(5),
    writeSelf: b(20),
    deliver: b(8),
    updateState: b(20),
    observer: b(15),
    eventSignal: b(30),
    schedUnblock: b(60),
    schedUnblockTsc: t.insn('rdtsc'),
    schedBlock: b(150),
    schedBlockTsc: t.insn('rdtsc'),
    waitResume: b(10),
    readPop: b(25),
    callEnd: b(15),
    readOut: b(20),
    callArgs: b(12),
    waitBegin: b(30),
    waitEnd: b(20),
    handleClose: b(60),
    peerClosed: b(30),
  };
}
