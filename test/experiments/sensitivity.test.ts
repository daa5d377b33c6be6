// The sensitivity experiment's profile scaling, and what one scaled parameter does.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { scaled, SENSITIVE } from '../../src/experiments/sensitivity.ts';
import { runSkyBridgeBench } from '../../src/experiments/skybridge-bench.ts';

test('scaled() changes exactly the named field of a copy, and refuses names that are not numbers', () => {
  const p = scaled(SKYLAKE, 'caches.l2.latency', 1.25);
  assert.equal(p.caches.l2.latency, 15);
  assert.equal(SKYLAKE.caches.l2.latency, 12, 'the original is untouched');
  assert.deepEqual({ ...p, caches: SKYLAKE.caches }, SKYLAKE);
  for (const s of SENSITIVE) assert.doesNotThrow(() => scaled(SKYLAKE, s.name, 2), s.name);
  assert.throws(() => scaled(SKYLAKE, 'ops.nothing', 2), /not a number/);
  assert.throws(() => scaled(SKYLAKE, 'name', 2), /not a number/);
});

test('VMFUNC 25 % dearer costs a SkyBridge round trip exactly two VMFUNCs’ difference', () => {
  const c = { bytes: 0, kpti: false, pcid: true, runs: 8 };
  const base = runSkyBridgeBench(SKYLAKE, c).roundTrip;
  const dear = runSkyBridgeBench(scaled(SKYLAKE, 'ops.vmfunc', 1.25), c).roundTrip;
  assert.equal(dear - base, 2 * 0.25 * SKYLAKE.ops.vmfunc);
});
