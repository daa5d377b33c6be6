// What a Zircon context switch executes besides the scheduler's bookkeeping (schedBlock):
// the preemption timer's reset and arch_context_switch's extended-state and GS-base switch;
// and the thread_lock spin lock that Event::Signal and Event::Wait take. Sources: Zircon
// (PanQL/zircon, 2019) kernel/kernel/timer.cc timer_preempt_reset and update_platform_timer,
// platform/pc/timer.cc platform_set_oneshot_timer, arch/x86/lapic.cc
// apic_timer_set_tsc_deadline, arch/x86/thread.cc arch_context_switch, arch/x86/registers.cc
// x86_extended_register_context_switch, kernel/event.cc, arch/x86/spinlock.cc.

import type { Core } from '../../hw/core.ts';
import { MSR, swapgs, wrmsr } from '../../hw/isa.ts';
import { physmap } from '../layout.ts';
import type { Subkernel } from '../subkernel.ts';
import { locked, priced } from '../priced.ts';
import type { ZirconPaths } from './paths.ts';

/** Per-CPU scheduler data (our layout): the preemption deadline, the deadline the timer is
 *  programmed for (timer.cc next_timer_deadline), in TSC cycles. */
const PERCPU = { preemptDeadline: 0, nextTimerDeadline: 8, bytes: 64 } as const;

/** The fair scheduler's default target latency (fair_scheduler.h kDefaultTargetLatency,
 *  16 ms): the time slice of a thread that has the CPU to itself. */
const TIME_SLICE_MS = 16;

/** Kernel data these paths use: the global thread_lock word and per-CPU records. */
export class SwitchData {
  readonly threadLock: number;
  private readonly percpu: number;

  /** Boot work (uncharged): no timer programmed yet on any CPU. */
  constructor(k: Subkernel) {
    const page = k.frames.frame();
    this.threadLock = physmap(page);
    this.percpu = physmap(page) + 64;
    for (let i = 0; i < k.machine.cores.length; i++) {
      k.machine.mem.write64n(
        page + 64 + i * PERCPU.bytes + PERCPU.nextTimerDeadline,
        Number.MAX_SAFE_INTEGER,
      );
    }
  }

  cpu(core: Core): number {
    return this.percpu + core.id * PERCPU.bytes;
  }
}

/** Guard<spin_lock_t, IrqSave> on thread_lock: arch_spin_lock's LOCK CMPXCHG, and the
 *  release (a plain store in arch_spin_unlock). */
export function withThreadLock(d: SwitchData, core: Core, body: () => void): void {
  core.store64(d.threadLock, 1);
  locked(core);
  body();
  core.store64(d.threadLock, 0);
}

/** The scheduler's switch to another thread, after it chose `next`: the preemption timer
 *  reset for next's time slice, then arch_context_switch's XSAVES of the old thread's
 *  extended state, XRSTORS of the new one's, and the two SWAPGS around the user GS base. */
export function contextSwitch(P: ZirconPaths, d: SwitchData, core: Core): void {
  const cpu = d.cpu(core);
  core.run(P.preemptTimer);
  const deadline = core.cycles + TIME_SLICE_MS * core.profile.frequencyGHz * 1e6;
  core.store64(cpu + PERCPU.preemptDeadline, deadline);
  // The TSC deadline MSR is written only when the new deadline is the earliest.
  if (deadline < core.load64(cpu + PERCPU.nextTimerDeadline)) {
    wrmsr(core, P.tscDeadline, MSR.IA32_TSC_DEADLINE, 0);
    core.store64(cpu + PERCPU.nextTimerDeadline, deadline);
  }
  const ops = core.profile.ops;
  priced(core, P.xsaves, ops.xsave);
  priced(core, P.xrstors, ops.xrstor);
  swapgs(core, P.switchSwapgs);
  swapgs(core, P.switchSwapgsBack);
}
