// TLB tagging and invalidation, one test per SDM rule (Vol. 3A §4.10 for TLBs, PCIDs and
// the paging-structure caches; Vol. 3C §29.4 for VPIDs, EP4TAs and the VMX instructions).
// Cached translations are observed through the page-walk counter (a walk means the entry
// was not there) and by counting the valid entries with given tags.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, IDT, KERNEL_CODE, KERNEL_DATA, KSTACK_TOP, USER_CODE, USER_DATA } from './guest.ts';
import {
  count,
  eptCaches,
  exitAndResume,
  exitToRoot,
  guestPscs,
  isGP,
  isUD,
  linearTlbs,
  walks,
} from './util.ts';
import { PAGE_4K, PageSize } from '../../src/hw/addr.ts';
import { R } from '../../src/hw/core.ts';
import { ENC } from '../../src/hw/encodings.ts';
import { invlpg, invpcid, movToCr3 } from '../../src/hw/isa.ts';
import { mapGuestPage } from '../../src/hw/page-table-writer.ts';
import { F_GLOBAL, TranslationCache } from '../../src/hw/tlb.ts';
import { Access } from '../../src/hw/translation-state.ts';
import { VmxFail, invept, invvpid, vmEntry, vmfunc } from '../../src/hw/vmx.ts';
import { makeEptp } from '../../src/hw/vmcs.ts';

/** A free guest frame (identity-mapped by the EPT) for a second mapping of USER_DATA. */
const OTHER = 0x180_0000;
const NO_FLUSH = 1n << 63n;

/** A second guest address space: the kernel's pages (same frames, global) and the user
 *  code as in the first, and USER_DATA mapped to `dataFrame`. */
function addressSpace(g: Guest, dataFrame: number): number {
  const mem = g.m.mem;
  const root = g.tables.alloc();
  const same: [number, number, Parameters<typeof mapGuestPage>[6]][] = [
    [USER_CODE, 2, { user: true }],
    [KERNEL_CODE, 2, { global: true }],
    [KERNEL_DATA, 4, { writable: true, noExec: true, global: true }],
    [IDT, 1, { noExec: true, global: true }],
    [KSTACK_TOP - 2 * PAGE_4K, 2, { writable: true, noExec: true, global: true }],
  ];
  for (const [la, pages, f] of same) {
    for (let i = 0; i < pages; i++) {
      const a = la + i * PAGE_4K;
      mapGuestPage(mem, g.tables, root, a, g.resolve(a), PageSize.Size4K, f);
    }
  }
  mapGuestPage(mem, g.tables, root, USER_DATA, dataFrame, PageSize.Size4K, {
    user: true,
    writable: true,
    noExec: true,
  });
  return root;
}

/** A guest at CPL 0 with PCIDs on (its CR3 is PML4 | PCID 1) and a second address space B
 *  that maps USER_DATA to OTHER; `mov(root, pcid, keep)` executes MOV CR3. */
function pcidGuest(): {
  g: Guest;
  b: number;
  mov: (root: number, pcid: number, keep: boolean) => void;
} {
  const g = new Guest({ cpl: 0, pcide: true });
  const b = addressSpace(g, OTHER);
  const at = g.kernelCode(ENC.movCr3Rax);
  const mov = (root: number, pcid: number, keep: boolean): void => {
    const v = BigInt(root + pcid) | (keep ? NO_FLUSH : 0n);
    g.core.regs.set(R.RAX, root + pcid);
    movToCr3(g.core, at, v);
  };
  return { g, b, mov };
}

test('SDM 3C §29.4.1: mappings made under one VPID are not used under another', () => {
  const g = new Guest({ cpl: 0 });
  assert.equal(walks(g.core, USER_DATA), true);
  assert.equal(walks(g.core, USER_DATA), false);
  exitAndResume(g, (v) => (v.vpid = 2));
  assert.equal(g.core.ts.vpid, 2);
  assert.equal(walks(g.core, USER_DATA), true, 'VPID 1 entry not used under VPID 2');
  exitAndResume(g, (v) => (v.vpid = 1));
  assert.equal(walks(g.core, USER_DATA), false, 'VPID 1 entry still there and used again');
});

test('SDM 3A §4.10.1: with CR4.PCIDE=1, MOV CR3 with bit 63 set keeps both PCIDs’ entries, each used only under its PCID', () => {
  const { g, b, mov } = pcidGuest();
  const a = g.resolve(USER_DATA);
  assert.equal(g.core.ts.pcid, 1);
  assert.equal(walks(g.core, USER_DATA), true);
  assert.equal(g.core.mmu.translate(USER_DATA, Access.Read), a);
  mov(b, 2, true);
  assert.equal(g.core.ts.pcid, 2);
  assert.equal(walks(g.core, USER_DATA), true, 'the PCID 1 entry is not used under PCID 2');
  assert.equal(g.core.mmu.translate(USER_DATA + 8, Access.Read), OTHER + 8);
  mov(g.pml4, 1, true);
  assert.equal(walks(g.core, USER_DATA), false);
  assert.equal(g.core.mmu.translate(USER_DATA + 8, Access.Read), a + 8);
  mov(b, 2, true);
  assert.equal(walks(g.core, USER_DATA), false);
  assert.equal(g.core.mmu.translate(USER_DATA + 8, Access.Read), OTHER + 8);
});

test('SDM 3A §4.10.2.4: global pages survive MOV CR3 and are used across PCIDs, but not across VPIDs', () => {
  const { g, b, mov } = pcidGuest();
  assert.equal(walks(g.core, KERNEL_DATA), true);
  assert.equal(walks(g.core, USER_DATA), true);
  const globals = count(linearTlbs(g.core), { vpid: 1, global: true, la: KERNEL_DATA });
  assert.equal(globals, 2, 'DTLB and STLB hold the global page');
  mov(g.pml4, 1, false);
  assert.equal(count(linearTlbs(g.core), { vpid: 1, global: true, la: KERNEL_DATA }), 2);
  assert.equal(walks(g.core, KERNEL_DATA), false, 'global entry survives a flushing MOV CR3');
  assert.equal(walks(g.core, USER_DATA), true, 'non-global entry did not');
  mov(b, 2, false);
  assert.equal(walks(g.core, KERNEL_DATA), false, 'global entry made under PCID 1 used under 2');
  exitAndResume(g, (v) => (v.vpid = 2));
  assert.equal(walks(g.core, KERNEL_DATA), true, 'but not under another VPID');
});

test('SDM 3A §4.10.4.1 and 3C §29.4.3.1: MOV CR3 with PCIDE=0 invalidates the non-global TLB and PSC entries of the current VPID, for every EP4TA', () => {
  const g = new Guest({ cpl: 0 });
  const root1 = g.addEpt(1);
  const ep0 = g.m.ep4taId(g.eptRoot);
  const ep1 = g.m.ep4taId(root1);
  const vf = g.userCode(ENC.vmfunc);
  const cr3At = g.kernelCode(ENC.movCr3Rax);
  // Entries of another VPID.
  exitAndResume(g, (v) => (v.vpid = 2));
  walks(g.core, USER_DATA);
  exitAndResume(g, (v) => (v.vpid = 1));
  // Entries under both EPTs.
  walks(g.core, USER_DATA);
  walks(g.core, KERNEL_DATA);
  g.core.regs.set(R.RCX, 1);
  vmfunc(g.core, vf);
  walks(g.core, USER_DATA);
  walks(g.core, KERNEL_DATA);
  for (const ep of [ep0, ep1]) {
    assert.ok(count(linearTlbs(g.core), { vpid: 1, ep, global: false }) > 0);
    assert.ok(count(guestPscs(g.core), { vpid: 1, ep }) > 0);
  }
  const vpid2 = count(linearTlbs(g.core), { vpid: 2 }) + count(guestPscs(g.core), { vpid: 2 });
  assert.ok(vpid2 > 0);
  const globals = count(linearTlbs(g.core), { vpid: 1, global: true, la: KERNEL_DATA });
  assert.equal(globals, 4, 'DTLB and STLB, under each EPT');
  movToCr3(g.core, cr3At, BigInt(g.pml4));
  assert.equal(count(linearTlbs(g.core), { vpid: 1, global: false }), 0);
  assert.equal(count(guestPscs(g.core), { vpid: 1 }), 0);
  assert.equal(count(linearTlbs(g.core), { vpid: 1, global: true, la: KERNEL_DATA }), globals);
  assert.equal(
    count(linearTlbs(g.core), { vpid: 2 }) + count(guestPscs(g.core), { vpid: 2 }),
    vpid2,
    'other VPIDs untouched',
  );
  assert.equal(walks(g.core, USER_DATA), true);
  g.core.regs.set(R.RCX, 0);
  vmfunc(g.core, vf);
  assert.equal(walks(g.core, USER_DATA), true);
  exitAndResume(g, (v) => (v.vpid = 2));
  assert.equal(walks(g.core, USER_DATA), false);
});

test('SDM 3A §4.10.4.1: with PCIDE=1 and bit 63 clear, MOV CR3 invalidates the new PCID’s non-global entries only', () => {
  const { g, b, mov } = pcidGuest();
  walks(g.core, USER_DATA);
  walks(g.core, KERNEL_DATA);
  mov(b, 2, true);
  walks(g.core, USER_DATA);
  const psc2 = count(guestPscs(g.core), { pcid: 2 });
  assert.ok(psc2 > 0 && count(guestPscs(g.core), { pcid: 1 }) > 0);
  mov(g.pml4, 1, false);
  assert.equal(count(guestPscs(g.core), { pcid: 1 }), 0);
  assert.equal(count(guestPscs(g.core), { pcid: 2 }), psc2);
  assert.equal(count(linearTlbs(g.core), { pcid: 1, global: false }), 0);
  assert.equal(walks(g.core, USER_DATA), true, 'PCID 1 flushed');
  assert.equal(walks(g.core, KERNEL_DATA), false, 'global kept');
  mov(b, 2, true);
  assert.equal(walks(g.core, USER_DATA), false, 'PCID 2 kept');
});

test('SDM Vol. 2B MOV to CR3: bit 63 of the source set while CR4.PCIDE=0 is #GP(0); nothing changes', () => {
  const g = new Guest({ cpl: 0 });
  const at = g.kernelCode(ENC.movCr3Rax);
  walks(g.core, USER_DATA);
  const cr3 = g.core.cr3;
  assert.throws(() => movToCr3(g.core, at, BigInt(g.pml4) | NO_FLUSH), isGP);
  // The #GP was delivered through the guest IDT; CR3 and the TLB are as they were.
  assert.equal(g.core.cr3, cr3);
  assert.equal(walks(g.core, USER_DATA), false);
});

test('SDM 3A §4.10.4.1: INVLPG invalidates the page’s entries (global too) and every PSC entry of the current PCID', () => {
  const { g, b, mov } = pcidGuest();
  const at = g.kernelCode(ENC.invlpgRax);
  mov(b, 2, true);
  walks(g.core, USER_DATA);
  mov(g.pml4, 1, true);
  walks(g.core, USER_DATA);
  walks(g.core, USER_DATA + PAGE_4K);
  walks(g.core, KERNEL_DATA);
  const psc2 = count(guestPscs(g.core), { pcid: 2 });
  assert.ok(psc2 > 0 && count(guestPscs(g.core), { pcid: 1 }) > 0);
  invlpg(g.core, at, USER_DATA + 0x10);
  assert.equal(count(guestPscs(g.core), { pcid: 1 }), 0);
  assert.equal(count(guestPscs(g.core), { pcid: 2 }), psc2);
  assert.equal(count(linearTlbs(g.core), { pcid: 1, la: USER_DATA }), 0);
  assert.equal(walks(g.core, USER_DATA + PAGE_4K), false, 'another page of the PCID kept');
  assert.equal(walks(g.core, KERNEL_DATA), false);
  assert.equal(walks(g.core, USER_DATA), true);
  invlpg(g.core, at, KERNEL_DATA);
  assert.equal(count(linearTlbs(g.core), { la: KERNEL_DATA }), 0, 'global entry removed');
  assert.equal(walks(g.core, KERNEL_DATA), true);
  mov(b, 2, true);
  assert.equal(walks(g.core, USER_DATA), false, 'same page under another PCID kept');
});

test('SDM Vol. 2A INVPCID: type 0 address, 1 single context, 2 all incl. global, 3 all but global', () => {
  // Which of [USER_DATA@PCID1, USER_DATA+4K@PCID1, KERNEL_DATA (global), USER_DATA@PCID2]
  // have to be walked again after each invalidation.
  const cases: [number, number, number, boolean[]][] = [
    [0, 1, USER_DATA, [true, false, false, false]],
    [0, 1, KERNEL_DATA, [false, false, false, false]],
    [0, 2, USER_DATA, [false, false, false, true]],
    [1, 1, 0, [true, true, false, false]],
    [1, 2, 0, [false, false, false, true]],
    [2, 0, 0, [true, true, true, true]],
    [3, 0, 0, [true, true, false, true]],
  ];
  for (const [type, pcid, la, expected] of cases) {
    const { g, b, mov } = pcidGuest();
    const at = g.kernelCode(ENC.invpcid);
    mov(b, 2, true);
    walks(g.core, USER_DATA);
    mov(g.pml4, 1, true);
    walks(g.core, USER_DATA);
    walks(g.core, USER_DATA + PAGE_4K);
    walks(g.core, KERNEL_DATA);
    const psc = [1, 2].map((p) => count(guestPscs(g.core), { pcid: p }));
    invpcid(g.core, at, type, pcid, la);
    // Types 0 and 1 remove every PSC entry of their PCID; 2 and 3 of every PCID.
    for (const p of [1, 2]) {
      const gone = type >= 2 || p === pcid;
      assert.equal(count(guestPscs(g.core), { pcid: p }), gone ? 0 : psc[p - 1], `PSC ${p}`);
    }
    const got = [
      walks(g.core, USER_DATA),
      walks(g.core, USER_DATA + PAGE_4K),
      walks(g.core, KERNEL_DATA),
    ];
    mov(b, 2, true);
    got.push(walks(g.core, USER_DATA));
    assert.deepEqual(got, expected, `type ${type} PCID ${pcid}`);
  }
});

test('SDM Vol. 2A INVPCID: #GP(0) at CPL 3, for type > 3, for PCID ≥ 4096, and for types 0/1 with PCID ≠ 0 while PCIDE=0', () => {
  const { g } = pcidGuest();
  const at = g.kernelCode(ENC.invpcid);
  assert.throws(() => invpcid(g.core, at, 4, 1, 0), isGP);
  const g1 = pcidGuest().g;
  assert.throws(() => invpcid(g1.core, g1.kernelCode(ENC.invpcid), 1, 4096, 0), isGP);
  const g2 = new Guest({ cpl: 3 });
  assert.throws(() => invpcid(g2.core, g2.userCode(ENC.invpcid), 2, 0, 0), isGP);
  for (const type of [0, 1]) {
    const g3 = new Guest({ cpl: 0 });
    assert.throws(() => invpcid(g3.core, g3.kernelCode(ENC.invpcid), type, 1, USER_DATA), isGP);
  }
  // PCIDE=0: types 0/1 with PCID 0, and types 2/3 with any PCID, are legal.
  for (const [type, pcid] of [
    [0, 0],
    [1, 0],
    [2, 5],
    [3, 5],
  ]) {
    const g4 = new Guest({ cpl: 0 });
    walks(g4.core, USER_DATA);
    invpcid(g4.core, g4.kernelCode(ENC.invpcid), type!, pcid!, USER_DATA);
    assert.equal(walks(g4.core, USER_DATA), true, `type ${type}`);
  }
});

/** A guest with entries under two EPTs and a root-mode (EPT off) entry; ends in root mode. */
function twoEpts(): { g: Guest; ep0: number; ep1: number; eptp1: number; hostLa: number } {
  const g = new Guest({ cpl: 0 });
  const root1 = g.addEpt(1);
  const vf = g.userCode(ENC.vmfunc);
  walks(g.core, USER_DATA);
  g.core.regs.set(R.RCX, 1);
  vmfunc(g.core, vf);
  walks(g.core, USER_DATA);
  exitToRoot(g);
  const hostLa = 0x280_0000;
  walks(g.core, hostLa);
  return {
    g,
    ep0: g.m.ep4taId(g.eptRoot),
    ep1: g.m.ep4taId(root1),
    eptp1: makeEptp(root1),
    hostLa,
  };
}

test('SDM 3C §29.4.3.1 INVEPT single-context: removes the guest-physical and combined mappings of that EP4TA only', () => {
  const { g, ep0, ep1, eptp1, hostLa } = twoEpts();
  const all = [...linearTlbs(g.core), ...guestPscs(g.core), ...eptCaches(g.core)];
  const n0 = count(all, { ep: ep0 });
  assert.ok(n0 > 0 && count(all, { ep: ep1 }) > 0 && count(eptCaches(g.core), { ep: ep1 }) > 0);
  const host = count(linearTlbs(g.core), { ep: 0 });
  assert.ok(host > 0);
  invept(g.core, g.hostCode(ENC.invept), 1, eptp1);
  assert.equal(count(all, { ep: ep1 }), 0);
  assert.equal(count(all, { ep: ep0 }), n0);
  assert.equal(count(linearTlbs(g.core), { ep: 0 }), host, 'linear mappings kept');
  assert.equal(walks(g.core, hostLa), false);
});

test('SDM 3C §29.4.3.1 INVEPT all-context: removes the guest-physical and combined mappings of every EP4TA, not linear mappings', () => {
  const { g, ep0, ep1, hostLa } = twoEpts();
  const all = [...linearTlbs(g.core), ...guestPscs(g.core), ...eptCaches(g.core)];
  const host = count(linearTlbs(g.core), { ep: 0 });
  invept(g.core, g.hostCode(ENC.invept), 2, 0);
  assert.equal(count(all, { ep: ep0 }) + count(all, { ep: ep1 }), 0);
  assert.equal(count(linearTlbs(g.core), { ep: 0 }), host, 'linear (EPT-off) mappings kept');
  assert.equal(walks(g.core, hostLa), false);
});

test('SDM Vol. 2C INVEPT: #UD in VMX non-root operation; VMfailValid (error 28) for an unsupported type', () => {
  const g = new Guest({ cpl: 0 });
  assert.throws(() => invept(g.core, g.userCode(ENC.invept), 2, 0), isUD);
  exitToRoot(g);
  assert.throws(
    () => invept(g.core, g.hostCode(ENC.invept), 3, 0),
    (e: unknown) => e instanceof VmxFail && e.errorNumber === 28,
  );
});

/** Entries under VPID 1 (USER_DATA, USER_DATA+4K, global KERNEL_DATA) and VPID 2
 *  (USER_DATA) and a root-mode entry (VPID 0); ends in root mode. */
function threeVpids(): Guest {
  const g = new Guest({ cpl: 0 });
  exitAndResume(g, (v) => (v.vpid = 2));
  walks(g.core, USER_DATA);
  exitAndResume(g, (v) => (v.vpid = 1));
  walks(g.core, USER_DATA);
  walks(g.core, USER_DATA + PAGE_4K);
  walks(g.core, KERNEL_DATA);
  exitToRoot(g);
  walks(g.core, 0x280_0000);
  return g;
}

test('SDM Vol. 2C INVVPID: type 0 address (global too), 1 single context, 2 all but VPID 0, 3 single context but global', () => {
  const tl = (g: Guest, vpid: number, la?: number, global?: boolean): number =>
    count(linearTlbs(g.core), { vpid, la, global });
  {
    const g = threeVpids();
    const psc1 = count(guestPscs(g.core), { vpid: 1 });
    const u1b = tl(g, 1, USER_DATA + PAGE_4K);
    const k = tl(g, 1, KERNEL_DATA);
    assert.ok(psc1 > 0 && u1b > 0 && k > 0);
    invvpid(g.core, g.hostCode(ENC.invvpid), 0, 1, USER_DATA);
    assert.equal(tl(g, 1, USER_DATA), 0);
    assert.equal(tl(g, 1, USER_DATA + PAGE_4K), u1b);
    assert.equal(tl(g, 2, USER_DATA), 2);
    invvpid(g.core, g.hostCode(ENC.invvpid), 0, 1, KERNEL_DATA);
    assert.equal(tl(g, 1, KERNEL_DATA), 0, 'global entry of the address removed');
  }
  {
    const g = threeVpids();
    const v0 = tl(g, 0);
    const v2 = tl(g, 2);
    invvpid(g.core, g.hostCode(ENC.invvpid), 1, 1);
    assert.equal(tl(g, 1) + count(guestPscs(g.core), { vpid: 1 }), 0);
    assert.equal(tl(g, 2), v2);
    assert.equal(tl(g, 0), v0);
  }
  {
    const g = threeVpids();
    const v0 = tl(g, 0) + count(guestPscs(g.core), { vpid: 0 });
    assert.ok(v0 > 0);
    invvpid(g.core, g.hostCode(ENC.invvpid), 2, 0);
    assert.equal(tl(g, 1) + tl(g, 2), 0);
    assert.equal(count(guestPscs(g.core), { vpid: 1 }) + count(guestPscs(g.core), { vpid: 2 }), 0);
    assert.equal(tl(g, 0) + count(guestPscs(g.core), { vpid: 0 }), v0, 'VPID 0 kept');
  }
  {
    const g = threeVpids();
    const globals = tl(g, 1, undefined, true);
    assert.ok(globals > 0);
    invvpid(g.core, g.hostCode(ENC.invvpid), 3, 1);
    assert.equal(tl(g, 1, undefined, false), 0);
    assert.equal(tl(g, 1, undefined, true), globals);
  }
  // Guest-physical mappings are not linear or combined mappings: INVVPID leaves them.
  {
    const g = threeVpids();
    const gpa = count(eptCaches(g.core));
    invvpid(g.core, g.hostCode(ENC.invvpid), 2, 0);
    assert.equal(count(eptCaches(g.core)), gpa);
  }
});

test('SDM Vol. 2C INVVPID: VPID 0 with types 0, 1, 3 and a type > 3 fail (VMfailValid 28); #UD in non-root operation', () => {
  const g = new Guest({ cpl: 0 });
  assert.throws(() => invvpid(g.core, g.userCode(ENC.invvpid), 2, 0), isUD);
  exitToRoot(g);
  const at = g.hostCode(ENC.invvpid);
  for (const [type, vpid] of [
    [0, 0],
    [1, 0],
    [3, 0],
    [4, 1],
  ]) {
    assert.throws(
      () => invvpid(g.core, at, type!, vpid!),
      (e: unknown) => e instanceof VmxFail && e.errorNumber === 28,
      `type ${type} VPID ${vpid}`,
    );
  }
  invvpid(g.core, at, 2, 0);
  assert.equal(g.core.rip, at + ENC.invvpid.length);
});

test('SDM 3C §29.4.3.3: with VPID disabled, VM exit and VM entry invalidate VPID 0’s linear and combined mappings, not guest-physical ones', () => {
  const g = new Guest({ cpl: 0, vpid: false });
  walks(g.core, USER_DATA);
  walks(g.core, KERNEL_DATA);
  const gpa = count(eptCaches(g.core));
  assert.ok(gpa > 0);
  assert.ok(count(linearTlbs(g.core), { vpid: 0, global: true }) > 0);
  const resume = g.hostCode(ENC.vmresume);
  exitToRoot(g);
  assert.equal(count([...linearTlbs(g.core), ...guestPscs(g.core)]), 0, 'VM exit');
  assert.equal(count(eptCaches(g.core)), gpa);
  walks(g.core, 0x280_0000);
  assert.ok(count(linearTlbs(g.core), { vpid: 0, ep: 0 }) > 0);
  vmEntry(g.core, resume, true);
  assert.equal(count([...linearTlbs(g.core), ...guestPscs(g.core)]), 0, 'VM entry');
  assert.equal(count(eptCaches(g.core)), gpa);
});

test('SDM 3C §29.4.3.3: with VPID enabled, a VM exit and VM entry round trip keeps the guest’s entries', () => {
  const g = new Guest({ cpl: 3 });
  exitAndResume(g); // warms the VMCALL's code page
  walks(g.core, USER_DATA);
  walks(g.core, USER_DATA + PAGE_4K, Access.Write);
  const n = count(linearTlbs(g.core), { vpid: 1 }) + count(guestPscs(g.core), { vpid: 1 });
  assert.ok(n > 0);
  exitAndResume(g);
  assert.equal(count(linearTlbs(g.core), { vpid: 1 }) + count(guestPscs(g.core), { vpid: 1 }), n);
  assert.equal(walks(g.core, USER_DATA), false);
});

test('TranslationCache: true LRU within a set, exact victims', () => {
  // 8 entries, 4 ways: 2 sets; even page numbers map to set 0.
  const t = new TranslationCache('t', 8, 4);
  const put = (vpn: number): number => t.insert(vpn, PageSize.Size4K, 1, 0, 1, vpn * PAGE_4K, 0);
  const has = (vpn: number): boolean => t.find(vpn, PageSize.Size4K, 1, 0, 1) >= 0;
  const [s0, s2, s4, s6] = [0, 2, 4, 6].map(put) as [number, number, number, number];
  assert.deepEqual([s0, s2, s4, s6].sort(), [0, 1, 2, 3], 'set 0 is indices 0-3');
  assert.ok(put(1) >= 4, 'an odd page number goes to set 1');
  has(0); // LRU order now 2, 4, 6, 0
  assert.equal(put(8), s2, 'victim: the least recently used, page 2');
  assert.equal(has(2), false);
  has(4);
  has(6); // LRU order now 0, 8, 4, 6
  assert.equal(put(10), s0, 'victim: page 0');
  assert.deepEqual([0, 2, 4, 6, 8, 10].map(has), [false, false, true, true, true, true]);
  // Re-inserting an entry with the same tags replaces it in place, not the LRU way.
  assert.equal(put(4), s4);
  assert.equal(t.occupancy(), 5);
  // An invalidated way is reused before any valid one.
  t.invalidateIndex(s6);
  assert.equal(put(12), s6);
  // Different tags (VPID, PCID, EP4TA) are different entries; global ignores PCID only.
  t.insert(14, PageSize.Size4K, 1, 3, 1, 0, F_GLOBAL);
  assert.equal(t.find(14, PageSize.Size4K, 1, 4, 1) >= 0, true);
  assert.equal(t.find(14, PageSize.Size4K, 2, 3, 1), -1);
  assert.equal(t.find(14, PageSize.Size4K, 1, 3, 2), -1);
});
