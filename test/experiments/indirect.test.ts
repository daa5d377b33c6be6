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

test('the measured loop is the machine code between its labels: 3 instructions to set up and 4 per 64-byte line, with or without IPCs', () => {
  const [empty, small] = [0, 4 << 10].map((bytes) => {
    const r = measureIndirect(SKYLAKE, bytes, true);
    assert.equal(r.loopInstructions, 3 + 4 * (bytes / 64), `W = ${bytes}`);
    assert.equal(r.extra['instructions'], 0, 'the IPC adds no instruction to the loop');
    return r;
  });
  assert.ok(small!.userCyclesWithout > empty!.userCyclesWithout);
  assert.equal(empty!.userCyclesWith, empty!.userCyclesWithout, 'nothing to disturb');
  assert.ok(empty!.direct > 0, 'the round trip itself costs cycles outside the loop');
});

test("a working set near the L1D size loses lines to the kernel's data on every IPC, and the records say so; a small one loses at most the line it shares with page-aligned objects", () => {
  const near = measureIndirect(SKYLAKE, 32 << 10, true);
  assert.ok(near.extra['l1d.miss']! > 0);
  assert.ok((near.evictedBy['L1D by kernel data'] ?? 0) > 0, JSON.stringify(near.evictedBy));
  assert.ok(near.userCyclesWith - near.userCyclesWithout > 0);
  // 4 KiB fills each of the L1D's 64 sets once; only set 0, where the client's first line
  // meets the page-aligned TCBs, globals and kernel objects, can overflow.
  const small = measureIndirect(SKYLAKE, 4 << 10, true);
  assert.ok(small.extra['l1d.miss']! <= 1, JSON.stringify(small.extra));
  assert.ok(near.extra['l1d.miss']! >= 10 * small.extra['l1d.miss']!);
});

test('the same measurement runs on Fiasco.OC and Zircon: small working sets keep their TLB entries, one near the L1D size loses lines', () => {
  for (const kernel of ['Fiasco.OC', 'Zircon'] as const) {
    const small = measureIndirect(SKYLAKE, 4 << 10, true, { kernel, skybridge: false });
    assert.equal(small.extra['tlb.miss.data'], 0, kernel);
    const near = measureIndirect(SKYLAKE, 32 << 10, true, { kernel, skybridge: false });
    assert.ok(near.extra['l1d.miss']! > 0, kernel);
  }
});

test("SkyBridge: no kernel on the path, so only the server evicts the client's lines, and fewer than seL4's own IPC", () => {
  const sb = measureIndirect(SKYLAKE, 32 << 10, true, { kernel: 'seL4', skybridge: true });
  const native = measureIndirect(SKYLAKE, 32 << 10, true);
  assert.deepEqual(
    Object.keys(sb.evictedBy).filter((k) => !k.endsWith('by server')),
    [],
    JSON.stringify(sb.evictedBy),
  );
  assert.ok(sb.extra['l1d.miss']! < native.extra['l1d.miss']!);
  assert.ok(sb.direct < native.direct);
});
