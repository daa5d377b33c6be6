// Experiment multicore's mechanisms, on small call counts: a server thread per core (and
// SkyBridge) scales with the client cores; a single-threaded server on its own core
// serialises them, paying an IPI each way for a lone client and one per call once busy; the
// same on Fiasco.OC, and on Zircon what a server thread per core still shares.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { runEcho } from '../../src/experiments/multicore-stack.ts';
import { multicore } from '../../src/experiments/multicore.ts';
import { resultsDocumentSchema } from '../../src/report/schema.ts';

const CALLS = 30;

test('a server thread per core: 4 clients on 4 cores make 4× the calls of one in the same time (within 10 %)', () => {
  const one = runEcho(SKYLAKE, 'per-core', 1, CALLS);
  const four = runEcho(SKYLAKE, 'per-core', 4, CALLS);
  const ratio = four.callsPerSecond / one.callsPerSecond;
  assert.ok(ratio > 4 * 0.9 && ratio < 4 * 1.05, `per-core scaling ${ratio.toFixed(2)}×`);
  assert.equal(four.ipisPerCall, 0, 'same-core IPC sends no IPI');
  assert.equal(four.latencies.length, 4);
  for (const l of four.latencies) assert.equal(l.length, CALLS);
});

test('SkyBridge: 4 clients make 4× the calls of one (within 10 %), with no IPI and no kernel on the path', () => {
  const one = runEcho(SKYLAKE, 'skybridge', 1, CALLS);
  const four = runEcho(SKYLAKE, 'skybridge', 4, CALLS);
  const ratio = four.callsPerSecond / one.callsPerSecond;
  assert.ok(ratio > 4 * 0.9 && ratio < 4 * 1.05, `SkyBridge scaling ${ratio.toFixed(2)}×`);
  assert.equal(four.ipisPerCall, 0);
  const sb = Math.max(...four.latencies.flat());
  const native = runEcho(SKYLAKE, 'per-core', 4, CALLS);
  assert.ok(
    sb < Math.min(...native.latencies.flat()),
    'every SkyBridge call beats every native one',
  );
});

test('a single-threaded server on its own core serialises: throughput does not grow from 4 to 8 cores', () => {
  const lone = runEcho(SKYLAKE, 'single', 1, CALLS);
  assert.equal(
    lone.ipisPerCall,
    2,
    'a lone client: an IPI to wake the server, one to wake it back',
  );
  const four = runEcho(SKYLAKE, 'single', 4, CALLS);
  const eight = runEcho(SKYLAKE, 'single', 8, CALLS);
  assert.ok(
    eight.callsPerSecond < four.callsPerSecond * 1.05,
    `${eight.callsPerSecond} vs ${four.callsPerSecond}`,
  );
  assert.ok(eight.ipisPerCall <= 1.01, 'a busy server is not woken: only the reply sends one');
  // Each client waits for the others in line: latency doubles with twice the clients.
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const r = mean(eight.latencies.flat()) / mean(four.latencies.flat());
  assert.ok(r > 1.8 && r < 2.2, `latency ratio ${r.toFixed(2)}`);
});

test('reproduce multicore --quick: rows valid against the schema, a speed-up per baseline per kernel', () => {
  const res = multicore.run({ profile: SKYLAKE, quick: true });
  assert.ok(resultsDocumentSchema.shape.experiments.element.safeParse(res).success);
  const ids = new Set(res.rows.map((r) => r.id));
  assert.equal(ids.size, res.rows.length, 'ids are unique');
  const speedups = res.rows.filter((r) => r.metric === 'speedup');
  // Two baselines on seL4 and Fiasco.OC, one on Zircon (--quick: two client cores only).
  assert.equal(speedups.length, 2 + 2 + 1);
  for (const s of speedups) assert.ok(s.value > 1, s.id);
  assert.ok(ids.has('multicore.sel4.native.p99.cores-2.server-single'));
  assert.ok(ids.has('multicore.fiasco.native.p99.cores-2.server-per-core'));
  assert.ok(ids.has('multicore.zircon.skybridge.p99.cores-2'));
  assert.ok(!ids.has('multicore.zircon.native.p99.cores-2.server-single'));
  // SkyBridge needs no kernel on the path: its calls cost the same on every kernel (within a
  // cycle: RDTSC truncates a clock that starts at another fraction).
  const sb = res.rows.filter((r) => r.params.mechanism === 'skybridge' && r.metric === 'p50');
  assert.equal(sb.length, 3);
  for (const r of sb) assert.ok(Math.abs(r.value - sb[0]!.value) <= 1, r.id);
});

test('Fiasco.OC: a server process with a thread per core, each bound to its own gate and serving through its own UTCB, scales; a single server thread costs a lone client an IPI each way', () => {
  const one = runEcho(SKYLAKE, 'per-core', 1, CALLS, 10, 'Fiasco.OC');
  const two = runEcho(SKYLAKE, 'per-core', 2, CALLS, 10, 'Fiasco.OC');
  const ratio = two.callsPerSecond / one.callsPerSecond;
  assert.ok(ratio > 2 * 0.9 && ratio < 2 * 1.05, `Fiasco.OC per-core scaling ${ratio.toFixed(2)}×`);
  assert.equal(two.ipisPerCall, 0);
  const lone = runEcho(SKYLAKE, 'single', 1, CALLS, 10, 'Fiasco.OC');
  assert.equal(lone.ipisPerCall, 2);
  assert.ok(Math.min(...lone.latencies.flat()) > Math.max(...one.latencies.flat()));
});

test('Zircon: a server thread per client channel on each core, no IPI; the cores still share the kernel’s packet free list and thread_lock, so each call invalidates more of the other core’s lines than on seL4; no single-thread server', () => {
  const two = runEcho(SKYLAKE, 'per-core', 2, CALLS, 10, 'Zircon');
  assert.equal(two.ipisPerCall, 0);
  const sel4 = runEcho(SKYLAKE, 'per-core', 2, CALLS, 10, 'seL4');
  assert.ok(
    two.invalidationsPerCall > 2 * sel4.invalidationsPerCall,
    `${two.invalidationsPerCall} vs ${sel4.invalidationsPerCall}`,
  );
  assert.throws(
    () => runEcho(SKYLAKE, 'single', 1, CALLS, 10, 'Zircon'),
    /no single server on Zircon/,
  );
});
