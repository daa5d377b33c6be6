import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, USER_CODE, USER_DATA, KERNEL_DATA } from './guest.ts';
import {
  Access,
  FaultKind,
  PFEC_I,
  PFEC_P,
  PFEC_RSVD,
  PFEC_U,
  PFEC_W,
} from '../../src/hw/translation-state.ts';
import { C } from '../../src/hw/counters.ts';
import { PAGE_4K, PageSize } from '../../src/hw/addr.ts';
import { mapGuestPage, mapEptPage } from '../../src/hw/page-table-writer.ts';
import { makeEptp } from '../../src/hw/vmcs.ts';
import { Trap } from '../../src/hw/traps.ts';

function coldTranslate(
  g: Guest,
  la: number,
  walkCaches = false,
): { hpa: number; refs: number; guest: number; ept: number } {
  g.m.coldStart();
  g.core.mmu.walker.useWalkCaches = walkCaches;
  const access = Access.Read;
  const ctr = g.core.ctr;
  const before = [ctr[C.walkRefs]!, ctr[C.walkRefsGuest]!, ctr[C.walkRefsEpt]!];
  const hpa = g.core.mmu.translate(la, access);
  return {
    hpa,
    refs: ctr[C.walkRefs]! - before[0]!,
    guest: ctr[C.walkRefsGuest]! - before[1]!,
    ept: ctr[C.walkRefsEpt]! - before[2]!,
  };
}

test('2-D walk, 4 KiB guest and 4 KiB EPT pages, nothing cached: exactly 24 references (SDM 3C §29.3.2)', () => {
  const g = new Guest({ ept4k: true });
  const r = coldTranslate(g, USER_DATA + 0x123);
  assert.equal(r.refs, 24);
  assert.equal(r.guest, 4);
  assert.equal(r.ept, 20);
  assert.equal(r.hpa, g.resolve(USER_DATA + 0x123));
});

test('2-D walk with 1 GiB EPT pages: 4 × (2 + 1) + 2 = 14 references', () => {
  const g = new Guest();
  const r = coldTranslate(g, USER_DATA + 8);
  assert.equal(r.refs, 14);
  assert.equal(r.guest, 4);
  assert.equal(r.ept, 10);
});

test('cold start with the walk caches on: entries filled early in the walk serve later steps', () => {
  // 4K/4K: the guest tables share one 2 MiB region, so after the first EPT walk the EPT
  // PDE cache gives each later guest table in 1 reference: 5 + 2 + 2 + 2 + 2 = 13.
  assert.equal(coldTranslate(new Guest({ ept4k: true }), USER_DATA, true).refs, 13);
  // 1 GiB EPT: the first EPT walk leaves a 1 GiB guest-physical mapping: 2 + 4 = 6.
  assert.equal(coldTranslate(new Guest(), USER_DATA, true).refs, 6);
});

test('without EPT (VMX root) a cold walk is 4 references', () => {
  const g = new Guest();
  g.core.nonRoot = false;
  g.core.cr3 = g.pml4;
  g.core.syncContext();
  assert.equal(coldTranslate(g, USER_DATA).refs, 4);
});

test('a second translation of the same page hits the DTLB: no walk', () => {
  const g = new Guest();
  coldTranslate(g, USER_DATA);
  const walks = g.core.ctr[C.walks]!;
  const hits = g.core.ctr[C.dtlbHit]!;
  assert.equal(g.core.mmu.translate(USER_DATA + 64, Access.Read), g.resolve(USER_DATA + 64));
  assert.equal(g.core.ctr[C.walks], walks);
  assert.equal(g.core.ctr[C.dtlbHit], hits + 1);
});

test('the next page in the same page table: PDE paging-structure cache and guest-physical mappings cut the walk to 1 + 1 references', () => {
  const g = new Guest();
  coldTranslate(g, USER_DATA, true);
  const refs = g.core.ctr[C.walkRefs]!;
  g.core.mmu.translate(USER_DATA + PAGE_4K, Access.Read);
  // PDE-cache hit gives the PT's host-physical address: 1 guest PTE reference; the data
  // frame's GPA misses the guest-physical mappings (another 1 GiB page? no: same 1 GiB EPT
  // page, so it hits) → 1 reference in all.
  assert.equal(g.core.ctr[C.walkRefs]! - refs, 1);
  assert.equal(g.core.ctr[C.pscHit]! >= 1, true);
});

test('the walker sets Accessed on every guest level and Dirty on the leaf of a write (SDM §4.8)', () => {
  const g = new Guest({ cpl: 3 });
  const la = USER_DATA + 0x40;
  g.core.mmu.translate(la, Access.Write);
  const mem = g.m.mem;
  let table = g.pml4;
  for (const shift of [39, 30, 21, 12]) {
    const at = table + (Math.floor(la / 2 ** shift) % 512) * 8;
    const lo = mem.read32(at);
    assert.equal(lo & 0x20, 0x20, `A at shift ${shift}`);
    if (shift === 12) assert.equal(lo & 0x40, 0x40, 'D on the PTE');
    table = (lo & 0xffff_f000) >>> 0;
  }
});

function pf(g: Guest, la: number, access: Access): number {
  g.m.coldStart();
  const hpa = g.core.mmu.translate(la, access);
  assert.equal(hpa, -1);
  assert.equal(g.core.ts.fault, FaultKind.PageFault);
  return g.core.ts.pfec;
}

test('#PF error code: not present, user read → U only (SDM §4.7)', () => {
  const g = new Guest({ cpl: 3 });
  assert.equal(pf(g, 0x7000_0000, Access.Read), PFEC_U);
});

test('#PF error code: user write to a read-only page → P|W|U', () => {
  const g = new Guest({ cpl: 3 });
  assert.equal(pf(g, USER_CODE, Access.Write), PFEC_P | PFEC_W | PFEC_U);
});

test('#PF error code: user read of a supervisor page → P|U', () => {
  const g = new Guest({ cpl: 3 });
  assert.equal(pf(g, KERNEL_DATA, Access.Read), PFEC_P | PFEC_U);
});

test('#PF error code: fetch from an XD page → P|I|U', () => {
  const g = new Guest({ cpl: 3 });
  assert.equal(pf(g, USER_DATA, Access.Fetch), PFEC_P | PFEC_I | PFEC_U);
});

test('#PF error code: reserved bit set (PS in a PML4E) → P|RSVD', () => {
  const g = new Guest({ cpl: 3 });
  const la = 0x1000_0000_0000;
  const at = g.pml4 + Math.floor(la / 2 ** 39) * 8;
  g.m.mem.write32(at, 0x1000 | 0x87);
  assert.equal(pf(g, la, Access.Read), PFEC_P | PFEC_RSVD | PFEC_U);
});

test('supervisor access to a user page: allowed without SMAP, #PF with SMAP; fetch #PF with SMEP', () => {
  const g = new Guest({ cpl: 0 });
  assert.notEqual(g.core.mmu.translate(USER_DATA, Access.Read), -1);
  g.core.smap = true;
  g.core.smep = true;
  g.core.syncContext();
  assert.equal(pf(g, USER_DATA, Access.Read), PFEC_P);
  assert.equal(pf(g, USER_CODE, Access.Fetch), PFEC_P | PFEC_I);
});

test('supervisor write to a read-only page faults when CR0.WP = 1', () => {
  const g = new Guest({ cpl: 0 });
  assert.equal(pf(g, USER_CODE, Access.Write), PFEC_P | PFEC_W);
});

test('EPT violation: qualification carries access, EPT rights and GLA bits; GPA and GLA recorded (SDM 3C Table 28-7)', () => {
  const g = new Guest({ ept4k: true });
  const la = USER_DATA + 0x10;
  const gpa = g.resolve(la);
  // Make the data frame read-only in the EPT.
  mapEptPage(
    g.m.mem,
    g.host,
    g.eptRoot,
    gpa - (gpa % PAGE_4K),
    gpa - (gpa % PAGE_4K),
    PageSize.Size4K,
    { read: true, exec: true },
  );
  g.m.coldStart();
  assert.equal(g.core.mmu.translate(la, Access.Write), -1);
  assert.equal(g.core.ts.fault, FaultKind.EptViolation);
  assert.equal(g.core.ts.faultGpa, gpa);
  assert.equal(g.core.ts.faultLa, la);
  // write (bit 1) | readable (3) | executable (5) | GLA valid (7) | final access (8)
  assert.equal(g.core.ts.eptQual, (1 << 1) | (1 << 3) | (1 << 5) | (1 << 7) | (1 << 8));
});

test('EPT violation on a guest paging-structure read: bit 8 clear, read access', () => {
  const g = new Guest({ ept4k: true });
  // Unmap the guest PML4 frame in the EPT.
  mapEptPage(g.m.mem, g.host, g.eptRoot, g.pml4, g.pml4, PageSize.Size4K, {});
  g.m.coldStart();
  assert.equal(g.core.mmu.translate(USER_DATA, Access.Read), -1);
  assert.equal(g.core.ts.fault, FaultKind.EptViolation);
  assert.equal(g.core.ts.eptQual, (1 << 0) | (1 << 7));
  assert.equal(g.core.ts.faultGpa, g.pml4 + Math.floor(USER_DATA / 2 ** 39) * 8);
});

test('EPT misconfiguration: write without read (SDM 3C §29.3.3.1)', () => {
  const g = new Guest({ ept4k: true });
  const gpa = g.resolve(USER_DATA);
  mapEptPage(g.m.mem, g.host, g.eptRoot, gpa, gpa, PageSize.Size4K, { write: true });
  g.m.coldStart();
  assert.equal(g.core.mmu.translate(USER_DATA, Access.Read), -1);
  assert.equal(g.core.ts.fault, FaultKind.EptMisconfig);
});

test('a load that faults delivers #PF through the guest IDT and throws a Trap', () => {
  const g = new Guest({ cpl: 3 });
  assert.throws(
    () => g.core.load32(0x7000_0000),
    (e: unknown) =>
      e instanceof Trap &&
      e.event.kind === 'exception' &&
      e.event.vector === 14 &&
      e.event.cr2 === 0x7000_0000,
  );
  assert.equal(g.core.cpl, 0);
  assert.equal(g.core.rip, 0x8000_0000_0800);
});

test('a load hitting an EPT violation is a VM exit with reason 48 and the core in root mode', () => {
  const g = new Guest({ ept4k: true });
  const gpa = g.resolve(USER_DATA);
  mapEptPage(g.m.mem, g.host, g.eptRoot, gpa, gpa, PageSize.Size4K, {});
  g.m.coldStart();
  assert.throws(
    () => g.core.load32(USER_DATA),
    (e: unknown) =>
      e instanceof Trap &&
      e.event.kind === 'vmexit' &&
      e.event.reason === 48 &&
      e.event.guestPhysical === gpa,
  );
  assert.equal(g.core.nonRoot, false);
  assert.equal(g.vmcs.exitReason, 48);
});

test('2 MiB guest page over 1 GiB EPT page is cached as a 2 MiB mapping; 1 GiB guest page over 4 KiB EPT as 4 KiB', () => {
  const g = new Guest({ ept4k: true });
  const la = 0x4000_0000_0000;
  mapGuestPage(g.m.mem, g.tables, g.pml4, la, 0x200_0000, PageSize.Size2M, { user: true });
  g.m.coldStart();
  g.core.mmu.translate(la + 0x1234, Access.Read);
  assert.equal(g.core.mmu.walker.leafSize, PageSize.Size4K);
  const g2 = new Guest();
  mapGuestPage(g2.m.mem, g2.tables, g2.pml4, la, 0x200_0000, PageSize.Size2M, { user: true });
  g2.core.mmu.translate(la + 0x1234, Access.Read);
  assert.equal(g2.core.mmu.walker.leafSize, PageSize.Size2M);
  assert.equal(g2.core.mmu.translate(la + 0x1f_0000, Access.Read), 0x200_0000 + 0x1f_0000);
});

test('EPTP helper encodes WB, walk length 4', () => {
  assert.equal(makeEptp(0x5000), 0x5000 + 6 + (3 << 3));
});
