// A receiver's sender list (Receiver::_sender_list, a Prio_list: sender.cpp
// Sender::sender_enqueue / sender_dequeue): senders waiting to deliver a message, highest
// priority first, first come first served within a priority. The head is a word in the
// receiver's thread object; the links and the priority are in each sender's. All loads and
// stores through the core.

import type { Core } from '../../hw/core.ts';
import type { Block } from '../code-layout.ts';
import type { Subkernel } from '../subkernel.ts';
import type { Thread } from '../thread.ts';
import { TH } from './objects.ts';

/** Inserts `s` into `r`'s sender list after every sender of at least its priority. */
export function senderEnqueue(core: Core, r: Thread, s: Thread, walk: Block): void {
  const head = r.tcb + TH.senderList;
  const prio = core.load64(s.tcb + TH.prio);
  let prev = 0;
  let cur = core.load64(head);
  while (cur !== 0) {
    core.run(walk);
    if (core.load64(cur + TH.prio) < prio) break;
    prev = cur;
    cur = core.load64(cur + TH.senderNext);
  }
  core.store64(s.tcb + TH.senderNext, cur);
  core.store64(s.tcb + TH.senderPrev, prev);
  if (prev === 0) core.store64(head, s.tcb);
  else core.store64(prev + TH.senderNext, s.tcb);
  if (cur !== 0) core.store64(cur + TH.senderPrev, s.tcb);
  core.store64(s.tcb + TH.waitQueue, head);
}

/** Removes `s` from the list it waits in (no-op when it is in none). */
export function senderDequeue(core: Core, s: Thread): void {
  const head = core.load64(s.tcb + TH.waitQueue);
  if (head === 0) return;
  const next = core.load64(s.tcb + TH.senderNext);
  const prev = core.load64(s.tcb + TH.senderPrev);
  if (prev === 0) core.store64(head, next);
  else core.store64(prev + TH.senderNext, next);
  if (next !== 0) core.store64(next + TH.senderPrev, prev);
  core.store64(s.tcb + TH.waitQueue, 0);
}

/** The first sender in `r`'s list, or null (Prio_list::first). */
export function firstSender(k: Subkernel, core: Core, r: Thread): Thread | null {
  const h = core.load64(r.tcb + TH.senderList);
  return h === 0 ? null : (k.byTcb.get(h) ?? null);
}

/** Whether `s` waits in `r`'s sender list. */
export function inSenderList(core: Core, r: Thread, s: Thread): boolean {
  return core.load64(s.tcb + TH.waitQueue) === r.tcb + TH.senderList;
}
