// Counters: snapshots and their differences, attribution to (core, owner, mode), and the
// rows a report prints.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, KERNEL_DATA, USER_DATA } from './guest.ts';
import { exitToRoot } from './util.ts';
import {
  C,
  COUNTERS,
  COUNTER_COUNT,
  CounterSnapshot,
  CoreCounters,
  Mode,
  OwnerRegistry,
  counterIndex,
} from '../../src/hw/counters.ts';
import { R } from '../../src/hw/core.ts';
import { ENC } from '../../src/hw/encodings.ts';
import { syscall } from '../../src/hw/isa.ts';

test('the C indices agree with COUNTERS, and counterIndex rejects unknown names', () => {
  assert.equal(COUNTER_COUNT, COUNTERS.length);
  const names: Record<string, string> = {
    cycles: 'cycles',
    loads: 'loads',
    dtlbHit: 'dtlb.hit',
    walkRefs: 'walk.refs',
    l1dMiss: 'l1d.miss',
    vmexitVmfunc: 'vmexit.vmfunc',
    coherenceInvalidations: 'coherence.invalidations',
  };
  for (const [k, name] of Object.entries(names)) {
    assert.equal(C[k as keyof typeof C], counterIndex(name), name);
  }
  assert.equal(Object.keys(C).length, COUNTER_COUNT);
  assert.deepEqual(
    Object.values(C),
    COUNTERS.map((_, i) => i),
  );
  assert.throws(() => counterIndex('no.such.counter'), /unknown counter 'no.such.counter'/);
});

test('snapshot minus snapshot gives the interval, per counter and slot', () => {
  const g = new Guest({ cpl: 3 });
  const c = g.core;
  c.store32(USER_DATA, 1); // the walk sets the PTE's D bit: later stores hit the DTLB too
  const a = g.m.snapshot();
  c.load32(USER_DATA + 8);
  c.store32(USER_DATA + 16, 5);
  c.charge(100);
  const d = g.m.snapshot().minus(a);
  assert.equal(d.get('loads'), 1);
  assert.equal(d.get('stores'), 1);
  assert.equal(d.get('dtlb.hit'), 2);
  assert.equal(d.get('walk.count'), 0);
  assert.equal(d.get('l1d.hit'), 2);
  const p = g.m.profile;
  // A load and a store at the table's costs; their DTLB and L1D hits are overlapped.
  assert.equal(d.get('cycles'), 100 + p.insn.load + p.insn.store);
  // The snapshot is a copy: later work does not change it.
  c.load32(USER_DATA);
  assert.equal(a.get('loads'), 0);
  // An earlier snapshot with fewer slots: the new slots count in full.
  const before = g.m.snapshot();
  c.setOwner(g.m.owners.id('late'));
  c.load32(USER_DATA);
  assert.equal(
    g.m
      .snapshot()
      .minus(before)
      .get('loads', { owner: g.m.owners.id('late') }),
    1,
  );
});

test('per-owner and per-mode attribution (Core.setOwner, CPL, VMX root)', () => {
  const g = new Guest({ cpl: 3 });
  const c = g.core;
  const start = g.m.snapshot();
  const a = g.m.owners.id('proc-a');
  const b = g.m.owners.id('proc-b');
  assert.equal(g.m.owners.id('proc-a'), a, 'ids are stable');
  assert.equal(g.m.owners.name(b), 'proc-b');
  c.setOwner(a);
  c.load32(USER_DATA); // user mode, owner a
  c.load32(USER_DATA + 4);
  c.lstar = 0x8000_0000_0100;
  syscall(c, g.userCode(ENC.syscall)); // now kernel mode
  c.load32(KERNEL_DATA);
  c.setOwner(b);
  c.load32(KERNEL_DATA + 8);
  c.store32(KERNEL_DATA + 16, 1);
  exitToRoot(g); // VMX root, still owner b
  c.load32(0x280_0000);
  const d = g.m.snapshot().minus(start);
  assert.equal(d.get('loads', { owner: a, mode: Mode.User }), 2);
  assert.equal(d.get('loads', { owner: a, mode: Mode.Kernel }), 1);
  assert.equal(d.get('loads', { owner: b, mode: Mode.Kernel }), 1);
  assert.equal(d.get('stores', { owner: b, mode: Mode.Kernel }), 1);
  assert.equal(d.get('loads', { owner: b, mode: Mode.VmxRoot }), 1);
  assert.equal(d.get('loads', { owner: b }), 2);
  assert.equal(d.get('loads', { mode: Mode.Kernel }), 2);
  assert.equal(d.get('loads'), 5);
  // SYSCALL is counted (and its cycles charged) in the mode it starts in: user.
  assert.equal(d.get('syscalls', { owner: a, mode: Mode.User }), 1);
  assert.equal(d.get('syscalls', { owner: a, mode: Mode.Kernel }), 0);
  assert.equal(d.get('vmexit.vmcall', { owner: b, mode: Mode.Kernel }), 1);
  assert.equal(d.get('loads', { core: 0 }), 5);
  assert.equal(d.get('loads', { core: 1 }), 0);
  // Every cycle is in exactly one slot, and the slots add up to the core's clock.
  assert.equal(g.m.snapshot().get('cycles'), c.cycles);
});

test('CounterSnapshot.get sums over cores; rows() lists only non-zero counters, with units', () => {
  const owners = new OwnerRegistry();
  const cores = [new CoreCounters(), new CoreCounters()];
  cores[0]!.slot(0, Mode.Kernel)[C.loads] = 3;
  cores[1]!.slot(0, Mode.Kernel)[C.loads] = 4;
  cores[1]!.slot(owners.id('x'), Mode.User)[C.walkRefs] = 24;
  cores[1]!.slot(owners.id('x'), Mode.User)[C.cycles] = 10;
  const s = CounterSnapshot.take(cores, owners);
  assert.equal(s.get('loads'), 7);
  assert.equal(s.get('loads', { core: 1 }), 4);
  assert.deepEqual(s.rows(), [
    { counter: 'cycles', unit: 'cycles', value: 10 },
    { counter: 'loads', unit: 'accesses', value: 7 },
    { counter: 'walk.refs', unit: 'references', value: 24 },
  ]);
  assert.deepEqual(s.rows({ mode: Mode.Kernel, core: 0 }), [
    { counter: 'loads', unit: 'accesses', value: 3 },
  ]);
  assert.deepEqual(s.rows({ owner: 5 }), []);
  assert.deepEqual(s.owners, ['machine', 'x']);
  const zero = s.minus(s);
  assert.deepEqual(zero.rows(), []);
});

test('counts belong to the core that did the work (2-core machine, core 1 launched into the guest)', () => {
  const g = new Guest({ cpl: 3, cores: 2 });
  const c1 = g.launchCore(1);
  c1.regs.set(R.RAX, 1);
  const start = g.m.snapshot();
  c1.load32(USER_DATA);
  const d = g.m.snapshot().minus(start);
  assert.equal(d.get('loads', { core: 1 }), 1);
  assert.equal(d.get('loads', { core: 0 }), 0);
  assert.equal(d.get('cycles', { core: 0 }), 0);
  assert.equal(d.get('cycles', { core: 1 }), c1.cycles - start.get('cycles', { core: 1 }));
});
