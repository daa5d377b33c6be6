// The pieces every channel path shares: the PeerHolder mutex, StateTracker::UpdateStateLocked
// with its observers, Event::Signal, MessageWaiter delivery and cancellation, and the
// message queue (object/dispatcher.cc, channel_dispatcher.cc, kernel/event.cc).

import type { Core } from '../../hw/core.ts';
import type { Block } from '../code-layout.ts';
import { CH, MP, MW, PH, TCB_OBSERVER, TCB_WAITER, WO } from './objects.ts';
import { locked } from '../priced.ts';
import { withThreadLock } from './switch.ts';
import type { Zircon } from './zircon.ts';

export const run = (core: Core, b: Block): void => core.run(b);

/** Guard<Mutex> on the channel's PeerHolder lock (shared by both endpoints). Returns the
 *  holder, for the unlock. */
export function lockChannel(z: Zircon, core: Core, ch: number): number {
  run(core, z.paths.channelLock);
  const holder = core.load64(ch + CH.holder);
  // Mutex::Acquire's fast path: a compare-exchange of the owner word.
  core.load64(holder + PH.mutex);
  core.store64(holder + PH.mutex, 1);
  locked(core);
  return holder;
}

export function unlockChannel(z: Zircon, core: Core, holder: number): void {
  run(core, z.paths.channelUnlock);
  // Mutex::Release's fast path: a compare-exchange back to free.
  core.store64(holder + PH.mutex, 0);
  locked(core);
}

/** Event::Signal at `event` (signaled word, result word, wait-queue head): wakes the thread
 *  blocked on it, if any, through the scheduler. */
export function signalEvent(
  z: Zircon,
  core: Core,
  signaled: number,
  result: number,
  queue: number,
  status: number,
): void {
  run(core, z.paths.eventSignal);
  withThreadLock(z.sw, core, () => {
    core.store32(signaled, 1);
    core.store32(result, status >>> 0);
    const tcb = core.load64(queue);
    if (tcb === 0) return;
    core.store64(queue, 0);
    const t = z.k.byTcb.get(tcb);
    if (t !== undefined && t.alive) z.unblock(core, t);
  });
}

/** Unlinks the thread-resident MessageWaiter `w` from channel `ch`'s waiters_. */
export function eraseWaiter(core: Core, ch: number, w: number): void {
  const prev = core.load64(w + MW.prev);
  const next = core.load64(w + MW.next);
  if (prev === 0) core.store64(ch + CH.waitersHead, next);
  else core.store64(prev + MW.next, next);
  if (next === 0) core.store64(ch + CH.waitersTail, prev);
  else core.store64(next + MW.prev, prev);
}

/** MessageWaiter::Deliver (msg) or ::Cancel (status, no msg): then its Event::Signal. */
export function completeWaiter(
  z: Zircon,
  core: Core,
  w: number,
  msg: number,
  status: number,
): void {
  run(core, z.paths.deliver);
  core.store64(w + MW.msg, msg);
  core.store32(w + MW.status, status >>> 0);
  signalEvent(z, core, w + MW.eventSignaled, w + MW.eventResult, w + MW.eventQueue, status);
}

/** StateTracker::UpdateStateLocked: new signals; each observer whose trigger they meet gets
 *  its Event signalled (WaitSignalObserver::OnStateChange). */
export function updateState(z: Zircon, core: Core, ch: number, clear: number, set: number): void {
  run(core, z.paths.updateState);
  const old = core.load32(ch + CH.signals);
  const now = ((old & ~clear) | set) >>> 0;
  if (now === old) return;
  core.store32(ch + CH.signals, now);
  for (let o = core.load64(ch + CH.observersHead); o !== 0; o = core.load64(o + WO.next)) {
    run(core, z.paths.observer);
    if ((now & core.load32(o + WO.watched)) === 0) continue;
    core.store32(o + WO.observed, now);
    signalEvent(z, core, o + WO.eventSignaled, o + WO.eventResult, o + WO.eventQueue, 0);
  }
}

/** ChannelDispatcher::WriteSelf (under the lock): a call waiter with the packet's txid gets
 *  it directly; otherwise it is queued and READABLE raised. */
export function writeSelf(z: Zircon, core: Core, ch: number, packet: number): void {
  const P = z.paths;
  let w = core.load64(ch + CH.waitersHead);
  if (w !== 0) {
    const txid = core.load32(packet + core.load32(packet + MP.payloadOffset));
    for (; w !== 0; w = core.load64(w + MW.next)) {
      run(core, P.waiterScan);
      if (core.load32(w + MW.txid) === txid) {
        eraseWaiter(core, ch, w);
        completeWaiter(z, core, w, packet, 0);
        return;
      }
    }
  }
  run(core, P.writeSelf);
  const tail = core.load64(ch + CH.msgTail);
  core.store64(packet + MP.next, 0);
  core.store64(packet + MP.prev, tail);
  if (tail === 0) core.store64(ch + CH.msgHead, packet);
  else core.store64(tail + MP.next, packet);
  core.store64(ch + CH.msgTail, packet);
  const n = core.load64(ch + CH.msgCount) + 1;
  core.store64(ch + CH.msgCount, n);
  if (n > core.load32(ch + CH.maxMsgCount)) core.store32(ch + CH.maxMsgCount, n);
  updateState(z, core, ch, 0, 1);
}

/** messages_.pop_front (under the lock); READABLE cleared when the queue empties. */
export function popMessage(z: Zircon, core: Core, ch: number, packet: number): void {
  const next = core.load64(packet + MP.next);
  core.store64(ch + CH.msgHead, next);
  if (next === 0) core.store64(ch + CH.msgTail, 0);
  else core.store64(next + MP.prev, 0);
  const n = core.load64(ch + CH.msgCount) - 1;
  core.store64(ch + CH.msgCount, n);
  if (n === 0) updateState(z, core, ch, 1, 0);
}

/** Unlinks the thread's wait_one observer from its dispatcher's list (RemoveObserver). */
export function removeObserver(core: Core, o: number): void {
  const d = core.load64(o + WO.dispatcher);
  const prev = core.load64(o + WO.prev);
  const next = core.load64(o + WO.next);
  if (prev === 0) core.store64(d + CH.observersHead, next);
  else core.store64(prev + WO.next, next);
  if (next === 0) core.store64(d + CH.observersTail, prev);
  else core.store64(next + WO.prev, prev);
  core.store64(o + WO.dispatcher, 0);
}

export const waiterOf = (tcb: number): number => tcb + TCB_WAITER;
export const observerOf = (tcb: number): number => tcb + TCB_OBSERVER;
