// Endpoint queues (seL4 src/object/endpoint.c, include/object/endpoint.h): an endpoint's
// first word holds the queue's tail and its state (Idle, Send, Recv), the second its head;
// the queue is linked through the TCBs' tcbEPNext/tcbEPPrev. All loads and stores.

import type { Core } from '../../hw/core.ts';
import type { Subkernel } from '../subkernel.ts';
import type { Thread } from '../thread.ts';
import { EpState, TCB_EP_NEXT, TCB_EP_PREV } from './objects.ts';

export interface EpView {
  state: number;
  head: number;
  tail: number;
}

export function readEp(core: Core, ep: number): EpView {
  const w0 = core.load64(ep);
  const head = core.load64(ep + 8);
  const state = w0 % 4;
  return { state, head, tail: w0 - state };
}

/** Appends `t` (blocked in `state`) to the endpoint's queue. */
export function epAppend(core: Core, ep: number, t: Thread, state: number): void {
  const v = readEp(core, ep);
  core.store64(t.tcb + TCB_EP_NEXT, 0);
  core.store64(t.tcb + TCB_EP_PREV, v.tail);
  if (v.tail === 0) {
    core.store64(ep, t.tcb + state);
    core.store64(ep + 8, t.tcb);
  } else {
    core.store64(v.tail + TCB_EP_NEXT, t.tcb);
    core.store64(ep, t.tcb + state);
  }
}

/** Removes `t` from the endpoint's queue; the endpoint goes Idle when it empties. */
export function epRemove(core: Core, ep: number, t: Thread): void {
  const v = readEp(core, ep);
  const next = core.load64(t.tcb + TCB_EP_NEXT);
  const prev = core.load64(t.tcb + TCB_EP_PREV);
  if (prev === 0) core.store64(ep + 8, next);
  else core.store64(prev + TCB_EP_NEXT, next);
  if (next === 0) core.store64(ep, prev === 0 ? EpState.Idle : prev + v.state);
  else core.store64(next + TCB_EP_PREV, prev);
}

/** The thread at the head of the queue, or null. */
export function epHeadThread(k: Subkernel, v: EpView): Thread | null {
  return v.head === 0 ? null : (k.byTcb.get(v.head) ?? null);
}
