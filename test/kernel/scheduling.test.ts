// Scheduling: the timer preempts a thread in the middle of a loop and round-robins among
// equal priorities; a higher-priority thread that becomes ready runs first; a wake-up of a
// thread on another core goes by IPI, and a cross-core call costs at least the IPI latency.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { R } from '../../src/hw/core.ts';
import { rdtsc } from '../../src/hw/isa.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import type { Block, CodeLayout } from '../../src/kernel/code-layout.ts';
import { Cap, RIGHT, msgInfo } from '../../src/kernel/sel4/objects.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import type { UserApi } from '../../src/kernel/user.ts';
import { boot, proc } from './fixture.ts';

/** Two threads of one priority, each in its own process, each running `iterations` of a
 *  400-instruction loop body with a preemption point after each. Returns the order in
 *  which they made progress (consecutive iterations of one thread collapsed). */
function loops(tickCycles: number, iterations: number, timesliceTicks = 5) {
  const { k, m } = boot({ tickCycles, timesliceTicks, cores: 1 });
  const a = proc(k, 'A', (t) => ({ body: t.block(400, 1400) }));
  const b = proc(k, 'B', (t) => ({ body: t.block(400, 1400) }));
  const order: string[] = [];
  const done: Record<string, number> = { A: 0, B: 0 };
  const loop = (name: string, body: Block) => (u: UserApi) =>
    (function* () {
      for (let i = 0; i < iterations; i++) {
        u.run(body);
        done[name]!++;
        if (order[order.length - 1] !== name) order.push(name);
        yield* u.poll();
      }
    })();
  const ta = k.createThread(a.p, 'A', loop('A', a.at.body), { priority: 100 });
  const tb = k.createThread(b.p, 'B', loop('B', b.at.body), { priority: 100 });
  const before = m.snapshot();
  k.run(1_000_000);
  const d = m.snapshot().minus(before);
  return { order, done, ta, tb, d, m };
}

test('the timer preempts a loop mid-way; equal priorities take turns', () => {
  const r = loops(20_000, 2000);
  assert.deepEqual(r.done, { A: 2000, B: 2000 });
  assert.equal(r.ta.state, ThreadState.Exited);
  assert.equal(r.tb.state, ThreadState.Exited);
  // Each loop is ~200k cycles and a timeslice is 5 ticks of 20k: both threads are
  // preempted several times and their progress interleaves A, B, A, B, ...
  assert.ok(r.order.length >= 6, r.order.join(''));
  r.order.forEach((n, i) => assert.equal(n, i % 2 === 0 ? 'A' : 'B'));
  const ticks = r.d.get('interrupts');
  assert.ok(ticks > 0);
  // Every interrupt was a timer tick, and a switch needs a whole timeslice of 5 ticks
  // (all switches but the last one, when the first thread to finish exits).
  assert.ok(ticks >= (r.order.length - 2) * 5, `${ticks} ticks for ${r.order.length} runs`);
  assert.ok(ticks < (r.order.length + 1) * 5, `${ticks} ticks for ${r.order.length} runs`);
  assert.equal(r.d.get('exceptions'), 0);
  // Switching between the two processes wrote CR3.
  assert.ok(r.d.get('cr3.writes') >= r.order.length - 1);
});

test('a timeslice of one tick switches at every tick', () => {
  const r = loops(20_000, 400, 1);
  assert.deepEqual(r.done, { A: 400, B: 400 });
  // 800 iterations of ~200 cycles: ~160k cycles, so about 8 ticks and as many switches.
  assert.ok(r.order.length >= 6, r.order.join(''));
  r.order.forEach((n, i) => assert.equal(n, i % 2 === 0 ? 'A' : 'B'));
  assert.ok(r.d.get('interrupts') >= r.order.length - 2);
});

test('without a timer the first thread runs its whole loop before the second starts', () => {
  const r = loops(0, 2000);
  assert.deepEqual(r.order, ['A', 'B']);
  assert.equal(r.d.get('interrupts'), 0);
});

test('a higher-priority thread that becomes ready runs at once; a lower one waits its turn', () => {
  const { k, sel4 } = boot({ cores: 1 });
  const [epH, epL, epGo] = [sel4.newEndpoint(), sel4.newEndpoint(), sel4.newEndpoint()];
  const p = proc(k, 'P');
  const rights = RIGHT.Send | RIGHT.Receive;
  sel4.mint(p.p, 1, Cap.endpoint(epH, 0, rights));
  sel4.mint(p.p, 2, Cap.endpoint(epL, 0, rights));
  sel4.mint(p.p, 3, Cap.endpoint(epGo, 0, rights));
  const log: string[] = [];
  const receiver = (name: string, slot: number) => (u: UserApi) =>
    (function* () {
      log.push(`${name} waits`);
      const m = yield* p.lib.recv(u, slot);
      log.push(`${name} got ${m.mrs[0]}`);
    })();
  k.createThread(p.p, 'H', receiver('H', 1), { priority: 200 });
  k.createThread(
    p.p,
    'M',
    (u) =>
      (function* () {
        log.push('M waits for go');
        yield* p.lib.recv(u, 3);
        yield* p.lib.send(u, 2, msgInfo(0, 0, 1), [1]);
        log.push('M woke LR');
        yield* p.lib.send(u, 1, msgInfo(0, 0, 1), [2]);
        log.push('M done');
      })(),
    { priority: 100 },
  );
  k.createThread(
    p.p,
    'M2',
    (u) =>
      (function* () {
        log.push('M2');
        yield* u.poll();
      })(),
    { priority: 100 },
  );
  k.createThread(p.p, 'LR', receiver('LR', 2), { priority: 50 });
  k.createThread(
    p.p,
    'K',
    (u) =>
      (function* () {
        log.push('K kicks');
        yield* p.lib.send(u, 3, msgInfo(0, 0, 0), []);
        log.push('K done');
      })(),
    { priority: 10 },
  );
  k.run(10_000);
  assert.deepEqual(log, [
    'H waits', // the highest priority runs first
    'M waits for go', // then M and M2 (100) in creation order
    'M2',
    'LR waits', // then LR (50), then K (10)
    'K kicks', // waking M (higher than K) switches to M at once
    'M woke LR', // waking LR (lower than M) does not switch
    'H got 2', // waking H (higher than M) does
    'M done', // H exited: M is the highest ready
    'LR got 1',
    'K done',
  ]);
  for (const t of k.threads) assert.equal(t.state, ThreadState.Exited, t.name);
});

test('cross-core wake-up: a call to a server on core 1 goes by IPI and costs at least the IPI latency', () => {
  const { k, sel4, m } = boot({ cores: 2 });
  const ep = sel4.newEndpoint();
  const stamp = (t: CodeLayout) => ({
    rdtsc: t.insn('rdtsc'),
  });
  const s = proc(k, 'server', stamp);
  const c = proc(k, 'client', stamp);
  sel4.mint(c.p, 1, Cap.endpoint(ep, 3, RIGHT.Send | RIGHT.GrantReply));
  sel4.mint(s.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const N = 20;
  let clientStamp = 0;
  let serverStamp = 0;
  const calls: number[] = [];
  const replies: number[] = [];
  const got: number[][] = [];
  const server = k.createThread(
    s.p,
    'server',
    (u) =>
      (function* () {
        let r = yield* s.lib.recv(u, 1);
        for (;;) {
          calls.push(rdtsc(u.core, s.at.rdtsc) - clientStamp);
          got.push([r.badge, ...r.mrs]);
          serverStamp = rdtsc(u.core, s.at.rdtsc);
          r = yield* s.lib.replyRecv(u, 1, msgInfo(0, 0, 1), [r.mrs[0]! * 3]);
        }
      })(),
    { core: 1, priority: 100 },
  );
  let results: number[] = [];
  const client = k.createThread(
    c.p,
    'client',
    (u) =>
      (function* () {
        for (let i = 0; i < N; i++) {
          clientStamp = rdtsc(u.core, c.at.rdtsc);
          const r = yield* c.lib.call(u, 1, msgInfo(0, 0, 2), [i, i + 1]);
          replies.push(rdtsc(u.core, c.at.rdtsc) - serverStamp);
          results = [...results, r.mrs[0]!];
        }
      })(),
    { core: 0, priority: 100 },
  );
  const before = m.snapshot();
  k.run(100_000);
  const d = m.snapshot().minus(before);
  assert.equal(client.state, ThreadState.Exited);
  assert.equal(server.core.id, 1);
  assert.deepEqual(
    got,
    Array.from({ length: N }, (_, i) => [3, i, i + 1]),
  );
  assert.deepEqual(
    results,
    Array.from({ length: N }, (_, i) => 3 * i),
  );
  // Each call wakes the server on core 1, each reply the client on core 0: one IPI each.
  assert.ok(d.get('ipis.sent') >= 1);
  assert.equal(d.get('ipis.sent', { core: 0 }), N);
  assert.equal(d.get('ipis.sent', { core: 1 }), N);
  assert.ok(d.get('interrupts', { core: 1 }) >= N);
  assert.ok(d.get('interrupts', { core: 0 }) >= N - 1);
  assert.equal(d.get('interrupts'), d.get('ipis.sent'), 'no timer: every interrupt is an IPI');
  // One-way latencies, sel4bench-style (stamp before the call, stamp after the receive).
  const ipi = SKYLAKE.ops.ipiLatency;
  for (const x of [...calls, ...replies]) assert.ok(x >= ipi, `one-way ${x} < IPI latency ${ipi}`);
  const mean = calls.slice(4).reduce((a, b) => a + b, 0) / (N - 4);
  assert.ok(mean >= ipi && mean < ipi + 5000, `mean one-way call ${mean}`);
});

test('an idle core with the timer on takes interrupts indefinitely on its own kernel stack', () => {
  // Regression: the idle loop took each interrupt at CPL 0 on whatever RSP the last thread
  // left (its user stack) and never dropped the frame, so every tick pushed 48 more bytes
  // until the stack ran out after ~1,365 ticks: #PF while delivering, #DF, triple fault.
  const { k, sel4, m } = boot({ cores: 1, tickCycles: 5_000 });
  const ep = sel4.newEndpoint();
  const p = proc(k, 'P');
  sel4.mint(p.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const waiter = k.createThread(p.p, 'waiter', (u) =>
    (function* () {
      yield* p.lib.recv(u, 1); // nobody ever sends
    })(),
  );
  const rsps: number[] = [];
  const deliver = m.deliverInterrupt.bind(m);
  m.deliverInterrupt = (core) => {
    rsps.push(core.regs.get(R.RSP));
    return deliver(core);
  };
  // Keep idling through the ticks (by default run() stops once only ticks are left).
  const steps = k.run(3_000, { stopWhenQuiescent: false });
  assert.equal(steps, 3_000, 'the core stays busy idling: a blocked thread may still be woken');
  assert.equal(waiter.state, ThreadState.Blocked);
  assert.ok(m.snapshot().get('interrupts') >= 2_900);
  assert.equal(m.snapshot().get('vmexits'), 1, 'only the boot-time SetUpcall');
  // Every idle interrupt arrived on the same stack pointer, in the kernel half.
  assert.equal(new Set(rsps).size, 1);
  assert.ok(rsps[0]! >= 0x8000_0000_0000);
});
