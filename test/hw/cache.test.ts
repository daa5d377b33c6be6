// The data and instruction caches: SetAssocCache's set indexing and true-LRU replacement,
// and the MemoryHierarchy's latencies, hit/miss counters and write-invalidate coherence.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SetAssocCache } from '../../src/hw/cache.ts';
import { C, COUNTER_COUNT } from '../../src/hw/counters.ts';
import { AccessKind, MemoryHierarchy } from '../../src/hw/memory-hierarchy.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';

const LINE = 64;

test('SetAssocCache: sets = size / (ways × line); the set is the line number modulo sets', () => {
  const c = new SetAssocCache('c', {
    sizeBytes: 4 * 2 * LINE,
    ways: 2,
    lineBytes: LINE,
    latency: 3,
  });
  assert.equal(c.sets, 4);
  assert.equal(c.ways, 2);
  assert.equal(c.latency, 3);
  // Lines 1, 5 and 9 share set 1; line 2 does not.
  assert.equal(c.fill(1, 0), -1);
  assert.equal(c.fill(5, 0), -1);
  assert.equal(c.fill(2, 0), -1, 'set 2 has room');
  assert.equal(c.fill(9, 0), 1, 'set 1 is full: the LRU line 1 goes');
  assert.deepEqual(
    [1, 2, 5, 9].map((l) => c.contains(l)),
    [false, true, true, true],
  );
  assert.equal(c.occupancy(), 3);
});

test('SetAssocCache: true LRU — fill a set, touch one line, the victim is the least recently used', () => {
  const p = { sizeBytes: 16 * 4 * LINE, ways: 4, lineBytes: LINE, latency: 4 };
  const c = new SetAssocCache('c', p);
  const set = [3, 19, 35, 51]; // all in set 3 of 16
  for (const l of set) assert.equal(c.fill(l, 7), -1);
  assert.equal(c.lookup(3), true); // order now 19, 35, 51, 3
  assert.equal(c.lookup(35), true); // 19, 51, 3, 35
  assert.equal(c.fill(67, 7), 19);
  assert.equal(c.fill(83, 7), 51);
  assert.equal(c.fill(99, 7), 3);
  assert.equal(c.fill(115, 7), 35);
  assert.equal(c.lookup(19), false, 'a miss does not refresh anything');
  // contains() does not touch the LRU state: 67 stays the oldest.
  assert.equal(c.contains(67), true);
  assert.equal(c.fill(131, 7), 67);
  // An invalidated way is refilled first.
  assert.equal(c.invalidate(99), true);
  assert.equal(c.invalidate(99), false);
  assert.equal(c.fill(147, 7), -1);
  assert.equal(c.contains(83), true);
});

function ctr(): Float64Array {
  return new Float64Array(COUNTER_COUNT);
}

test('MemoryHierarchy: first access costs the DRAM latency, then L1; counters exact', () => {
  const h = new MemoryHierarchy(SKYLAKE, 1);
  const k = ctr();
  const lat = SKYLAKE.caches;
  assert.equal(h.access(0, 0x1234, AccessKind.Load, 0, k), lat.dramLatency);
  assert.equal(h.access(0, 0x1238, AccessKind.Load, 0, k), lat.l1d.latency, 'same line');
  assert.equal(h.access(0, 0x1234, AccessKind.Store, 0, k), lat.l1d.latency);
  assert.equal(h.access(0, 0x1240, AccessKind.Load, 0, k), lat.dramLatency, 'next line');
  assert.equal(h.access(0, 0x1234, AccessKind.Fetch, 0, k), lat.l2.latency, 'L1I miss, L2 hit');
  assert.equal(h.access(0, 0x1234, AccessKind.Fetch, 0, k), lat.l1i.latency);
  assert.deepEqual(
    [C.l1dHit, C.l1dMiss, C.l1iHit, C.l1iMiss, C.l2Hit, C.l2Miss, C.llcHit, C.llcMiss].map(
      (i) => k[i],
    ),
    [2, 2, 1, 1, 1, 2, 0, 2],
  );
  assert.equal(
    k[C.memCycles],
    3 * lat.dramLatency - lat.dramLatency + 2 * lat.l1d.latency + lat.l2.latency + lat.l1i.latency,
  );
});

test('MemoryHierarchy: a line evicted from L1 is served by L2, one evicted from L2 too by the LLC', () => {
  const h = new MemoryHierarchy(SKYLAKE, 1);
  const k = ctr();
  const lat = SKYLAKE.caches;
  // L1D: 64 sets × 8 ways; L2: 1024 sets × 4 ways; LLC: 8192 sets × 16 ways.
  // Lines 4096 bytes apart share an L1D set but not an L2 set: 9 of them push the first
  // out of L1 only.
  for (let i = 0; i < 9; i++) h.access(0, i * 4096, AccessKind.Load, 0, k);
  assert.equal(h.access(0, 0, AccessKind.Load, 0, k), lat.l2.latency);
  // Lines 64 KiB apart share an L1D set and an L2 set but not an LLC set.
  const base = 0x100_0000;
  for (let i = 0; i < 9; i++) h.access(0, base + i * 0x1_0000, AccessKind.Load, 0, k);
  assert.equal(h.access(0, base, AccessKind.Load, 0, k), lat.llc.latency);
  // Now in every level again.
  assert.equal(h.access(0, base, AccessKind.Load, 0, k), lat.l1d.latency);
  assert.equal(k[C.llcMiss], 18);
  assert.equal(k[C.llcHit], 1);
  assert.equal(k[C.l2Hit], 1);
  assert.equal(k[C.l1dHit], 1);
});

test('MemoryHierarchy: a store invalidates the line in every other core’s private caches (write-invalidate), counted once per core', () => {
  const h = new MemoryHierarchy(SKYLAKE, 3);
  const k0 = ctr();
  const k1 = ctr();
  const lat = SKYLAKE.caches;
  h.access(1, 0x4000, AccessKind.Load, 0, k1);
  h.access(1, 0x4000, AccessKind.Fetch, 0, k1);
  h.access(2, 0x4000, AccessKind.Load, 0, k1);
  assert.equal(h.access(1, 0x4000, AccessKind.Load, 0, k1), lat.l1d.latency);
  h.access(0, 0x4010, AccessKind.Store, 0, k0);
  assert.equal(k0[C.coherenceInvalidations], 2, 'cores 1 and 2');
  assert.equal(h.cores[1]!.l1d.contains(0x4000 / LINE), false);
  assert.equal(h.cores[1]!.l1i.contains(0x4000 / LINE), false);
  assert.equal(h.cores[1]!.l2.contains(0x4000 / LINE), false);
  assert.equal(h.llc.contains(0x4000 / LINE), true);
  assert.equal(h.access(1, 0x4000, AccessKind.Load, 0, k1), lat.llc.latency);
  // A load does not invalidate; a store by the only holder invalidates nothing.
  const before = k0[C.coherenceInvalidations]!;
  h.access(0, 0x8000, AccessKind.Store, 0, k0);
  h.access(0, 0x8000, AccessKind.Load, 0, k0);
  assert.equal(k0[C.coherenceInvalidations], before);
});

test('MemoryHierarchy.flushAll empties every level of every core and the LLC', () => {
  const h = new MemoryHierarchy(SKYLAKE, 2);
  const k = ctr();
  for (const core of [0, 1]) {
    h.access(core, 0x1000 * (core + 1), AccessKind.Load, 0, k);
    h.access(core, 0x9000, AccessKind.Fetch, 0, k);
  }
  assert.ok(h.llc.occupancy() > 0);
  h.flushAll();
  for (const c of h.cores) {
    assert.deepEqual([c.l1i.occupancy(), c.l1d.occupancy(), c.l2.occupancy()], [0, 0, 0]);
  }
  assert.equal(h.llc.occupancy(), 0);
  assert.equal(h.access(0, 0x1000, AccessKind.Load, 0, k), SKYLAKE.caches.dramLatency);
});

test('SetAssocCache remembers which owner filled a line', () => {
  const c = new SetAssocCache('c', { sizeBytes: 2 * LINE, ways: 2, lineBytes: LINE, latency: 1 });
  c.fill(0, 3);
  c.fill(1, 5);
  assert.deepEqual(Array.from(c.fillOwner), [3, 5]);
});

test('eviction records: who filled the line that was evicted, and who evicted it', async () => {
  const { MemoryHierarchy, EvictionLog, AccessKind } =
    await import('../../src/hw/memory-hierarchy.ts');
  const { SKYLAKE } = await import('../../src/hw/profile.ts');
  const h = new MemoryHierarchy(SKYLAKE, 1);
  const log = new EvictionLog();
  h.evictions = log;
  const ctr = new Float64Array(64);
  const sets = 64; // L1D: 32 KiB / (8 × 64)
  // Owner 1 fills all 8 ways of set 0 with data; owner 2 fetches code into L1I (no L1D
  // conflict), then loads a ninth line into set 0 of L1D.
  for (let w = 0; w < 8; w++) h.access(0, w * sets * 64, AccessKind.Load, 1, ctr);
  h.access(0, 8 * sets * 64, AccessKind.Load, 2, ctr);
  const l1d = log.entries().filter((e) => e.level === 1);
  assert.deepEqual(l1d, [
    { level: 1, victim: 1, victimFetch: 0, evictor: 2, evictorFetch: 0, count: 1 },
  ]);
});
