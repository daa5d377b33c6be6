// Interrupts between and within cores: IPIs (WRMSR to the x2APIC ICR) with the profile's
// delivery latency, the deterministic (arrival, sequence) order, RFLAGS.IF masking,
// delivery through the guest IDT or as a VM exit (external-interrupt exiting, reason 1),
// the TSC-deadline timer, and HLT.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, KERNEL_CODE, KSTACK_TOP, USER_CODE } from './guest.ts';
import { isGP, isVmExit } from './util.ts';
import { CS_KERNEL, CS_USER, R, RFLAGS_IF, type Core } from '../../src/hw/core.ts';
import { ENC } from '../../src/hw/encodings.ts';
import { Trap } from '../../src/hw/traps.ts';
import { PAGE_4K } from '../../src/hw/addr.ts';

const IPI = 0x40;
const TIMER = 0x20;
const IPI_HANDLER = KERNEL_CODE + 0xb00;
const TIMER_HANDLER = KERNEL_CODE + 0xc00;

/** A two-core (or more) guest: core 0 at CPL 0 (it sends IPIs), the others launched at
 *  CPL 3; gates for the IPI and timer vectors. */
function machine(cores = 2): { g: Guest; c0: Core; others: Core[]; wr: number } {
  const g = new Guest({ cpl: 0, cores });
  const others: Core[] = [];
  for (let i = 1; i < cores; i++) others.push(g.launchCore(i, 3));
  g.writeGate(IPI, IPI_HANDLER);
  g.writeGate(TIMER, TIMER_HANDLER);
  return { g, c0: g.core, others, wr: g.kernelCode(ENC.wrmsr) };
}

/** Takes the first due interrupt on `c`; returns the Trap's event. */
function take(g: Guest, c: Core): Trap['event'] {
  try {
    g.m.takeInterrupt(c);
  } catch (e) {
    if (e instanceof Trap) return e.event;
    throw e;
  }
  throw new Error('takeInterrupt returned');
}

function words(g: Guest, la: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = g.resolve(la + i * 8);
    out.push(g.m.mem.readU32(a + 4) * 2 ** 32 + g.m.mem.readU32(a));
  }
  return out;
}

test('an IPI sent by core 0 (WRMSR to the x2APIC ICR) arrives at core 1 exactly ops.ipiLatency cycles after the send', () => {
  const { g, c0, others, wr } = machine();
  const c1 = others[0]!;
  const ops = g.m.profile.ops;
  g.m.sendIpi(c0, wr, 1, IPI);
  const sent = c0.cycles;
  assert.deepEqual(
    c1.pending.map((p) => [p.time, p.vector]),
    [[sent + ops.ipiLatency, IPI]],
  );
  assert.equal(g.m.snapshot().get('ipis.sent', { core: 0 }), 1);
  // Core 1 sees it exactly at the arrival cycle, not one cycle earlier.
  c1.rflags |= RFLAGS_IF;
  c1.charge(sent + ops.ipiLatency - 1 - c1.cycles);
  assert.equal(g.m.interruptDue(c1), false);
  c1.charge(1);
  assert.equal(g.m.interruptDue(c1), true);
  c1.rip = USER_CODE + 0x44;
  c1.regs.set(R.RSP, 0x7000);
  const flags = c1.rflags;
  const ev = take(g, c1);
  assert.deepEqual(ev, { kind: 'interrupt', vector: IPI, rip: USER_CODE + 0x44 });
  assert.equal(c1.rip, IPI_HANDLER);
  assert.equal(c1.cpl, 0);
  assert.equal(c1.rflags & RFLAGS_IF, 0);
  // On core 1's own TSS.RSP0; no error code for an interrupt.
  const rsp0 = KSTACK_TOP - PAGE_4K;
  assert.equal(c1.rsp0, rsp0);
  assert.deepEqual(words(g, rsp0 - 40, 5), [USER_CODE + 0x44, CS_USER, flags, 0x7000, 0x2b]);
  assert.equal(g.m.snapshot().get('interrupts', { core: 1 }), 1);
  assert.equal(c1.pending.length, 0);
  // A warm send costs the profile's ipiSend.
  const before = c0.cycles;
  g.m.sendIpi(c0, wr, 1, IPI);
  assert.equal(c0.cycles - before, ops.ipiSend);
  assert.equal(c1.pending[0]!.time, c0.cycles + ops.ipiLatency);
});

test('sending an IPI is WRMSR: #GP(0) at CPL 3, and nothing is sent', () => {
  const g = new Guest({ cpl: 3, cores: 2 });
  const c1 = g.launchCore(1, 3);
  assert.throws(() => g.m.sendIpi(g.core, g.userCode(ENC.wrmsr), 1, IPI), isGP);
  assert.equal(c1.pending.length, 0);
  assert.equal(g.m.snapshot().get('ipis.sent'), 0);
});

test('interrupts are delivered in (arrival cycle, send sequence) order', () => {
  const { g, c0 } = machine();
  g.m.post(c0, 100, 0x30);
  g.m.post(c0, 50, 0x31);
  g.m.post(c0, 100, 0x32);
  g.m.post(c0, 50, 0x33);
  assert.deepEqual(
    c0.pending.map((p) => p.vector),
    [0x31, 0x33, 0x30, 0x32],
  );
  for (const v of [0x30, 0x31, 0x32, 0x33]) g.writeGate(v, KERNEL_CODE + 0x900);
  c0.charge(Math.max(0, 100 - c0.cycles));
  const got: number[] = [];
  while (c0.pending.length > 0) {
    c0.rflags |= RFLAGS_IF;
    assert.equal(g.m.interruptDue(c0), true);
    const ev = take(g, c0);
    if (ev.kind === 'interrupt') got.push(ev.vector);
  }
  assert.deepEqual(got, [0x31, 0x33, 0x30, 0x32]);
});

test('two IPIs arriving in the same cycle are ordered by send sequence, whichever core sent them', () => {
  const { g, c0, others } = machine(3);
  const [c1, c2] = [others[0]!, others[1]!];
  // Core 2 sends from kernel mode too.
  c2.cpl = 0;
  c2.syncContext();
  const wr0 = g.kernelCode(ENC.wrmsr);
  // Warm both senders, then line their clocks up: both sends then cost exactly ipiSend.
  g.m.sendIpi(c0, wr0, 1, 0x31);
  g.m.sendIpi(c2, wr0, 1, 0x31);
  c1.pending.length = 0;
  const t = Math.max(c0.cycles, c2.cycles);
  c0.charge(t - c0.cycles);
  c2.charge(t - c2.cycles);
  g.m.sendIpi(c2, wr0, 1, 0x42);
  g.m.sendIpi(c0, wr0, 1, 0x41);
  const arrival = t + g.m.profile.ops.ipiSend + g.m.profile.ops.ipiLatency;
  assert.deepEqual(
    c1.pending.map((p) => [p.time, p.vector]),
    [
      [arrival, 0x42],
      [arrival, 0x41],
    ],
  );
  assert.ok(c1.pending[0]!.seq < c1.pending[1]!.seq);
});

test('an interrupt is not due while RFLAGS.IF = 0, nor before its arrival cycle', () => {
  const { g, c0 } = machine();
  g.m.post(c0, c0.cycles + 10, TIMER);
  c0.rflags |= RFLAGS_IF;
  assert.equal(g.m.interruptDue(c0), false, 'not arrived');
  c0.charge(10);
  assert.equal(g.m.interruptDue(c0), true);
  c0.rflags &= ~RFLAGS_IF;
  assert.equal(g.m.interruptDue(c0), false, 'masked');
  c0.rflags |= RFLAGS_IF;
  assert.equal(g.m.interruptDue(c0), true);
  assert.equal(g.m.interruptDue(g.m.core(1)), false, 'other core: nothing pending');
});

test('takeInterrupt delivers through the guest IDT when external-interrupt exiting is off', () => {
  const { g, c0 } = machine();
  const p = g.m.profile;
  let cost = 0;
  // Twice from the same state: the second delivery is warm.
  for (let i = 0; i < 2; i++) {
    c0.cpl = 0;
    c0.syncContext();
    c0.regs.set(R.RSP, KSTACK_TOP - 0x100);
    c0.rip = KERNEL_CODE + 0x20;
    c0.rflags = 0x202;
    g.m.post(c0, c0.cycles, TIMER);
    const cycles = c0.cycles;
    const ev = take(g, c0);
    cost = c0.cycles - cycles;
    assert.deepEqual(ev, { kind: 'interrupt', vector: TIMER, rip: KERNEL_CODE + 0x20 });
  }
  assert.equal(c0.nonRoot, true);
  assert.equal(c0.rip, TIMER_HANDLER);
  assert.equal(c0.rflags, 0x2);
  assert.equal(g.vmcs.exitReason, 0);
  assert.equal(g.m.snapshot().get('vmexits'), 0);
  // From CPL 0: on the current stack, aligned, no error code.
  assert.equal(c0.regs.get(R.RSP), KSTACK_TOP - 0x100 - 40);
  assert.deepEqual(words(g, KSTACK_TOP - 0x100 - 40, 4), [
    KERNEL_CODE + 0x20,
    CS_KERNEL,
    0x202,
    KSTACK_TOP - 0x100,
  ]);
  // Warm: interruptEntry; the gate read and five pushes hit the DTLB and L1D, which the
  // figure includes.
  assert.equal(cost, p.ops.interruptEntry);
});

test('with external-interrupt exiting on, an interrupt in non-root operation is a VM exit, reason 1', () => {
  const { g, c0 } = machine();
  g.vmcs.externalInterruptExiting = true;
  c0.rflags |= RFLAGS_IF;
  c0.rip = KERNEL_CODE + 0x20;
  const stack = words(g, KSTACK_TOP - 0x200, 32);
  g.m.post(c0, c0.cycles, TIMER);
  assert.throws(() => g.m.takeInterrupt(c0), isVmExit(1));
  assert.equal(c0.nonRoot, false);
  assert.equal(g.vmcs.exitReason, 1);
  assert.equal(g.vmcs.guestRip, KERNEL_CODE + 0x20);
  assert.deepEqual(words(g, KSTACK_TOP - 0x200, 32), stack, 'nothing pushed on the guest stack');
  assert.equal(g.m.snapshot().get('vmexit.other'), 1);
});

test('a timer armed with setTimer (TSC deadline) fires at its deadline', () => {
  const { g, c0 } = machine();
  c0.rflags |= RFLAGS_IF;
  const deadline = c0.cycles + 5000;
  g.m.setTimer(c0, deadline, TIMER);
  c0.charge(4999);
  assert.equal(g.m.interruptDue(c0), false);
  c0.charge(1);
  assert.equal(c0.cycles, deadline);
  assert.equal(g.m.interruptDue(c0), true);
  assert.equal(take(g, c0).kind, 'interrupt');
  assert.equal(c0.rip, TIMER_HANDLER);
});

test('HLT advances the core’s clock to the next arrival and leaves IF as it was (STI comes first); with nothing pending it is a shutdown', () => {
  const { g, c0, others } = machine();
  const c1 = others[0]!;
  const t = c0.cycles + 12_345;
  g.m.setTimer(c0, t, TIMER);
  g.m.setTimer(c0, t + 10, TIMER);
  c0.rflags &= ~RFLAGS_IF;
  g.m.halt(c0);
  assert.equal(c0.cycles, t);
  assert.equal(c0.rflags & RFLAGS_IF, 0);
  assert.equal(g.m.interruptDue(c0), false);
  c0.rflags |= RFLAGS_IF;
  assert.equal(g.m.interruptDue(c0), true);
  // An arrival already in the past: the clock does not move.
  take(g, c0);
  c0.charge(100);
  const now = c0.cycles;
  g.m.halt(c0);
  assert.equal(c0.cycles, now);
  // The clock jump is charged like any other cycles.
  assert.equal(g.m.snapshot().get('cycles', { core: 0 }), c0.cycles);
  assert.throws(
    () => g.m.halt(c1),
    (e: unknown) => e instanceof Trap && e.event.kind === 'shutdown',
  );
  // The scheduler picks the core with the earliest clock (ties: lowest id).
  assert.equal(g.m.nextCore(), c0.cycles <= c1.cycles ? c0 : c1);
  c1.charge(Math.max(0, c0.cycles - c1.cycles));
  c0.charge(Math.max(0, c1.cycles - c0.cycles));
  assert.equal(g.m.nextCore(), c0);
  assert.equal(
    g.m.nextCore((c) => c.id !== 0),
    c1,
  );
});
