import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, USER_DATA } from './guest.ts';
import { ENC } from '../../src/hw/encodings.ts';
import { R } from '../../src/hw/core.ts';
import { vmfunc, vmcall } from '../../src/hw/vmx.ts';
import { Trap } from '../../src/hw/traps.ts';
import { C } from '../../src/hw/counters.ts';
import { mapEptPage } from '../../src/hw/page-table-writer.ts';
import { PageSize, PAGE_4K } from '../../src/hw/addr.ts';

const isUD = (e: unknown): boolean =>
  e instanceof Trap && e.event.kind === 'exception' && e.event.vector === 6;
const isVmfuncExit = (e: unknown): boolean =>
  e instanceof Trap && e.event.kind === 'vmexit' && e.event.reason === 59;

function setup(o: ConstructorParameters<typeof Guest>[0] = {}): { g: Guest; at: number } {
  const g = new Guest(o);
  const at = g.userCode(ENC.vmfunc);
  return { g, at };
}

test('VMFUNC: #UD outside VMX non-root operation', () => {
  const g = new Guest();
  assert.throws(() => vmcall(g.core, g.userCode(ENC.vmcall)));
  assert.equal(g.core.nonRoot, false);
  // Root mode runs on the host's identity map: the Rootkernel's own code.
  const at = g.hostCode(ENC.vmfunc);
  assert.throws(() => vmfunc(g.core, at), isUD);
});

test('VMFUNC: #UD when "enable VM functions" is 0', () => {
  const { g, at } = setup({ vmFunctions: false });
  assert.throws(() => vmfunc(g.core, at), isUD);
});

test('VMFUNC: #UD when EAX ≥ 64', () => {
  const { g, at } = setup();
  g.core.regs.set(R.RAX, 64);
  assert.throws(() => vmfunc(g.core, at), isUD);
});

test('VMFUNC: VM exit (reason 59) when function EAX is not enabled in the VM-function controls', () => {
  const { g, at } = setup();
  g.core.regs.set(R.RAX, 1);
  assert.throws(() => vmfunc(g.core, at), isVmfuncExit);
  assert.equal(g.core.nonRoot, false);
  // Counted against the guest context that caused it.
  assert.equal(g.m.snapshot().get('vmexit.vmfunc', { mode: 0 }), 1);
});

test('VMFUNC: VM exit when ECX ≥ 512', () => {
  const { g, at } = setup();
  g.core.regs.set(R.RAX, 0);
  g.core.regs.set(R.RCX, 512);
  assert.throws(() => vmfunc(g.core, at), isVmfuncExit);
});

test('VMFUNC: VM exit when the EPTP-list entry is not a valid EPTP (zero, bad memory type, bad walk length, reserved bits)', () => {
  for (const bad of [
    0,
    0x5000 + 1 + (3 << 3),
    0x5000 + 6 + (2 << 3),
    0x5000 + 6 + (3 << 3) + 0x100,
  ]) {
    const { g, at } = setup();
    g.m.mem.write64n(g.eptpList + 8, bad);
    g.core.regs.set(R.RCX, 1);
    assert.throws(() => vmfunc(g.core, at), isVmfuncExit, `entry ${bad.toString(16)}`);
    assert.equal(g.vmcs.eptp % 4096, 6 + (3 << 3));
  }
});

test('VMFUNC(0, i): EPTP ← list[i], at CPL 3, with no TLB flush and no VM exit', () => {
  const { g, at } = setup({ cpl: 3 });
  const second = g.addEpt(1);
  g.core.load32(USER_DATA);
  g.core.fetch(at, 3);
  const occupancy = g.core.ts.tc.dtlb4k.occupancy() + g.core.ts.tc.stlb.occupancy();
  g.core.regs.set(R.RAX, 0);
  g.core.regs.set(R.RCX, 1);
  vmfunc(g.core, at);
  assert.equal(g.vmcs.eptp - (g.vmcs.eptp % 4096), second);
  assert.equal(g.core.ts.eptRoot, second);
  assert.equal(g.core.ctr[C.vmexits], 0);
  assert.equal(g.core.ctr[C.vmfuncs], 1);
  assert.equal(g.core.ts.tc.dtlb4k.occupancy() + g.core.ts.tc.stlb.occupancy(), occupancy);
  assert.equal(g.core.rip, at + 3);
});

test('after VMFUNC, translations cached under the old EPTP are not used (the EP4TA tag differs)', () => {
  const { g, at } = setup({ cpl: 3 });
  const gpa = g.resolve(USER_DATA);
  const other = 0x180_0000;
  // EPT 1 maps the data page's GPA to another host frame.
  g.addEpt(1, (root) => {
    mapEptPage(g.m.mem, g.host, root, 0, 0, PageSize.Size2M);
    for (let a = 0x20_0000; a < 0x400_0000; a += 0x20_0000)
      mapEptPage(g.m.mem, g.host, root, a, a, PageSize.Size2M);
    // Split nothing else: remap the one 4 KiB page inside a fresh 2 MiB region.
  });
  // Simpler: write distinct values at the two host frames and build EPT 1 by 4 KiB pages.
  const root1 = g.addEpt(1, (root) => {
    for (let a = 0; a < 0x400_0000; a += PAGE_4K) {
      const target = a === gpa - (gpa % PAGE_4K) ? other : a;
      mapEptPage(g.m.mem, g.host, root, a, target, PageSize.Size4K);
    }
  });
  g.m.mem.write32(gpa, 0x1111);
  g.m.mem.write32(other + (gpa % PAGE_4K), 0x2222);
  assert.equal(g.core.load32(USER_DATA), 0x1111);
  g.core.regs.set(R.RCX, 1);
  vmfunc(g.core, at);
  assert.equal(g.core.ts.eptRoot, root1);
  assert.equal(g.core.load32(USER_DATA), 0x2222);
  // And back: the old entries are still cached and used again without a walk.
  g.core.regs.set(R.RCX, 0);
  vmfunc(g.core, at);
  const walks = g.core.ctr[C.walks]!;
  assert.equal(g.core.load32(USER_DATA), 0x1111);
  assert.equal(g.core.ctr[C.walks], walks);
});

test('VMFUNC executes only where the bytes 0F 01 D4 are: elsewhere the model raises #UD', () => {
  const g = new Guest();
  const at = g.userCode([0x0f, 0x01, 0xd5]);
  assert.throws(() => vmfunc(g.core, at), isUD);
});

test('VMFUNC bytes in a non-executable page cannot run: instruction fetch faults (#PF, I bit)', () => {
  const g = new Guest({ cpl: 3 });
  g.m.mem.writeBytes(g.resolve(USER_DATA), Uint8Array.from(ENC.vmfunc));
  assert.throws(
    () => vmfunc(g.core, USER_DATA),
    (e: unknown) =>
      e instanceof Trap &&
      e.event.kind === 'exception' &&
      e.event.vector === 14 &&
      (e.event.errorCode & 0x10) !== 0,
  );
});

test('VMFUNC bytes in a page the EPT does not let execute: EPT violation with the fetch bit', () => {
  const g = new Guest({ cpl: 3, ept4k: true });
  const at = g.userCode(ENC.vmfunc);
  const gpa = g.resolve(at) - (g.resolve(at) % PAGE_4K);
  mapEptPage(g.m.mem, g.host, g.eptRoot, gpa, gpa, PageSize.Size4K, { read: true, write: true });
  g.m.coldStart();
  assert.throws(
    () => vmfunc(g.core, at),
    (e: unknown) =>
      e instanceof Trap &&
      e.event.kind === 'vmexit' &&
      e.event.reason === 48 &&
      (e.event.qualification & 4) !== 0,
  );
});

test('warm VMFUNC costs exactly the profile figure; a cold EPTP-list line adds its miss latency', () => {
  const { g, at } = setup({ cpl: 3 });
  g.addEpt(1);
  // Warm the ITLB and L1I under both EPTs, and the EPTP-list line.
  for (const i of [1, 0]) {
    g.core.regs.set(R.RCX, i);
    vmfunc(g.core, at);
  }
  g.core.regs.set(R.RCX, 1);
  const before = g.core.cycles;
  vmfunc(g.core, at);
  // Warm: ITLB/L1I hits are hidden; the EPTP-list read hits the L1D, which the measured
  // figure already includes.
  assert.equal(g.core.cycles - before, g.m.profile.ops.vmfunc);
  g.m.caches.flushAll();
  g.core.regs.set(R.RCX, 0);
  const b2 = g.core.cycles;
  vmfunc(g.core, at);
  const p = g.m.profile;
  // The code line and the list line both come from DRAM now.
  assert.equal(
    g.core.cycles - b2,
    p.ops.vmfunc + 2 * (p.caches.dramLatency - p.caches.l1d.latency),
  );
});

test('VMCALL in non-root mode is a VM exit (reason 18); VM exit + entry cost the profile figures', () => {
  const g = new Guest();
  const at = g.userCode(ENC.vmcall);
  const before = g.core.cycles;
  assert.throws(
    () => vmcall(g.core, at),
    (e: unknown) => e instanceof Trap && e.event.kind === 'vmexit' && e.event.reason === 18,
  );
  assert.equal(g.vmcs.exitReason, 18);
  assert.equal(g.vmcs.guestRip, at);
  assert.ok(g.core.cycles - before >= g.m.profile.ops.vmExit);
  assert.equal(g.core.ctr[C.vmexitVmcall], 0, 'counted in the root-mode slot');
  const snap = g.m.snapshot();
  assert.equal(snap.get('vmexit.vmcall'), 1);
});

test('fetch of VMFUNC goes through the ITLB and L1I', () => {
  const { g, at } = setup();
  g.m.coldStart();
  g.core.regs.set(R.RCX, 0);
  vmfunc(g.core, at);
  const s = g.m.snapshot();
  assert.ok(s.get('tlb.miss.fetch') >= 1);
  assert.ok(s.get('l1i.miss') >= 1);
});
