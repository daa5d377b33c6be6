// The mechanisms the temporal experiment's figures rest on, as machine code on seL4 with
// SkyBridge: a handler's work shows in its client's latency; a timer tick inside a handler
// returns the thread to the server's view; the server's budget ends a call between (B − 1)
// and B tick periods after it began, counts per call (back-to-back short calls are never
// ended), and cannot be restarted by the server; a handler's time comes out of its client's
// slice; a fast client is answered Busy exactly when the slow ones hold every stack.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKYLAKE } from '../../src/hw/profile.ts';
import {
  backToBack,
  budgetEnds,
  percentile,
  preemption,
  roundCycles,
  slowServer,
  TICK,
  whoseTime,
} from '../../src/experiments/temporal.ts';
import { TemporalScene } from '../../src/experiments/temporal-scene.ts';

const SB_ETIMEOUT = -8;
const round = roundCycles(SKYLAKE);

test('a handler doing N rounds of RDTSC makes each call take at least N × the RDTSC cost', () => {
  const s = new TemporalScene(
    { kernel: 'seL4', cores: 1, tickCycles: TICK, timesliceTicks: 5 },
    SKYLAKE,
    ['server', 'client'],
  );
  const sid = s.server('server', {});
  s.bind('client', sid);
  s.set('client', 'max_calls', 8);
  const rounds = 700;
  const t = s.start('client', 'client_main', [sid, rounds], 0);
  s.run(() => !t.alive);
  const rs = s.requests('client');
  assert.equal(rs.length, 8);
  for (const r of rs) {
    assert.equal(r.status, 0);
    assert.ok(r.value >= rounds * SKYLAKE.ops.rdtsc, `handler ran ${r.value}`);
    assert.ok(r.cycles > r.value, `latency ${r.cycles} ≤ handler ${r.value}`);
  }
});

test('a budget of B ticks ends a call that never returns between (B − 1) and B tick periods after it began', () => {
  for (const b of [1, 3]) {
    const rs = budgetEnds(SKYLAKE, b, 12);
    assert.equal(rs.length, 12);
    for (const r of rs) {
      assert.equal(r.status, SB_ETIMEOUT);
      // Each tick re-arms the timer after its own work (a few hundred cycles), and the
      // unwinding and return take some more.
      assert.ok(r.cycles > (b - 1) * TICK, `B=${b}: ended after ${r.cycles}`);
      assert.ok(r.cycles <= b * (TICK + 700) + 2000, `B=${b}: ended after ${r.cycles}`);
    }
  }
});

test('the budget counts per call: back-to-back calls shorter than (B − 1) periods are never ended, longer than B always', () => {
  assert.equal(backToBack(SKYLAKE, round, 0.8 * TICK, 2, 30), 0);
  assert.equal(backToBack(SKYLAKE, round, 1.6 * TICK, 3, 20), 0);
  assert.equal(backToBack(SKYLAKE, round, 3.5 * TICK, 3, 10), 1);
});

test('a server that rewrites the call word of its own thread block cannot restart its budget', () => {
  const s = new TemporalScene(
    { kernel: 'seL4', cores: 1, tickCycles: TICK, timesliceTicks: 5 },
    SKYLAKE,
    ['server', 'client'],
  );
  const sid = s.server('server', { budgetTicks: 3 }, 'restart_handler');
  s.bind('client', sid);
  s.set('client', 'max_calls', 3);
  const t = s.start('client', 'client_main', [sid, 0], 0);
  s.run(() => !t.alive);
  const rs = s.requests('client');
  assert.equal(rs.length, 3);
  for (const r of rs) {
    assert.equal(r.status, SB_ETIMEOUT);
    assert.ok(r.cycles <= 3 * (TICK + 700) + 2000, `ended after ${r.cycles}`);
  }
});

test('a tick inside a handler returns the thread to the server view, at the cost of the kernel leaving and re-entering it', () => {
  const p = preemption(SKYLAKE, round, 6);
  assert.equal(p.resumed, 1);
  const server = percentile(p.inServer, 50);
  const own = percentile(p.inOwn, 50);
  // At least the kernel's two VMFUNCs more.
  assert.ok(server - own >= 2 * SKYLAKE.ops.vmfunc, `in server ${server}, in own view ${own}`);
});

test("a handler's time comes out of its client's slice: the other thread keeps half the core and waits about one slice", () => {
  // A window of 12 slices: the other thread gets 6 or 7 of them.
  const slices = 12;
  const long = whoseTime(SKYLAKE, round, 60_000, slices * 5 * TICK);
  assert.ok(long.callsPerSlice < 1, `${long.callsPerSlice} calls per slice`);
  assert.ok(Math.abs(long.share - 0.5) < 0.1, `share ${long.share}`);
  assert.ok(long.longestWait < 1.1, `waited ${long.longestWait} slices`);
  const short = whoseTime(SKYLAKE, round, 5_000, slices * 5 * TICK);
  assert.ok(short.callsPerSlice > 5 * long.callsPerSlice, `${short.callsPerSlice} per slice`);
  assert.ok(Math.abs(short.share - 0.5) < 0.1, `share ${short.share}`);
});

test('a fast client is answered Busy while a slow one holds the only stack, and not with a stack to spare', () => {
  const o = { requests: 12 };
  assert.ok(slowServer(SKYLAKE, round, 1, 1, o).busy > 0.9);
  const spare = slowServer(SKYLAKE, round, 1, 2, o);
  assert.equal(spare.busy, 0);
  assert.ok(percentile(spare.latencies, 50) < 3_000);
});
