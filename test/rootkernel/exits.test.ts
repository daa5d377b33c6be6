// What exits and what does not: CR3 writes, interrupts, exceptions and system calls go to
// the Subkernel without a VM exit; CPUID and VMCALL exit, counted by reason, handled in
// root mode by the Rootkernel and resumed after the instruction.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { R } from '../../src/hw/core.ts';
import { Mode } from '../../src/hw/counters.ts';
import { cpuid, movToCr3, syscall } from '../../src/hw/isa.ts';
import { Vector } from '../../src/hw/traps.ts';
import { HYPERVISOR_LEAF, vendorString } from '../../src/rootkernel/cpuid.ts';
import { Hypercall } from '../../src/rootkernel/hypercalls.ts';
import { Fixture, GATE_HANDLER, trapOf } from './fixture.ts';

describe('Rootkernel exits', () => {
  it('CR3 writes, interrupts, #PF and SYSCALL cause no VM exit', () => {
    const f = new Fixture();
    f.launchAll();
    const [c0, c1] = f.m.cores as [(typeof f.m.cores)[0], (typeof f.m.cores)[0]];
    const before = f.m.snapshot();
    // MOV to CR3 in the guest kernel.
    c0.regs.set(R.RAX, f.serverRoot);
    movToCr3(c0, f.site.movCr3, BigInt(f.serverRoot));
    assert.equal(c0.cr3, f.serverRoot);
    movToCr3(c0, f.site.movCr3, BigInt(f.clientRoot));
    // An IPI from core 0 to core 1, taken through the guest IDT.
    f.m.sendIpi(c0, f.site.wrmsr, 1, 0xf0);
    c1.charge(f.m.profile.ops.ipiLatency);
    const ipi = trapOf(() => f.m.takeInterrupt(c1));
    assert.equal(ipi?.event.kind, 'interrupt');
    assert.equal(c1.rip, GATE_HANDLER);
    assert.ok(c1.nonRoot);
    // A timer interrupt on core 0.
    f.m.setTimer(c0, c0.cycles + 10, 0xef);
    c0.charge(10);
    assert.equal(trapOf(() => f.m.takeInterrupt(c0))?.event.kind, 'interrupt');
    // A system call from user mode, then a user #PF.
    f.toUser(c0);
    assert.equal(c0.cpl, 3);
    syscall(c0, f.site.usyscall);
    assert.equal(c0.cpl, 0);
    assert.equal(c0.rip, GATE_HANDLER);
    f.toUser(c0);
    const pf = trapOf(() => c0.load32(0x1000_0000));
    assert.ok(pf?.event.kind === 'exception' && pf.event.vector === Vector.PF);
    assert.equal(c0.cpl, 0, 'the #PF went to the guest kernel');
    const d = f.m.snapshot().minus(before);
    assert.equal(d.get('vmexits'), 0);
    assert.equal(d.get('cr3.writes'), 2);
    assert.equal(d.get('interrupts'), 2);
    assert.equal(d.get('syscalls'), 1);
    assert.equal(d.get('exceptions'), 1);
    assert.equal(d.get('instructions', { mode: Mode.VmxRoot }), 0, 'the Rootkernel never ran');
  });

  it('CPUID exits and is emulated: vendor, hypervisor bit, hypervisor leaf; RIP advanced', () => {
    const f = new Fixture();
    f.launchAll();
    const c = f.m.core(0);
    const ask = (leaf: number): number[] => {
      c.regs.set(R.RAX, leaf);
      const out = f.exit(c, () => cpuid(c, f.site.cpuid));
      assert.equal(out.kind, 'resumed');
      assert.equal(c.rip, f.site.cpuid + 2);
      assert.ok(c.nonRoot);
      return [R.RAX, R.RBX, R.RCX, R.RDX].map((r) => c.regs.get(r));
    };
    const [max, b, cx, d] = ask(0);
    assert.equal(max, 1);
    assert.equal(vendorString(b!, d!, cx!), 'GenuineIntel');
    const [, , ecx1] = ask(1);
    assert.equal(Math.floor(ecx1! / 2 ** 31) % 2, 1, 'hypervisor present');
    assert.equal((ecx1! >>> 5) & 1, 0, 'no VMX for the guest');
    const [hmax, hb, hc, hd] = ask(HYPERVISOR_LEAF);
    assert.equal(hmax, HYPERVISOR_LEAF);
    assert.equal(vendorString(hb!, hc!, hd!), 'SkyBridgeVM');
    // From user mode too (CPUID is unprivileged and exits at any CPL).
    f.toUser(c);
    c.regs.set(R.RAX, 0);
    assert.equal(f.exit(c, () => cpuid(c, f.site.ucpuid)).kind, 'resumed');
    assert.equal(c.cpl, 3);
    assert.equal(c.rip, f.site.ucpuid + 2);
    const s = f.m.snapshot();
    assert.equal(s.get('vmexits'), 4);
    assert.equal(s.get('vmexit.cpuid'), 4);
    assert.equal(s.get('vmexit.vmcall'), 0);
  });

  it('VMCALL exits, is counted, runs in root mode as the rootkernel owner, returns in RAX', () => {
    const f = new Fixture();
    f.launchAll();
    const c = f.m.core(1);
    const owner = f.m.owners.id('rootkernel');
    const guest = c.owner;
    const before = f.m.snapshot();
    c.regs.set(R.RDI, 0x5eed);
    const eptp = f.hc(c, Hypercall.EptpValue, 0);
    assert.equal(eptp, f.rk.baseEptp);
    assert.equal(c.rip, f.site.vmcall + 3, 'RIP past the VMCALL');
    assert.equal(c.regs.get(R.RDI), 0x5eed, 'other registers preserved');
    assert.equal(c.owner, guest, 'the guest owner is back after VMRESUME');
    assert.ok(c.nonRoot && c.cpl === 0);
    const d = f.m.snapshot().minus(before);
    assert.equal(d.get('vmexits'), 1);
    assert.equal(d.get('vmexit.vmcall'), 1);
    assert.equal(d.get('vmexits', { core: 0 }), 0);
    // The handler's work: instructions, the GPR save/restore and the view-table read, all
    // in root mode under the Rootkernel's name.
    assert.ok(d.get('instructions', { owner, mode: Mode.VmxRoot }) > 20);
    assert.equal(d.get('loads', { owner, mode: Mode.VmxRoot }), 15 + 1);
    assert.equal(d.get('stores', { owner, mode: Mode.VmxRoot }), 15);
    assert.equal(d.get('instructions', { owner: guest, mode: Mode.VmxRoot }), 0);
  });
});
