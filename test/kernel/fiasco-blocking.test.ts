// Fiasco.OC blocking and wake-up order: senders that find the receiver busy wait in its
// sender list, highest priority first and first come first served within a priority
// (Prio_list); a closed wait takes only its partner's message; a receiver that waits first
// is woken by the send; a dying server wakes its callers with R_canceled and its queued
// senders with Canceled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Machine } from '../../src/hw/machine.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { Subkernel, DEFAULT_CONFIG } from '../../src/kernel/subkernel.ts';
import { Fiasco } from '../../src/kernel/fiasco/fiasco.ts';
import { FiascoLib, type FiascoMsg } from '../../src/kernel/fiasco/libfiasco.ts';
import { L4Error, Rights } from '../../src/kernel/fiasco/objects.ts';
import { ThreadState } from '../../src/kernel/thread.ts';

function boot() {
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile: SKYLAKE });
  const fiasco = new Fiasco();
  const k = new Subkernel(m, fiasco, { ...DEFAULT_CONFIG });
  fiasco.attach(k);
  const proc = (name: string) => {
    let lib!: FiascoLib;
    const p = k.createProcess(name, (t) => (lib = FiascoLib.layout(t)));
    return { p, lib };
  };
  return { m, k, fiasco, proc };
}

test('Fiasco senders queued on a busy server are served by priority, FIFO within a priority, and each gets its own reply', () => {
  const { k, fiasco, proc } = boot();
  const s = proc('server');
  const order: number[] = [];
  // The lowest priority: every client runs (and queues) before the server first waits.
  const srv = k.createThread(
    s.p,
    'srv',
    (u) =>
      (function* () {
        let m = yield* s.lib.wait(u);
        for (;;) {
          order.push(m.words[0]!);
          m = yield* s.lib.replyAndWait(u, [m.words[0]! * 2]);
        }
      })(),
    { priority: 10 },
  );
  const gate = fiasco.newGate(srv, 0x20);
  const replies = new Map<number, FiascoMsg>();
  // Created in this order; ids say priority and arrival: 50, 80 (first), 60, 80 (second).
  for (const [id, prio] of [
    [1, 50],
    [2, 80],
    [3, 60],
    [4, 80],
  ] as const) {
    const c = proc(`c${id}`);
    fiasco.putCap(c.p, 1, gate, Rights.CW);
    k.createThread(
      c.p,
      `c${id}`,
      (u) =>
        (function* () {
          replies.set(id, yield* c.lib.call(u, 1, [id]));
        })(),
      { priority: prio },
    );
  }
  k.run(20_000);
  assert.deepEqual(order, [2, 4, 3, 1]);
  for (const id of [1, 2, 3, 4]) assert.deepEqual(replies.get(id)!.words, [id * 2]);
  assert.equal(srv.state, ThreadState.Blocked);
});

test('Fiasco l4_ipc_receive is a closed wait: a message from another sender stays queued until the named thread’s arrives; l4_ipc_send wakes a waiting receiver', () => {
  const { k, fiasco, proc } = boot();
  const r = proc('receiver');
  const a = proc('a');
  const b = proc('b');
  const got: [string, number][] = [];
  const rt = k.createThread(
    r.p,
    'r',
    (u) =>
      (function* () {
        const first = yield* r.lib.receive(u, 7); // only from a
        got.push(['a?', first.words[0]!]);
        const second = yield* r.lib.wait(u); // anyone
        got.push(['any', second.words[0]!]);
      })(),
    { priority: 50 },
  );
  // The receiver waits first (highest priority); then b sends (queued: not the partner),
  // then a, whose send wakes it.
  k.createThread(
    b.p,
    'b',
    (u) =>
      (function* () {
        yield* b.lib.send(u, 1, [222]);
      })(),
    { priority: 40 },
  );
  const ta = k.createThread(
    a.p,
    'a',
    (u) =>
      (function* () {
        yield* a.lib.send(u, 1, [111]);
      })(),
    { priority: 30 },
  );
  fiasco.putCap(r.p, 7, ta.tcb, Rights.CWS);
  fiasco.putCap(a.p, 1, rt.tcb, Rights.CWS);
  fiasco.putCap(b.p, 1, rt.tcb, Rights.CWS);
  k.run(20_000);
  assert.deepEqual(got, [
    ['a?', 111],
    ['any', 222],
  ]);
  assert.equal(rt.state, ThreadState.Exited);
});

test('Fiasco: a server that dies wakes its caller with R_canceled and its queued senders with Canceled; a later call finds the dead thread (Not_existent)', () => {
  const { k, fiasco, proc } = boot();
  const s = proc('server');
  const srv = k.createThread(
    s.p,
    'srv',
    (u) =>
      (function* () {
        yield* s.lib.wait(u);
        u.load64(0); // fault while holding the call: the server dies
      })(),
    { priority: 10 },
  );
  const gate = fiasco.newGate(srv, 0x30);
  const out: Record<string, FiascoMsg[]> = { c1: [], c2: [] };
  for (const [name, prio] of [
    ['c1', 60],
    ['c2', 50],
  ] as const) {
    const c = proc(name);
    fiasco.putCap(c.p, 1, gate, Rights.CW);
    k.createThread(
      c.p,
      name,
      (u) =>
        (function* () {
          out[name]!.push(yield* c.lib.call(u, 1, [1]));
          out[name]!.push(yield* c.lib.call(u, 1, [2]));
        })(),
      { priority: prio },
    );
  }
  k.run(20_000);
  assert.equal(srv.state, ThreadState.Stopped);
  // c1 (higher priority) was received and then lost its server; c2 was still queued.
  assert.equal(out.c1![0]!.error, L4Error.RCanceled);
  assert.equal(out.c2![0]!.error, L4Error.Canceled);
  assert.equal(out.c1![1]!.error, L4Error.NotExistent);
  assert.equal(out.c2![1]!.error, L4Error.NotExistent);
});
