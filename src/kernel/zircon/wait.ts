// zx_object_wait_one and zx_handle_close (lib/syscalls/object_wait.cc, handle_ops.cc;
// object/wait_signal_observer.cc, channel_dispatcher.cc on_zero_handles), and what a dying
// thread leaves behind (the MessageWaiter destructor's RemoveWaiter; the observer's End).

import type { Core } from '../../hw/core.ts';
import type { Thread } from '../thread.ts';
import { freePacket } from './heap.ts';
import {
  CH,
  LOC,
  MP,
  MW,
  OBJ_TYPE_CHANNEL,
  RIGHT,
  SIGNAL,
  TCB_LOCALS,
  TIME_INFINITE,
  WO,
  ZX,
} from './objects.ts';
import {
  completeWaiter,
  eraseWaiter,
  lockChannel,
  observerOf,
  removeObserver,
  run,
  signalEvent,
  unlockChannel,
  updateState,
  waiterOf,
} from './signals.ts';
import { putUser32 } from './usercopy.ts';
import type { Zircon } from './zircon.ts';
import { locked } from '../priced.ts';

/** zx_object_wait_one(handle, signals, deadline, observed). Returns a status, or null when
 *  the thread blocked (waitResume finishes it). Deadlines: 0 (poll) or ZX_TIME_INFINITE. */
export function objectWaitOne(z: Zircon, core: Core, t: Thread, a: number[]): number | null {
  const [h, signals, deadline, observedAt] = a as [number, number, number, number];
  const lk = z.lookup(core, t, h, RIGHT.WAIT, OBJ_TYPE_CHANNEL);
  if (!lk.ok) return lk.status;
  const ch = lk.dispatcher;
  // WaitSignalObserver::Begin → AddObserver: OnInitialize sees the current signals.
  run(core, z.paths.waitBegin);
  const o = observerOf(t.tcb);
  core.store64(o + WO.dispatcher, ch);
  // The observer's RefPtr to the dispatcher: AddRef, a LOCK XADD.
  core.store64(ch + CH.refcount, core.load64(ch + CH.refcount) + 1);
  locked(core);
  core.store32(o + WO.watched, signals);
  core.store32(o + WO.observed, 0);
  core.store32(o + WO.eventSignaled, 0);
  core.store64(o + WO.eventQueue, 0);
  const holder = lockChannel(z, core, ch);
  const now = core.load32(ch + CH.signals);
  if ((now & signals) !== 0) {
    core.store32(o + WO.observed, now);
    core.store32(o + WO.eventSignaled, 1);
    core.store32(o + WO.eventResult, 0);
  }
  const tail = core.load64(ch + CH.observersTail);
  core.store64(o + WO.next, 0);
  core.store64(o + WO.prev, tail);
  if (tail === 0) core.store64(ch + CH.observersHead, o);
  else core.store64(tail + WO.next, o);
  core.store64(ch + CH.observersTail, o);
  unlockChannel(z, core, holder);
  const L = t.tcb + TCB_LOCALS;
  core.store64(L + LOC.out, observedAt);
  core.store64(L + LOC.dispatcher, ch);
  if (core.load32(o + WO.eventSignaled) !== 0) return waitResume(z, core, t);
  if (deadline !== TIME_INFINITE) {
    core.store32(o + WO.eventResult, ZX.ERR_TIMED_OUT >>> 0);
    return waitResume(z, core, t);
  }
  return null;
}

/** After the Event: WaitSignalObserver::End (RemoveObserver under the lock), the signals
 *  out to the user, the reference dropped. */
export function waitResume(z: Zircon, core: Core, t: Thread): number {
  const o = observerOf(t.tcb);
  const L = t.tcb + TCB_LOCALS;
  const ch = core.load64(L + LOC.dispatcher);
  run(core, z.paths.waitEnd);
  let status = core.load32(o + WO.eventResult) | 0;
  const holder = lockChannel(z, core, ch);
  if (core.load64(o + WO.dispatcher) !== 0) removeObserver(core, o);
  const observed = core.load32(ch + CH.signals);
  unlockChannel(z, core, holder);
  // End() drops the observer's reference to the dispatcher: Release, a LOCK XADD.
  core.store64(ch + CH.refcount, core.load64(ch + CH.refcount) - 1);
  locked(core);
  const out = core.load64(L + LOC.out);
  if (out !== 0 && !putUser32(z.k, z.paths, core, t, out, observed) && status === ZX.OK)
    status = ZX.ERR_INVALID_ARGS;
  z.release(core, ch);
  return status;
}

/** zx_handle_close(handle): the handle leaves the table; the last one to an endpoint runs
 *  on_zero_handles. ZX_HANDLE_INVALID (0) is accepted and does nothing. */
export function handleClose(z: Zircon, core: Core, t: Thread, a: number[]): number {
  const h = a[0]!;
  if (h === 0) return ZX.OK;
  const lk = z.lookup(core, t, h, 0, OBJ_TYPE_CHANNEL);
  if (!lk.ok) return lk.status;
  run(core, z.paths.handleClose);
  closeHandle(z, core, z.tableOf(core, t), lk.handle, lk.dispatcher);
  z.release(core, lk.dispatcher);
  return ZX.OK;
}

/** HandleTable::RemoveHandle + Handle::Delete for the Handle at `h` to channel `ch`. */
export function closeHandle(z: Zircon, core: Core, table: number, h: number, ch: number): void {
  // Dispatcher::Cancel(handle): wait_one observers on this endpoint end with CANCELED.
  const holder = lockChannel(z, core, ch);
  for (let o = core.load64(ch + CH.observersHead); o !== 0;) {
    const next = core.load64(o + WO.next);
    removeObserver(core, o);
    signalEvent(
      z,
      core,
      o + WO.eventSignaled,
      o + WO.eventResult,
      o + WO.eventQueue,
      ZX.ERR_CANCELED,
    );
    o = next;
  }
  unlockChannel(z, core, holder);
  z.arena.release(core, table, h);
  const left = core.load32(ch + CH.handleCount) - 1;
  core.store32(ch + CH.handleCount, left);
  if (left === 0) onZeroHandles(z, core, ch);
}

/** PeeredDispatcher::on_zero_handles: own call waiters cancelled; the peer sees
 *  PEER_CLOSED, its call waiters end with ZX_ERR_PEER_CLOSED; queued messages are freed. */
function onZeroHandles(z: Zircon, core: Core, ch: number): void {
  run(core, z.paths.peerClosed);
  const holder = lockChannel(z, core, ch);
  const cancelAll = (d: number, status: number): void => {
    for (let w = core.load64(d + CH.waitersHead); w !== 0;) {
      const next = core.load64(w + MW.next);
      eraseWaiter(core, d, w);
      completeWaiter(z, core, w, 0, status);
      w = next;
    }
  };
  cancelAll(ch, ZX.ERR_CANCELED);
  const peer = core.load64(ch + CH.peer);
  if (peer !== 0) {
    updateState(z, core, peer, SIGNAL.CHANNEL_WRITABLE, SIGNAL.CHANNEL_PEER_CLOSED);
    cancelAll(peer, ZX.ERR_PEER_CLOSED);
    core.store64(peer + CH.peer, 0);
    core.store64(ch + CH.peer, 0);
  }
  for (let m = core.load64(ch + CH.msgHead); m !== 0;) {
    const next = core.load64(m + MP.next);
    freePacket(core, z.pool, m);
    m = next;
  }
  core.store64(ch + CH.msgHead, 0);
  core.store64(ch + CH.msgTail, 0);
  core.store64(ch + CH.msgCount, 0);
  unlockChannel(z, core, holder);
}

/** A stopped thread leaves no waiter or observer behind (MessageWaiter::~MessageWaiter →
 *  RemoveWaiter; the wait's End). A reply already delivered to it is freed. */
export function detachThread(z: Zircon, core: Core, t: Thread): void {
  const w = waiterOf(t.tcb);
  const ch = core.load64(w + MW.channel);
  if (ch !== 0) {
    const holder = lockChannel(z, core, ch);
    const msg = core.load64(w + MW.msg);
    if (msg === 0) {
      // Still queued unless a Cancel already took it off the list.
      const st = core.load32(w + MW.status) | 0;
      if (st === ZX.ERR_TIMED_OUT) eraseWaiter(core, ch, w);
    }
    core.store64(w + MW.channel, 0);
    core.store64(w + MW.msg, 0);
    unlockChannel(z, core, holder);
    if (msg !== 0) freePacket(core, z.pool, msg);
  }
  const o = observerOf(t.tcb);
  const d = core.load64(o + WO.dispatcher);
  if (d !== 0) {
    const holder = lockChannel(z, core, d);
    removeObserver(core, o);
    unlockChannel(z, core, holder);
  }
}
