// The CR3 trick through a bound view, and what happens when a process misbehaves: a VMFUNC
// to a bad list entry or an access to memory no EPT maps re-enters the Subkernel at its
// upcall entry, is reported, and affects nothing else.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PAGE_4K } from '../../src/hw/addr.ts';
import { type Core, R, RFLAGS_IF } from '../../src/hw/core.ts';
import { movToCr3 } from '../../src/hw/isa.ts';
import {
  Access,
  EQ_GLA_FINAL,
  EQ_GLA_VALID,
  EQ_READ,
  EQ_WRITE,
} from '../../src/hw/translation-state.ts';
import { ExitReason } from '../../src/hw/vmcs.ts';
import { vmfunc } from '../../src/hw/vmx.ts';
import { Hypercall as H, UpcallRegs as U } from '../../src/rootkernel/hypercalls.ts';
import {
  RootkernelError,
  type ExitOutcome,
  type Violation,
} from '../../src/rootkernel/rootkernel.ts';
import {
  CLIENT_VALUE,
  Fixture,
  PHYSMAP,
  SERVER_VALUE,
  UPCALL,
  USER_DATA,
  USER_EVIL,
  eptLookup,
  trapOf,
} from './fixture.ts';

/** Boots, registers the upcall, maps core 0's EPTP list and binds the client to the server
 *  with the bound view at list index 1 — what the Subkernel does at registration. */
function bound(): { f: Fixture; c: Core; view: number; list: number } {
  const f = new Fixture();
  f.launchAll();
  const c = f.m.core(0);
  assert.equal(f.hc(c, H.SetUpcall, UPCALL), 0);
  assert.equal(f.hc(c, H.MapEptpList, f.rk.guestBytes), 0);
  const view = f.hc(c, H.BindClientServer, f.clientRoot, f.serverRoot);
  assert.ok(view > 0);
  const list = PHYSMAP + f.rk.guestBytes;
  c.store64(list + 8, f.hc(c, H.EptpValue, view));
  return { f, c, view, list };
}

function userVmfunc(f: Fixture, c: Core, index: number): void {
  c.regs.set(R.RAX, 0);
  c.regs.set(R.RCX, index);
  vmfunc(c, f.site.uvmfunc);
}

function violation(out: ExitOutcome): Violation {
  assert.equal(out.kind, 'violation');
  return out as Violation;
}

/** The core is back in the guest at the upcall entry, CPL 0, on `stack`, base EPT, IF off. */
function assertUpcall(f: Fixture, c: Core, v: Violation, stack: number): void {
  assert.ok(c.nonRoot);
  assert.equal(c.cpl, 0);
  assert.equal(c.rip, UPCALL);
  assert.equal(c.regs.get(R.RSP), stack);
  assert.equal(c.vmcs!.eptp, f.rk.baseEptp);
  assert.equal(c.rflags & RFLAGS_IF, 0);
  assert.equal(c.cr3, f.clientRoot, 'CR3 unchanged: the Subkernel knows whose fault it is');
  assert.equal(c.regs.get(U.reason), v.reason);
  assert.equal(c.regs.get(U.guestPhysical), v.guestPhysical);
  assert.equal(c.regs.get(U.guestLinear), v.guestLinear);
  assert.equal(c.regs.get(U.rip), v.rip);
  assert.equal(c.regs.get(U.cpl), v.cpl);
  assert.equal(c.regs.get(U.qualification), v.qualification);
}

describe('BindClientServer: the CR3 trick', () => {
  it('VMFUNC to the bound view makes the client CR3 walk the server page table, and back', () => {
    const { f, c, view } = bound();
    const before = f.m.snapshot();
    f.toUser(c);
    const cr3 = c.cr3;
    assert.equal(cr3, f.clientRoot);
    assert.equal(c.load32(USER_DATA), CLIENT_VALUE);
    userVmfunc(f, c, 1);
    assert.equal(c.vmcs!.eptp, f.rk.eptpOf(view));
    assert.equal(c.cr3, cr3, 'CR3 unchanged');
    assert.equal(c.cpl, 3);
    assert.equal(c.load32(USER_DATA), SERVER_VALUE, 'the server address space');
    assert.equal(c.mmu.translate(USER_DATA, Access.Read), f.serverData);
    c.store32(USER_DATA + 4, 0x5e5e);
    assert.equal(f.m.mem.read32(f.serverData + 4), 0x5e5e);
    userVmfunc(f, c, 0);
    assert.equal(c.vmcs!.eptp, f.rk.baseEptp);
    assert.equal(c.load32(USER_DATA), CLIENT_VALUE, 'the client again');
    assert.equal(c.mmu.translate(USER_DATA, Access.Read), f.clientData);
    const d = f.m.snapshot().minus(before);
    assert.equal(d.get('vmexits'), 0, 'no VM exit on the call path');
    assert.equal(d.get('vmfuncs'), 2);
    assert.equal(d.get('cr3.writes'), 0);
  });

  it('only the client root page is remapped in the bound view', () => {
    const { f, c, view } = bound();
    const eptp = f.rk.eptpOf(view)!;
    const root = eptp - (eptp % PAGE_4K);
    assert.equal(eptLookup(f.m, root, f.clientRoot), f.serverRoot);
    for (const gpa of [
      f.serverRoot,
      f.clientRoot + PAGE_4K,
      f.clientRoot - PAGE_4K,
      f.clientData,
    ]) {
      assert.equal(eptLookup(f.m, root, gpa), gpa);
    }
    assert.equal(
      eptLookup(f.m, f.rk.baseEptp - (f.rk.baseEptp % PAGE_4K), f.clientRoot),
      f.clientRoot,
    );
    // The kernel half is the same in both tables: the Subkernel still works in the view.
    c.regs.set(R.RAX, 0);
    c.regs.set(R.RCX, 1);
    vmfunc(c, f.site.kvmfunc);
    assert.equal(c.load32(PHYSMAP + f.clientData), CLIENT_VALUE);
    assert.equal(c.load32(USER_DATA), SERVER_VALUE);
  });
});

describe('Violations', () => {
  it('a VMFUNC to an empty or out-of-range list entry from user mode is reported and upcalled', () => {
    const { f, c } = bound();
    for (const index of [5, 600]) {
      f.toUser(c);
      const out = violation(f.exit(c, () => userVmfunc(f, c, index)));
      assert.equal(out.reason, ExitReason.Vmfunc);
      assert.equal(out.rip, f.site.uvmfunc);
      assert.equal(out.cpl, 3);
      assert.equal(out.guestPhysical, 0);
      assert.equal(out.eptp, f.rk.baseEptp);
      assertUpcall(f, c, out, f.kstack(0));
    }
    assert.equal(f.m.snapshot().get('vmexit.vmfunc'), 2);
  });

  it('a user access to the Rootkernel region is an EPT violation with GPA, GLA, RIP and kind', () => {
    const { f, c } = bound();
    const gpa = f.rk.guestBytes + 0x10_0000;
    f.toUser(c);
    const rip = c.rip;
    const rd = violation(f.exit(c, () => c.load32(USER_EVIL + 0x40)));
    assert.equal(rd.reason, ExitReason.EptViolation);
    assert.equal(rd.guestPhysical, gpa + 0x40);
    assert.equal(rd.guestLinear, USER_EVIL + 0x40);
    assert.equal(rd.rip, rip);
    assert.equal(rd.cpl, 3);
    const q = EQ_GLA_VALID | EQ_GLA_FINAL;
    assert.equal(rd.qualification & (q | EQ_READ | EQ_WRITE), q | EQ_READ);
    assertUpcall(f, c, rd, f.kstack(0));
    f.toUser(c);
    const wr = violation(f.exit(c, () => c.store32(USER_EVIL + 8, 1)));
    assert.equal(wr.qualification & (EQ_READ | EQ_WRITE), EQ_WRITE);
    assert.equal(f.m.mem.read32(gpa + 8), 0, 'the store never happened');
  });

  it('a violation in a bound view reports that view; the upcall runs on the base EPT', () => {
    const { f, c, view } = bound();
    f.toUser(c);
    userVmfunc(f, c, 1);
    const out = violation(f.exit(c, () => userVmfunc(f, c, 7)));
    assert.equal(out.eptp, f.rk.eptpOf(view));
    assertUpcall(f, c, out, f.kstack(0));
  });

  it('the offending process can be stopped; the other core and the other process run on', () => {
    const { f, c } = bound();
    const c1 = f.m.core(1);
    const other = { rip: c1.rip, cr3: c1.cr3, eptp: c1.vmcs!.eptp, cycles: c1.cycles };
    f.toUser(c);
    violation(f.exit(c, () => c.load32(USER_EVIL)));
    const before = f.m.snapshot();
    // The Subkernel, at the upcall: switch to another process and return to it.
    movToCr3(c, f.site.movCr3, BigInt(f.serverRoot));
    f.toUser(c);
    assert.equal(c.load32(USER_DATA), SERVER_VALUE);
    assert.equal(f.m.snapshot().minus(before).get('vmexits'), 0);
    assert.deepEqual(
      { rip: c1.rip, cr3: c1.cr3, eptp: c1.vmcs!.eptp, cycles: c1.cycles },
      other,
      'core 1 untouched',
    );
    assert.ok(c1.nonRoot);
    assert.equal(c1.load32(PHYSMAP + f.clientData), CLIENT_VALUE);
    assert.equal(f.m.snapshot().get('vmexits', { core: 1 }), 0);
  });

  it('is never silent: without an upcall entry, or for an unexpected exit, handleExit throws', () => {
    const f = new Fixture();
    f.launchAll();
    const c = f.m.core(0);
    f.toUser(c);
    const t = trapOf(() => c.load32(USER_EVIL));
    assert.throws(() => f.rk.handleExit(c, t!), /no upcall entry registered/);
    const g = new Fixture();
    g.launchAll();
    const c0 = g.m.core(0);
    const tf = trapOf(() => c0.tripleFault('test'));
    assert.throws(() => g.rk.handleExit(c0, tf!), RootkernelError);
    const h = new Fixture();
    h.launchAll();
    const pf = trapOf(() => h.m.core(0).load32(0x1000_0000));
    assert.throws(() => h.rk.handleExit(h.m.core(0), pf!), /not a VM exit/);
  });
});
