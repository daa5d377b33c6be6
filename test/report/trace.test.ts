// `skybridge trace`: a Chrome trace-event file Perfetto opens (the JSON object format: every
// event with ph, pid, tid, ts; complete slices nested properly on each track), in which one
// IPC's events are all there in order: seL4's SYSCALL, CR3 write and SYSRET, and SkyBridge's
// two VMFUNCs with the server's handler between and no kernel.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { Machine } from '../../src/hw/machine.ts';
import { traceCase } from '../../src/experiments/trace-case.ts';
import { nullSyscall } from '../../src/experiments/primitives.ts';
import {
  chromeTrace,
  TRACKS,
  type ChromeEvent,
  type ChromeTrace,
} from '../../src/report/trace-file.ts';

/** Checks what a trace viewer relies on; returns the timed events in file order. */
function checkStructure(t: ChromeTrace): ChromeEvent[] {
  assert.ok(Array.isArray(t.traceEvents));
  const names = t.traceEvents.filter((e) => e.ph === 'M');
  assert.ok(names.some((e) => e.name === 'process_name' && e.args?.name === 'core 0'));
  for (const name of ['mode', 'owner', 'EPT view', 'events', 'TLB and cache misses'])
    assert.ok(
      names.some((e) => e.name === 'thread_name' && e.args?.name === name),
      name,
    );
  const timed = t.traceEvents.filter((e) => e.ph !== 'M');
  let last = -Infinity;
  const openUntil = new Map<string, number>();
  for (const e of timed) {
    assert.ok(['X', 'i'].includes(e.ph), e.ph);
    assert.ok(Number.isFinite(e.ts) && e.ts! >= last, 'sorted by time');
    last = e.ts!;
    assert.ok(Number.isInteger(e.pid) && Number.isInteger(e.tid));
    if (e.ph === 'X') {
      assert.ok(e.dur! > 0);
      // One level per track: a slice starts where the previous one on its track ended.
      const key = `${e.pid}/${e.tid}`;
      assert.ok((openUntil.get(key) ?? -Infinity) <= e.ts!, `${key} overlaps at ${e.ts}`);
      openUntil.set(key, e.ts! + e.dur!);
    } else assert.equal(e.s, 't');
  }
  // A viewer reads it back as JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(t)), t);
  return timed;
}

/** The index of the last element of `xs` that satisfies `f` (-1: none). */
function lastIndex<T>(xs: readonly T[], f: (x: T, i: number) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (f(xs[i]!, i)) return i;
  return -1;
}

/** The slice on `tid` of core 0 that covers cycle `ts`. */
function at(timed: ChromeEvent[], tid: number, ts: number): string | undefined {
  return timed.find(
    (e) => e.ph === 'X' && e.pid === 1 && e.tid === tid && e.ts! <= ts && ts < e.ts! + e.dur!,
  )?.name;
}

test('seL4: a Call is SYSCALL from the client, a CR3 write in the kernel, SYSRET to the server', () => {
  const r = traceCase('ipc', SKYLAKE, {});
  assert.equal(r.case, 'ipc.sel4.native.interAs.kpti-off.pcid-on.words-0');
  const timed = checkStructure(chromeTrace(r.machine));
  const events = timed.filter((e) => e.ph === 'i' && e.tid === TRACKS.events);
  // The last SYSCALL from the client that reaches the server: SYSCALL, MOV to CR3, SYSRET.
  const i = lastIndex(
    events,
    (e, j) =>
      e.name === 'SYSCALL' &&
      at(timed, TRACKS.owner, e.ts! - 1) === 'client' &&
      events[j + 2]?.name === 'SYSRET' &&
      at(timed, TRACKS.owner, events[j + 2]!.ts!) === 'server',
  );
  assert.ok(i >= 0, 'a call from client to server');
  const [sys, cr3, ret] = events.slice(i, i + 3);
  assert.deepEqual([sys!.name, cr3!.name, ret!.name], ['SYSCALL', 'MOV to CR3', 'SYSRET']);
  assert.ok(sys!.ts! < cr3!.ts! && cr3!.ts! < ret!.ts!);
  assert.equal(at(timed, TRACKS.mode, sys!.ts! - 1), 'user');
  assert.equal(at(timed, TRACKS.mode, cr3!.ts!), 'kernel');
  assert.equal(at(timed, TRACKS.mode, ret!.ts!), 'user');
  // The sel4bench rounds: 16 warm-up and 1 measured call, each a SYSCALL from the client.
  const calls = events.filter((e) => e.name === 'SYSCALL');
  assert.ok(calls.length >= 2 * 17, `${calls.length} SYSCALLs`);
});

test('SkyBridge: a call is VMFUNC into the server view, the handler as the server, VMFUNC back, no kernel', () => {
  const r = traceCase('ipc', SKYLAKE, { mechanism: 'skybridge' });
  assert.equal(
    r.case,
    'ipc.sel4.skybridge.interAs.kpti-off.pcid-on.bytes-0.chain-off'.replace('.chain-off', ''),
  );
  const timed = checkStructure(chromeTrace(r.machine));
  const vmfuncs = timed.filter((e) => e.ph === 'i' && e.name === 'VMFUNC');
  const j = lastIndex(vmfuncs, (e, k) => e.args?.index !== 0 && vmfuncs[k + 1]?.args?.index === 0);
  assert.ok(j >= 0);
  const [into, back] = [vmfuncs[j]!, vmfuncs[j + 1]!];
  // Between them: user mode only, as the server, in another EPT view than the client's.
  const between = timed.filter((e) => e.ts! >= into.ts! && e.ts! < back.ts! && e.ph === 'X');
  assert.ok(between.some((e) => e.tid === TRACKS.owner && e.name === 'server'));
  assert.ok(!between.some((e) => e.tid === TRACKS.mode && e.name !== 'user'), 'no kernel');
  assert.ok(!timed.some((e) => e.name === 'SYSCALL' && e.ts! > into.ts! && e.ts! < back.ts!));
  assert.notEqual(at(timed, TRACKS.view, into.ts!), at(timed, TRACKS.view, into.ts! - 1));
  assert.equal(at(timed, TRACKS.view, back.ts!), at(timed, TRACKS.view, into.ts! - 1));
  assert.equal(at(timed, TRACKS.owner, back.ts!), 'client');
});

test('TLB and cache misses are instant events on their own track; the limit drops the rest', () => {
  const all = traceCase('primitives', SKYLAKE, { operation: 'tlb-miss-walk', ept: '4k' });
  const misses = chromeTrace(all.machine).traceEvents.filter((e) => e.tid === TRACKS.misses);
  assert.ok(misses.some((e) => e.name === 'TLB miss'));
  assert.ok(misses.some((e) => e.name === 'cache miss' && e.args?.servedBy === 'DRAM'));
  const cut = traceCase(
    'primitives',
    SKYLAKE,
    { operation: 'tlb-miss-walk', ept: '4k' },
    { limit: 5 },
  );
  assert.equal(cut.machine.trace.events.length, 5);
  assert.equal(cut.machine.trace.dropped, all.machine.trace.events.length - 5);
  assert.equal(chromeTrace(cut.machine).otherData.droppedEvents, cut.machine.trace.dropped);
});

test('tracing is off unless started, and changes nothing the machine measures', () => {
  const plain = new Machine({ cores: 1, memoryBytes: 64 << 20, profile: SKYLAKE });
  assert.equal(plain.trace.enabled, false);
  assert.equal(plain.caches.tracer, null);
  assert.equal(plain.core(0).mmu.tracer, null);
  let untraced: Machine | undefined;
  const stop = Machine.observe((m) => void (untraced ??= m));
  try {
    nullSyscall(SKYLAKE, true);
  } finally {
    stop();
  }
  assert.equal(untraced!.trace.events.length, 0);
  const traced = traceCase('primitives', SKYLAKE, { operation: 'syscall', kpti: true }).machine;
  assert.ok(traced.trace.events.length > 0);
  assert.equal(traced.core(0).cycles, untraced!.core(0).cycles);
  assert.deepEqual(traced.snapshot().rows(), untraced!.snapshot().rows());
});

test('skybridge trace writes the file; usage errors exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-trace-'));
  try {
    const bin = join(import.meta.dirname, '../../bin/skybridge.js');
    const file = join(dir, 't.json');
    const run = (...a: string[]) =>
      spawnSync(process.execPath, [bin, 'trace', ...a], { encoding: 'utf8' });
    const ok = run('primitives', '--operation', 'vmfunc', '-o', file);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /primitives\.vmfunc\.warm, \d+ events/);
    checkStructure(JSON.parse(readFileSync(file, 'utf8')) as ChromeTrace);
    assert.equal(run('indirect', '-o', file).status, 2);
    assert.equal(run('ipc', '--operation', 'vmfunc', '-o', file).status, 2);
    assert.equal(run('ipc', '--kernel', 'zircon', '--words', '3', '-o', file).status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
