// The base EPT's page size (RootkernelConfig.eptPages, ept.ts): what it builds, and how deep
// a two-dimensional walk goes with nothing cached. SDM Vol. 3C §29.3.2: every guest paging
// entry's guest-physical address and the final one are translated through the EPT, whose
// walk ends at a 1 GiB leaf (PDPTE: 2 reads), a 2 MiB leaf (PDE: 3) or a 4 KiB leaf (PTE:
// 4); with 4 guest levels that is 4 × (e + 1) + e references. A translation is cached at
// the smaller of its guest and EPT page sizes (§29.4.2).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PAGE_1G, PAGE_2M, PAGE_4K, PageSize } from '../../src/hw/addr.ts';
import { C } from '../../src/hw/counters.ts';
import { Access } from '../../src/hw/translation-state.ts';
import { computeLayout, type EptPages } from '../../src/rootkernel/layout.ts';
import { Fixture, PHYSMAP, USER_DATA, readEntry } from './fixture.ts';

const EPT_LEVELS: Record<EptPages, number> = { '1g': 2, '2m': 3, '4k': 4 };
const fixtures = new Map<EptPages, Fixture>();
const fixture = (eptPages: EptPages): Fixture => {
  let f = fixtures.get(eptPages);
  if (f === undefined) {
    f = new Fixture({ cores: 1, rk: { eptPages } });
    f.launch(f.m.core(0));
    fixtures.set(eptPages, f);
  }
  return f;
};

/** One cold translation of `la` on core 0, with the walk caches off: references and the
 *  size of the TLB entry it fills. */
function coldWalk(f: Fixture, la: number): { guest: number; ept: number; size: PageSize } {
  const c = f.m.core(0);
  f.m.coldStart();
  c.mmu.walker.useWalkCaches = false;
  const g0 = c.ctr[C.walkRefsGuest]!;
  const e0 = c.ctr[C.walkRefsEpt]!;
  c.translateOrTrap(la, Access.Read);
  return {
    guest: c.ctr[C.walkRefsGuest]! - g0,
    ept: c.ctr[C.walkRefsEpt]! - e0,
    size: c.mmu.walker.leafSize,
  };
}

describe('base EPT page size', () => {
  it('rejects a page size it does not know', () => {
    assert.throws(
      () => computeLayout(2 * PAGE_1G, { eptPages: '8k' as EptPages }),
      /eptPages 8k: one of 1g, 2m, 4k/,
    );
  });

  it('maps guest RAM 1:1 with leaves of the chosen size, and nothing above it', () => {
    for (const pages of ['2m', '4k'] as const) {
      const f = fixture(pages);
      const m = f.m;
      const root = f.rk.baseEptp - (f.rk.baseEptp % PAGE_4K);
      const entry = (t: number, gpa: number, span: number): number =>
        readEntry(m, t + (Math.floor(gpa / span) % 512) * 8);
      const next = (v: number): number => v - (v % PAGE_4K);
      for (const gpa of [0, 0x1234_5000, f.rk.guestBytes - PAGE_4K]) {
        const pdpte = entry(next(entry(root, gpa, 512 * PAGE_1G)), gpa, PAGE_1G);
        assert.equal(pdpte & 0x80, 0, 'no 1 GiB leaf');
        const pde = entry(next(pdpte), gpa, PAGE_2M);
        if (pages === '2m') {
          assert.equal(pde & 0x87, 0x87, `${gpa.toString(16)}: a 2 MiB leaf, RWX`);
          assert.equal(next(pde), gpa - (gpa % PAGE_2M));
        } else {
          assert.equal(pde & 0x80, 0);
          const pte = entry(next(pde), gpa, PAGE_4K);
          assert.equal(pte & 7, 7, `${gpa.toString(16)}: a 4 KiB leaf, RWX`);
          assert.equal((pte >> 3) & 7, 6, 'write-back');
          assert.equal(next(pte), gpa - (gpa % PAGE_4K));
        }
      }
      const above = f.rk.guestBytes;
      const pdpte = entry(next(entry(root, above, 512 * PAGE_1G)), above, PAGE_1G);
      const pde = entry(next(pdpte), above, PAGE_2M);
      assert.equal(pde & 7, 0, 'the Rootkernel region is not mapped');
    }
  });

  for (const pages of ['1g', '2m', '4k'] as const)
    it(`${pages} EPT pages: a cold 2-D walk makes 4 × (e + 1) + e references, e = ${EPT_LEVELS[pages]}, and caches at most the EPT's page size`, () => {
      const f = fixture(pages);
      const e = EPT_LEVELS[pages];
      // The kernel's direct map (1 GiB guest pages), read at CPL 0: cached as 1 GiB only
      // over 1 GiB EPT pages.
      const k = coldWalk(f, PHYSMAP + 0x30_0000);
      assert.deepEqual(
        [k.guest, k.ept],
        [2, 3 * e],
        'PML4E and PDPTE, each and the page via the EPT',
      );
      assert.equal(
        k.size,
        { '1g': PageSize.Size1G, '2m': PageSize.Size2M, '4k': PageSize.Size4K }[pages],
      );
      // A 4 KiB user page at CPL 3.
      f.toUser(f.m.core(0));
      const u = coldWalk(f, USER_DATA);
      assert.deepEqual([u.guest, u.ept], [4, 5 * e]);
      assert.equal(u.guest + u.ept, { '1g': 14, '2m': 19, '4k': 24 }[pages]);
      assert.equal(u.size, PageSize.Size4K);
    });
});
