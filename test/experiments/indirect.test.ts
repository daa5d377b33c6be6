import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measureIndirect } from '../../src/experiments/indirect.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';

test("with PCIDs, an IPC flushes none of the client's TLB entries; without, every page of its working set misses again", () => {
  const on = measureIndirect(SKYLAKE, 16 << 10, true);
  assert.equal(on.extra['tlb.miss.data'], 0);
  const off = measureIndirect(SKYLAKE, 16 << 10, false);
  assert.equal(
    off.extra['tlb.miss.data'],
    4,
    'four 4 KiB pages walk again after each flushing CR3 write',
  );
  assert.ok(off.userCyclesWith > on.userCyclesWith);
});

test("a working set near the L1D size loses lines to the kernel's data on every IPC, and the records say so", () => {
  const r = measureIndirect(SKYLAKE, 32 << 10, true);
  assert.ok(r.extra['l1d.miss']! > 0);
  assert.ok((r.evictedBy['L1D by kernel data'] ?? 0) > 0, JSON.stringify(r.evictedBy));
  assert.ok(r.userCyclesWith - r.userCyclesWithout > 0);
});

test('a small working set is not disturbed: no extra misses, no extra cycles', () => {
  const r = measureIndirect(SKYLAKE, 4 << 10, true);
  assert.equal(r.userCyclesWith, r.userCyclesWithout);
  assert.equal(r.extra['l1d.miss'], 0);
});

test('the same measurement runs on Fiasco.OC and Zircon: small working sets undisturbed, one near the L1D size loses lines', () => {
  for (const kernel of ['Fiasco.OC', 'Zircon'] as const) {
    const small = measureIndirect(SKYLAKE, 4 << 10, true, { kernel, skybridge: false });
    assert.equal(small.extra['tlb.miss.data'], 0, kernel);
    const near = measureIndirect(SKYLAKE, 32 << 10, true, { kernel, skybridge: false });
    assert.ok(near.extra['l1d.miss']! > 0, kernel);
  }
});
