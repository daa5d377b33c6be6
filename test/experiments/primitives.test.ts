import { test } from 'node:test';
import assert from 'node:assert/strict';
import { primitives } from '../../src/experiments/primitives.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import type { ResultRow } from '../../src/experiments/experiment.ts';

const result = primitives.run({ profile: SKYLAKE });
const row = (m: string, unit = 'cycles'): ResultRow => {
  const r = result.rows.find((x) => x.measurement.startsWith(m) && x.unit === unit);
  assert.ok(r, `row '${m}' (${unit})`);
  return r;
};

// The rows with the paper's Table 1 figures are calibrated (the profile takes VMFUNC and CR3
// from them and derives SWAPGS and the no-flush CR3 write from the system-call figures), so
// they are checked for their mechanism and their label, never against the figure itself.
test("Table 1 rows are labelled calibrated: the profile's figures came from them", () => {
  for (const m of [
    'VMFUNC',
    'MOV to CR3, PCID off',
    'no-op system call, KPTI off',
    'no-op system call, KPTI on',
  ]) {
    assert.equal(row(m).basis, 'calibrated', m);
    assert.ok(row(m).reference !== undefined, m);
  }
});

test('VMFUNC and a flushing CR3 write cost their profile figures when warm', () => {
  assert.equal(row('VMFUNC').value, SKYLAKE.ops.vmfunc);
  assert.equal(row('MOV to CR3, PCID off').value, SKYLAKE.ops.movCr3);
});

test('a no-op system call is the sum of its parts, without and with KPTI', () => {
  const off = row('no-op system call, KPTI off').value;
  const on = row('no-op system call, KPTI on').value;
  // Composition: SYSCALL + 2 SWAPGS + the dispatch (CMP, a JAE not taken, XOR: two ALU
  // operations and a branch at the table's costs) + SYSRET.
  const o = SKYLAKE.ops;
  const i = SKYLAKE.insn;
  assert.equal(off, o.syscall + 2 * o.swapgs + (2 * i.alu + i.branch) + o.sysret);
  // KPTI, each way: MOV from CR3 (charged as an ALU operation), AND or OR, BTS (bits).
  assert.equal(on, off + 2 * (o.movCr3NoFlush + 2 * i.alu + i.bits));
});

test('a no-flush CR3 write invalidates nothing; a flushing one invalidates what was cached', () => {
  assert.equal(row('MOV to CR3, PCID on, bit 63 set').value, SKYLAKE.ops.movCr3NoFlush);
  assert.match(row('MOV to CR3, PCID on, bit 63 set').note ?? '', /invalidates 0 entries/);
  assert.doesNotMatch(row('MOV to CR3, PCID off').note ?? '', /invalidates 0 /);
});

test('VM exit + entry round trip is exit + handler + entry', () => {
  const o = SKYLAKE.ops;
  // The handler: two VMREADs and a VMWRITE (charged as ALU operations), CMP, ADD.
  assert.equal(row('VM exit + VM entry').value, o.vmExit + 5 * SKYLAKE.insn.alu + o.vmEntry);
});

test('walk references: 4 native, 24 with 4 KiB EPT, 14 with 1 GiB EPT when nothing is cached', () => {
  assert.equal(row('TLB-miss walk, no EPT, nothing cached', 'references').value, 4);
  assert.equal(row('TLB-miss walk, 4 KiB EPT, nothing cached', 'references').value, 24);
  assert.equal(row('TLB-miss walk, 1 GiB EPT, nothing cached', 'references').value, 14);
  // Caches cold at the start: the first touch of each line comes from DRAM, entries the
  // walk re-reads (upper EPT levels, neighbouring entries) hit.
  const t = SKYLAKE.tlb.l1Latency + SKYLAKE.tlb.stlbLatency;
  const cases = [
    ['TLB-miss walk, no EPT, nothing cached', 4, 4],
    ['TLB-miss walk, 4 KiB EPT, nothing cached', 24, 10],
    ['TLB-miss walk, 1 GiB EPT, nothing cached', 14, 6],
  ] as const;
  for (const [m, refs, dram] of cases) {
    const r = row(m);
    assert.match(r.note ?? '', new RegExp(`: ${dram} references from DRAM`));
    const l1 = SKYLAKE.caches.l1d.latency;
    assert.equal(r.value, t + dram * SKYLAKE.caches.dramLatency + (refs - dram) * l1, m);
  }
});

test('the experiment is deterministic: a second run gives identical rows', () => {
  assert.deepEqual(primitives.run({ profile: SKYLAKE }).rows, result.rows);
});

test('a different profile changes the measured figures (nothing is a constant)', () => {
  const p = structuredClone(SKYLAKE);
  p.ops.vmfunc = 200;
  p.caches.dramLatency = 300;
  const r = primitives.run({ profile: p });
  assert.equal(r.rows.find((x) => x.measurement.startsWith('VMFUNC'))!.value, 200);
  const walk = (rows: ResultRow[]): ResultRow =>
    rows.find(
      (x) => x.measurement === 'TLB-miss walk, 4 KiB EPT, nothing cached' && x.unit === 'cycles',
    )!;
  const dram = Number(/(\d+) references from DRAM/.exec(walk(result.rows).note ?? '')![1]);
  assert.equal(
    walk(r.rows).value - walk(result.rows).value,
    dram * (300 - SKYLAKE.caches.dramLatency),
  );
});
