// worst-cases' measurements, small: a switch without PCIDs costs the next call more than one
// with them, more views and deeper chains cost more per call, a call finding every stack busy
// is refused (SB_EBUSY) and costs little; without VPID the switch case makes no VM exit and
// costs the same.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKYLAKE } from '../../src/hw/profile.ts';
import {
  measureBusy,
  measureChain,
  measureSwitch,
  measureViews,
} from '../../src/experiments/worst-cases.ts';

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('worst-cases: the first call after a switch, with and without PCIDs', () => {
  const on = measureSwitch(SKYLAKE, 2, true, 3);
  const off = measureSwitch(SKYLAKE, 2, false, 3);
  assert.equal(on.afterSwitch.length, 6);
  assert.ok(mean(off.afterSwitch) > mean(on.afterSwitch));
  assert.ok(mean(on.afterSwitch) > mean(on.warm));
});

test('worst-cases: without VPID the turns make no VM exit, so nothing more is flushed', () => {
  const on = measureSwitch(SKYLAKE, 2, false, 2);
  const off = measureSwitch(SKYLAKE, 2, false, 2, false);
  assert.equal(off.vpid, false);
  assert.equal(off.turns, 6);
  assert.equal(off.vmExits, 0);
  assert.ok(off.setupExits > 0, 'the hypercalls at setup exit');
  assert.equal(off.setupVmcalls, off.setupExits);
  assert.deepEqual(off.afterSwitch, on.afterSwitch);
  assert.deepEqual(off.warm, on.warm);
});

test('worst-cases: views, chains, busy', () => {
  assert.ok(mean(measureViews(SKYLAKE, 8, 2)) > mean(measureViews(SKYLAKE, 1, 2)));
  const c1 = mean(measureChain(SKYLAKE, 1, 2));
  const c3 = mean(measureChain(SKYLAKE, 3, 2));
  assert.ok(c3 > 3 * c1 * 0.9, `${c1} ${c3}`);
  const b = measureBusy(SKYLAKE, 10);
  assert.ok(b.busy.length > 0);
  assert.ok(mean(b.busy) < 1000);
});
