// eptp-scale's measurement on a small list (the sweep itself is the experiment): no miss while
// the servers touched fit, misses and a higher cost past it, every answer right; and the
// true-LRU comparison it prints.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { lruMisses, measureScale } from '../../src/experiments/eptp-scale.ts';
import { zipf } from '../../src/experiments/eptp-scale-scene.ts';

test('eptp-scale: misses only past the resident slots, and they cost', () => {
  const pts = measureScale(SKYLAKE, { capacity: 3, touched: [1, 3, 6], calls: 60, warmup: 30 });
  assert.equal(pts.length, 6);
  for (const p of pts) {
    assert.equal(p.wrong, 0);
    if (p.touched <= 3) assert.equal(p.missRate, 0, `${p.pattern} ${p.touched}`);
    else assert.ok(p.missRate > 0.2, `${p.pattern} ${p.touched}: ${p.missRate}`);
  }
  const u = (n: number) => pts.find((p) => p.pattern === 'uniform' && p.touched === n)!;
  assert.ok(u(6).mean > u(3).mean && u(3).mean >= u(1).mean);
  assert.ok(u(6).missCost > u(1).mean + 1000, 'a miss costs an exit and a refill');
});

test('lruMisses: what true LRU would miss', () => {
  assert.equal(lruMisses([0, 1], [0, 1, 2, 0], 2), 0.5); // 2 evicts 0, which then misses
  assert.equal(lruMisses([], [0, 0, 0, 0], 1), 0.25);
  const z = zipf(100, 2000, 1);
  assert.ok(lruMisses([], z, 50) < lruMisses([], z, 10));
});
