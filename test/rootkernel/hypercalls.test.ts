// Every hypercall does its EPT work, charged in root mode, and each documented error path
// returns its code.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PAGE_4K } from '../../src/hw/addr.ts';
import { type Core, R } from '../../src/hw/core.ts';
import { Mode } from '../../src/hw/counters.ts';
import { vmfunc } from '../../src/hw/vmx.ts';
import { Hypercall as H, HypercallError as E } from '../../src/rootkernel/hypercalls.ts';
import { Fixture, GIB, MIB, PHYSMAP, eptLookup, readEntry } from './fixture.ts';

const rootOf = (eptp: number): number => eptp - (eptp % PAGE_4K);

function boot(): { f: Fixture; c: Core } {
  const f = new Fixture();
  f.launchAll();
  return { f, c: f.m.core(0) };
}

/** Maps core `c`'s EPTP list, puts `view` at `index` and switches to it with VMFUNC. */
function switchTo(f: Fixture, c: Core, view: number, index = 1): void {
  if (f.rk.eptpListGpa(c) === undefined) {
    assert.equal(f.hc(c, H.MapEptpList, f.rk.guestBytes + c.id * PAGE_4K), 0);
  }
  const list = PHYSMAP + f.rk.eptpListGpa(c)!;
  c.store64(list + index * 8, f.hc(c, H.EptpValue, view));
  c.regs.set(R.RAX, 0);
  c.regs.set(R.RCX, index);
  vmfunc(c, f.site.kvmfunc);
}

describe('Rootkernel hypercalls', () => {
  it('CreateView copies the base table tree (charged) and maps the same memory', () => {
    const { f, c } = boot();
    const owner = f.m.owners.id('rootkernel');
    const before = f.m.snapshot();
    const view = f.hc(c, H.CreateView);
    assert.equal(view, 1);
    assert.equal(f.hc(c, H.CreateView), 2);
    const d = f.m.snapshot().minus(before);
    const eptp = f.rk.eptpOf(view)!;
    assert.notEqual(eptp, f.rk.baseEptp);
    assert.equal(f.hc(c, H.EptpValue, view), eptp);
    const [b, v] = [rootOf(f.rk.baseEptp), rootOf(eptp)];
    const pdpt = (root: number): number => rootOf(readEntry(f.m, root));
    assert.notEqual(pdpt(v), pdpt(b), 'PDPT copied');
    assert.notEqual(readEntry(f.m, pdpt(v) + 8), readEntry(f.m, pdpt(b) + 8), 'boundary PD copied');
    assert.equal(readEntry(f.m, pdpt(v)), readEntry(f.m, pdpt(b)), '1 GiB leaf shared');
    for (const gpa of [0, 0x3456_7000, GIB + 0x10_0000, f.rk.guestBytes - PAGE_4K]) {
      assert.equal(eptLookup(f.m, v, gpa), gpa);
    }
    assert.equal(eptLookup(f.m, v, f.rk.guestBytes), -1);
    // Three tables (PML4, PDPT, the boundary GiB's PD) of 512 entries, twice, read and
    // written through the core in root mode.
    assert.ok(d.get('stores', { owner, mode: Mode.VmxRoot }) >= 2 * 3 * 512);
    assert.ok(d.get('loads', { owner, mode: Mode.VmxRoot }) >= 2 * 3 * 512);
  });

  it('RemapPage remaps one 4 KiB page, splitting 1 GiB and 2 MiB pages, and invalidates', () => {
    const { f, c } = boot();
    const view = f.hc(c, H.CreateView);
    const v = rootOf(f.rk.eptpOf(view)!);
    const [a, target] = [0x300_0000, 0x400_0000];
    f.m.mem.write32(a, 0xaaaa);
    f.m.mem.write32(target, 0x7777);
    switchTo(f, c, view);
    assert.equal(c.load32(PHYSMAP + a), 0xaaaa, 'cached in the TLB under the view');
    const inval = f.m.snapshot().get('tlb.invalidated', { core: 0 });
    assert.equal(f.hc(c, H.RemapPage, view, a, target), 0);
    assert.ok(f.m.snapshot().get('tlb.invalidated', { core: 0 }) > inval, 'INVEPT ran');
    assert.equal(c.load32(PHYSMAP + a), 0x7777, 'the stale translation is gone');
    assert.equal(eptLookup(f.m, v, a), target);
    assert.equal(eptLookup(f.m, v, a + PAGE_4K), a + PAGE_4K, 'neighbours unchanged');
    assert.equal(eptLookup(f.m, v, a - PAGE_4K), a - PAGE_4K);
    assert.equal(eptLookup(f.m, v, 0x3fff_f000), 0x3fff_f000, 'rest of the split GiB unchanged');
    assert.equal(eptLookup(f.m, rootOf(f.rk.baseEptp), a), a, 'the base is untouched');
    // In the boundary GiB (already 2 MiB pages): one split.
    const b = GIB + 0x123_4000;
    assert.equal(f.hc(c, H.RemapPage, view, b, target), 0);
    assert.equal(eptLookup(f.m, v, b), target);
    assert.equal(eptLookup(f.m, v, b + PAGE_4K), b + PAGE_4K);
  });

  it('RemapPage errors: no such view, the base, unaligned, outside guest RAM', () => {
    const { f, c } = boot();
    const view = f.hc(c, H.CreateView);
    const ram = f.rk.guestBytes;
    assert.equal(f.hc(c, H.RemapPage, 7, 0, 0), E.NoSuchView);
    assert.equal(f.hc(c, H.RemapPage, 5000, 0, 0), E.NoSuchView);
    assert.equal(f.hc(c, H.RemapPage, 0, 0, PAGE_4K), E.BaseViewImmutable);
    assert.equal(f.hc(c, H.RemapPage, view, 0x1001, 0), E.Unaligned);
    assert.equal(f.hc(c, H.RemapPage, view, 0, 0x800), E.Unaligned);
    assert.equal(f.hc(c, H.RemapPage, view, ram, 0), E.OutsideRam);
    assert.equal(f.hc(c, H.RemapPage, view, 0, ram + PAGE_4K), E.OutsideRam);
    assert.equal(eptLookup(f.m, rootOf(f.rk.eptpOf(view)!), 0), 0, 'nothing changed');
  });

  it('DestroyView frees a view; refuses the base, unknown ids and views in use', () => {
    const { f, c } = boot();
    const view = f.hc(c, H.CreateView);
    assert.equal(f.hc(c, H.DestroyView, 0), E.BaseViewImmutable);
    assert.equal(f.hc(c, H.DestroyView, 9), E.NoSuchView);
    // In an EPTP list, then current on the core: in use.
    switchTo(f, c, view);
    assert.equal(f.hc(c, H.DestroyView, view), E.ViewInUse, 'current EPTP');
    c.regs.set(R.RAX, 0);
    c.regs.set(R.RCX, 0);
    vmfunc(c, f.site.kvmfunc);
    assert.equal(f.hc(c, H.DestroyView, view), E.ViewInUse, 'still in the list');
    c.store64(PHYSMAP + f.rk.eptpListGpa(c)! + 8, 0);
    assert.equal(f.hc(c, H.DestroyView, view), 0);
    assert.equal(f.hc(c, H.EptpValue, view), E.NoSuchView);
    assert.equal(f.hc(c, H.DestroyView, view), E.NoSuchView);
    assert.equal(f.rk.eptpOf(view), undefined);
  });

  it('DestroyView keeps the root frame until every other core has invalidated it', () => {
    const { f, c } = boot();
    const c1 = f.m.core(1);
    const view = f.hc(c, H.CreateView);
    const old = f.rk.eptpOf(view)!;
    assert.equal(f.hc(c, H.DestroyView, view), 0);
    const again = f.hc(c, H.CreateView);
    assert.equal(again, view, 'the id is reused');
    assert.notEqual(f.rk.eptpOf(again), old, 'but not the root: core 1 has not invalidated');
    // Core 1's next exit runs its pending INVEPT (one more instruction than a plain exit).
    const rootInstr = (): number =>
      f.m.snapshot().get('instructions', { core: 1, mode: Mode.VmxRoot });
    const i0 = rootInstr();
    f.hc(c1, H.EptpValue, 0);
    const i1 = rootInstr();
    f.hc(c1, H.EptpValue, 0);
    assert.equal(i1 - i0, rootInstr() - i1 + 1, 'one INVEPT on core 1');
    const third = f.hc(c, H.CreateView);
    assert.equal(third, view + 1);
    assert.equal(f.rk.eptpOf(third), old, 'now the root frame is reused');
  });

  it('MapEptpList maps the core list in the base and every view, present and future', () => {
    const { f, c } = boot();
    const c1 = f.m.core(1);
    const w = f.rk.guestBytes;
    const early = f.hc(c, H.CreateView);
    assert.equal(f.hc(c, H.MapEptpList, w + 0x800), E.Unaligned);
    assert.equal(f.hc(c, H.MapEptpList, w - PAGE_4K), E.OutsideWindow);
    assert.equal(f.hc(c, H.MapEptpList, w + 2 * MIB), E.OutsideWindow);
    assert.equal(f.hc(c, H.MapEptpList, w + 5 * PAGE_4K), 0);
    assert.equal(f.hc(c, H.MapEptpList, w + 6 * PAGE_4K), E.AlreadyMapped, 'this core: once');
    assert.equal(f.hc(c1, H.MapEptpList, w + 5 * PAGE_4K), E.AlreadyMapped, 'taken by core 0');
    assert.equal(f.hc(c1, H.MapEptpList, w), 0);
    const late = f.hc(c, H.CreateView);
    const [l0, l1] = f.rk.eptpLists;
    for (const eptp of [f.rk.baseEptp, f.rk.eptpOf(early)!, f.rk.eptpOf(late)!]) {
      assert.equal(eptLookup(f.m, rootOf(eptp), w + 5 * PAGE_4K), l0);
      assert.equal(eptLookup(f.m, rootOf(eptp), w), l1);
      assert.equal(eptLookup(f.m, rootOf(eptp), w + PAGE_4K), -1, 'nothing else in the window');
    }
    // The Subkernel writes its entries itself; they land in the list the VMCS points at.
    c.store64(PHYSMAP + w + 5 * PAGE_4K + 16, f.hc(c, H.EptpValue, late));
    assert.equal(f.m.mem.read32(c.vmcs!.eptpListAddress + 16), f.rk.eptpOf(late)! % 2 ** 32);
  });

  it('BindClientServer, SetUpcall, EptpValue and unknown calls: their errors', () => {
    const { f, c } = boot();
    const ram = f.rk.guestBytes;
    assert.equal(f.hc(c, H.BindClientServer, 0x1008, 0x2000), E.Unaligned);
    assert.equal(f.hc(c, H.BindClientServer, 0x1000, ram), E.OutsideRam);
    assert.equal(f.hc(c, H.SetUpcall, 0), E.InvalidArgument);
    assert.equal(f.hc(c, H.SetUpcall, 2 ** 48), E.InvalidArgument);
    assert.equal(f.hc(c, H.EptpValue, 0), f.rk.baseEptp);
    assert.equal(f.hc(c, H.EptpValue, 1000), E.NoSuchView);
    assert.equal(f.hc(c, H.EptpValue, -1), E.NoSuchView);
    assert.equal(f.hc(c, 0), E.UnknownCall);
    assert.equal(f.hc(c, 99), E.UnknownCall);
    assert.equal(f.rk.upcallEntry, 0);
  });
});
