// Boot: layout validation, the base EPT's shape, every core launched with EPT and VPID on,
// guest RAM 1:1 through a core, the Rootkernel's region unreachable.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PAGE_4K } from '../../src/hw/addr.ts';
import { Mode } from '../../src/hw/counters.ts';
import { Machine } from '../../src/hw/machine.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { Access } from '../../src/hw/translation-state.ts';
import { ExitReason } from '../../src/hw/vmcs.ts';
import { Hypercall, UpcallRegs } from '../../src/rootkernel/hypercalls.ts';
import { LayoutError, computeLayout } from '../../src/rootkernel/layout.ts';
import { Rootkernel } from '../../src/rootkernel/rootkernel.ts';
import { Fixture, GIB, MIB, PHYSMAP, UPCALL, readEntry } from './fixture.ts';

describe('Rootkernel layout', () => {
  it('keeps the top 96 MiB by default and rejects a boundary that is not 2 MiB aligned', () => {
    const l = computeLayout(2 * GIB);
    assert.equal(l.guestBytes, 2 * GIB - 96 * MIB);
    assert.equal(l.windowBase, l.guestBytes);
    assert.equal(l.windowEnd, l.guestBytes + 2 * MIB);
    assert.throws(() => computeLayout(2 * GIB, { reservedBytes: 97 * MIB }), LayoutError);
    assert.throws(() => computeLayout(2 * GIB, { reservedBytes: 8 * MIB }), /minimum/);
    assert.throws(() => computeLayout(64 * MIB), /no guest RAM/);
    const m = new Machine({ cores: 1, memoryBytes: 256 * MIB, profile: SKYLAKE });
    assert.throws(() => new Rootkernel(m, { reservedBytes: 3 * MIB }), LayoutError);
  });
});

describe('Rootkernel boot', () => {
  it('builds the base EPT: 1 GiB pages for whole GiBs, 2 MiB pages up to the boundary, nothing above', () => {
    const f = new Fixture();
    const m = f.m;
    const root = f.rk.baseEptp - (f.rk.baseEptp % PAGE_4K);
    const pml4e = readEntry(m, root);
    assert.equal(pml4e & 7, 7);
    const pdpt = pml4e - (pml4e % PAGE_4K);
    const gib0 = readEntry(m, pdpt);
    assert.equal(gib0 & 0x80, 0x80, 'GiB 0 is one 1 GiB page');
    assert.equal(gib0 - (gib0 % PAGE_4K), 0);
    assert.equal((gib0 >> 3) & 7, 6, 'write-back');
    const gib1 = readEntry(m, pdpt + 8);
    assert.equal(gib1 & 0x80, 0, 'GiB 1 holds the boundary: a PD');
    const pd = gib1 - (gib1 % PAGE_4K);
    const last = (f.rk.guestBytes - GIB) / (2 * MIB) - 1;
    const e = readEntry(m, pd + last * 8);
    assert.equal(e & 0x87, 0x87);
    assert.equal(e - (e % PAGE_4K), f.rk.guestBytes - 2 * MIB);
    assert.equal(readEntry(m, pd + (last + 1) * 8), 0, 'the Rootkernel region is not mapped');
    assert.equal(readEntry(m, pdpt + 16), 0);
  });

  it('launches every core in non-root mode at CPL 0 with EPT and VPID on and EPTP switching', () => {
    const f = new Fixture();
    f.launchAll();
    const lists = new Set<number>();
    for (const c of f.m.cores) {
      assert.ok(c.nonRoot);
      assert.equal(c.cpl, 0);
      assert.ok(c.ts.eptOn);
      assert.equal(c.ts.vpid, 1);
      const v = c.vmcs!;
      assert.equal(v.eptp, f.rk.baseEptp);
      assert.ok(v.enableVmFunctions);
      assert.equal(v.vmFunctionControls, 1);
      assert.equal(v.cr3LoadExiting, false);
      assert.equal(v.externalInterruptExiting, false);
      assert.equal(v.exceptionBitmap, 0);
      assert.equal(f.m.mem.read32(v.eptpListAddress), f.rk.baseEptp % 2 ** 32);
      assert.ok(v.eptpListAddress >= f.rk.guestBytes, 'the list is in the Rootkernel region');
      lists.add(v.eptpListAddress);
    }
    assert.equal(lists.size, f.m.cores.length, 'one EPTP list per core');
    // VMLAUNCH was the Rootkernel's work, in root mode.
    const s = f.m.snapshot();
    const owner = f.m.owners.id('rootkernel');
    assert.equal(s.get('instructions', { owner, mode: Mode.VmxRoot }), f.m.cores.length);
    assert.equal(s.get('instructions', { owner, mode: Mode.Kernel }), 0);
  });

  it('maps guest RAM 1:1 through the core: guest-physical = host-physical', () => {
    const f = new Fixture();
    f.launchAll();
    for (const c of f.m.cores) {
      for (const gpa of [0x1234, GIB - 8, GIB, GIB + 0x20_1230, f.rk.guestBytes - 8]) {
        assert.equal(c.mmu.translate(PHYSMAP + gpa, Access.Read), gpa);
      }
      c.store32(PHYSMAP + GIB + 0x40, 0xabcd);
      assert.equal(f.m.mem.read32(GIB + 0x40), 0xabcd);
    }
  });

  it('leaves the Rootkernel region unmapped: a kernel access there is an EPT violation, reported', () => {
    const f = new Fixture();
    f.launchAll();
    const c = f.m.core(0);
    assert.equal(f.hc(c, Hypercall.SetUpcall, UPCALL), 0);
    for (const off of [0, 0x10_0000, 95 * MIB]) {
      const gpa = f.rk.guestBytes + off;
      const out = f.exit(c, () => c.load32(PHYSMAP + gpa));
      assert.equal(out.kind, 'violation');
      if (out.kind !== 'violation') return;
      assert.equal(out.reason, ExitReason.EptViolation);
      assert.equal(out.guestPhysical, gpa);
      assert.equal(out.guestLinear, PHYSMAP + gpa);
      assert.equal(out.cpl, 0);
      assert.equal(c.rip, UPCALL);
      assert.equal(c.regs.get(UpcallRegs.guestPhysical), gpa);
    }
    const s = f.m.snapshot();
    assert.equal(s.get('vmexit.ept-violation'), 3);
  });
});
