// seL4-style ready queues, one set per core, in kernel memory: for each priority a
// (head, tail) pair of TCB pointers, the queue links in the TCBs themselves, and a bitmap of
// non-empty priorities. Every operation is loads and stores by the core that runs it, so
// the scheduler's cache footprint is real. (seL4: src/kernel/thread.c, ksReadyQueues.)

import type { Core } from '../hw/core.ts';
import type { TcbLayout } from './tcb-layout.ts';
import type { Thread } from './thread.ts';

export const PRIORITIES = 256;
/** Bytes of one core's queues: 256 × 16 B heads/tails, then 4 bitmap words. */
export const QUEUE_BYTES = PRIORITIES * 16 + 64;

export class ReadyQueues {
  constructor(
    /** Kernel linear address of this core's queue array. */
    readonly base: number,
    readonly layout: TcbLayout,
    readonly byTcb: Map<number, Thread>,
  ) {}

  private head(p: number): number {
    return this.base + p * 16;
  }
  /** Second-level bitmap: eight 32-bit words, bit p % 32 of word p / 32. */
  private l2(p: number): number {
    return this.base + PRIORITIES * 16 + Math.floor(p / 32) * 4;
  }
  /** First-level bitmap: bit w set when L2 word w is non-zero (seL4 ksReadyQueuesL1Bitmap). */
  private get l1(): number {
    return this.base + PRIORITIES * 16 + 32;
  }

  /** Appends `t` at its priority (seL4 tcbSchedEnqueue). */
  enqueue(core: Core, t: Thread): void {
    const L = this.layout;
    const h = this.head(t.priority);
    const tail = core.load64(h + 8);
    core.store64(t.tcb + L.schedNext, 0);
    core.store64(t.tcb + L.schedPrev, tail);
    if (tail === 0) core.store64(h, t.tcb);
    else core.store64(tail + L.schedNext, t.tcb);
    core.store64(h + 8, t.tcb);
    if (tail === 0) {
      const w = this.l2(t.priority);
      core.store32(w, core.load32(w) | (1 << (t.priority % 32)));
      core.store32(this.l1, core.load32(this.l1) | (1 << Math.floor(t.priority / 32)));
    }
  }

  /** Removes `t` from its queue (seL4 tcbSchedDequeue). */
  dequeue(core: Core, t: Thread): void {
    const L = this.layout;
    const h = this.head(t.priority);
    const next = core.load64(t.tcb + L.schedNext);
    const prev = core.load64(t.tcb + L.schedPrev);
    if (prev === 0) core.store64(h, next);
    else core.store64(prev + L.schedNext, next);
    if (next === 0) core.store64(h + 8, prev);
    else core.store64(next + L.schedPrev, prev);
    if (next === 0 && prev === 0) {
      const w = this.l2(t.priority);
      const bits = core.load32(w) & ~(1 << (t.priority % 32));
      core.store32(w, bits);
      if (bits === 0)
        core.store32(this.l1, core.load32(this.l1) & ~(1 << Math.floor(t.priority / 32)));
    }
  }

  /** The highest priority with a ready thread, or -1 (two bitmap loads, as seL4's
   *  getHighestPrio). */
  highestPriority(core: Core): number {
    const l1 = core.load32(this.l1);
    if (l1 === 0) return -1;
    const w = 31 - Math.clz32(l1);
    const bits = core.load32(this.base + PRIORITIES * 16 + w * 4);
    return w * 32 + (31 - Math.clz32(bits));
  }

  /** The highest-priority ready thread, or null. */
  highest(core: Core): Thread | null {
    const p = this.highestPriority(core);
    if (p < 0) return null;
    return this.byTcb.get(core.load64(this.head(p))) ?? null;
  }
}
