import { test } from 'node:test';
import assert from 'node:assert/strict';
import { R } from '../../src/hw/core.ts';
import { vmfunc } from '../../src/hw/vmx.ts';
import { CodeLayout } from '../../src/kernel/code-layout.ts';
import { USER_SHARED } from '../../src/kernel/layout.ts';
import { UBUF } from '../../src/kernel/zircon/libzircon.ts';
import { SIGNAL, ZX } from '../../src/kernel/zircon/objects.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import { bootZx, zxProc } from './zircon-fixture.ts';
import { USER_LIB } from '../../src/kernel/kernel-mixes.ts';

test('messages queue FIFO; a blocked reader is woken by the write through the run queue: a higher-priority reader runs at once, a lower one after the writer is done', () => {
  for (const readerPriority of [120, 80]) {
    const { k, zircon } = bootZx();
    const w = zxProc(k, 'w');
    const r = zxProc(k, 'r');
    const ch = zircon.createChannel(w.p, r.p);
    const log: string[] = [];
    k.createThread(
      r.p,
      'r',
      (u) =>
        (function* () {
          for (let i = 0; i < 3; i++) {
            assert.equal(yield* r.lib.waitOne(u, ch.b), ZX.OK);
            assert.equal(r.lib.observed(u) & SIGNAL.CHANNEL_READABLE, SIGNAL.CHANNEL_READABLE);
            assert.equal(yield* r.lib.read(u, ch.b, UBUF.recv, 64), ZX.OK);
            log.push(`r got ${u.load32(UBUF.recv)}`);
          }
        })(),
      { priority: readerPriority },
    );
    k.createThread(
      w.p,
      'w',
      (u) =>
        (function* () {
          for (let i = 1; i <= 3; i++) {
            u.store32(UBUF.send, i);
            assert.equal(yield* w.lib.write(u, ch.a, UBUF.send, 4), ZX.OK);
            log.push(`w wrote ${i}`);
          }
        })(),
      { priority: 100 },
    );
    k.run(10_000);
    const high = ['r got 1', 'w wrote 1', 'r got 2', 'w wrote 2', 'r got 3', 'w wrote 3'];
    const low = ['w wrote 1', 'w wrote 2', 'w wrote 3', 'r got 1', 'r got 2', 'r got 3'];
    assert.deepEqual(log, readerPriority > 100 ? high : low);
    assert.ok(
      k.threads.every((t) => t.state === ThreadState.Exited),
      `prio ${readerPriority}`,
    );
  }
});

test('two callers on one channel: each gets the reply with its own txid, even when the server answers in reverse order', () => {
  const { k, zircon } = bootZx();
  const c = zxProc(k, 'c');
  const s = zxProc(k, 's');
  const ch = zircon.createChannel(c.p, s.p);
  const replies: Record<string, number> = {};
  for (const [name, off] of [
    ['x', 0],
    ['y', 0x200],
  ] as const) {
    k.createThread(c.p, name, (u) =>
      (function* () {
        u.store32(UBUF.send + off + 4, name === 'x' ? 111 : 222);
        const st = yield* c.lib.call(u, ch.a, UBUF.send + off, 8, UBUF.recv + off, 64);
        assert.equal(st, ZX.OK);
        replies[name] = u.load32(UBUF.recv + off + 4);
      })(),
    );
  }
  k.createThread(
    s.p,
    's',
    (u) =>
      (function* () {
        const got: [number, number][] = [];
        for (let i = 0; i < 2; i++) {
          yield* s.lib.waitOne(u, ch.b);
          assert.equal(yield* s.lib.read(u, ch.b, UBUF.recv, 64), ZX.OK);
          got.push([u.load32(UBUF.recv), u.load32(UBUF.recv + 4)]);
        }
        assert.notEqual(got[0]![0], got[1]![0]);
        for (const [txid, v] of got.reverse()) {
          u.store32(UBUF.send, txid);
          u.store32(UBUF.send + 4, v + 1);
          assert.equal(yield* s.lib.write(u, ch.b, UBUF.send, 8), ZX.OK);
        }
      })(),
    { priority: 90 },
  );
  k.run(10_000);
  assert.deepEqual(replies, { x: 112, y: 223 });
});

test('peer closed: a closed server endpoint wakes its blocked caller with ZX_ERR_PEER_CLOSED; writes fail, wait_one sees PEER_CLOSED, queued messages are freed', () => {
  const { k, zircon } = bootZx();
  const c = zxProc(k, 'c');
  const s = zxProc(k, 's');
  const ch = zircon.createChannel(c.p, s.p);
  const ch2 = zircon.createChannel(c.p, s.p);
  const got: (string | number)[] = [];
  k.createThread(c.p, 'c', (u) =>
    (function* () {
      got.push(yield* c.lib.write(u, ch2.a, UBUF.send, 16));
      got.push(yield* c.lib.call(u, ch.a, UBUF.send, 8, UBUF.recv, 64));
      got.push(yield* c.lib.write(u, ch.a, UBUF.send, 8));
      got.push(yield* c.lib.waitOne(u, ch.a, SIGNAL.CHANNEL_PEER_CLOSED));
      got.push(c.lib.observed(u) & (SIGNAL.CHANNEL_PEER_CLOSED | SIGNAL.CHANNEL_WRITABLE));
      got.push(yield* c.lib.read(u, ch.a, UBUF.recv, 64));
    })(),
  );
  k.createThread(
    s.p,
    's',
    (u) =>
      (function* () {
        yield* s.lib.waitOne(u, ch.b);
        got.push('server closes');
        got.push(yield* s.lib.close(u, ch.b));
        got.push(yield* s.lib.close(u, ch2.b));
      })(),
    { priority: 90 },
  );
  k.run(10_000);
  assert.deepEqual(got, [
    ZX.OK,
    'server closes',
    // The close wakes the caller, which outranks the server and runs at once.
    ZX.ERR_PEER_CLOSED,
    ZX.ERR_PEER_CLOSED,
    ZX.OK,
    SIGNAL.CHANNEL_PEER_CLOSED,
    ZX.ERR_PEER_CLOSED,
    ZX.OK,
    ZX.OK,
  ]);
  assert.equal(zircon.pool.freeCount(k), zircon.options.packetPages);
});

test('a server killed while its caller waits: the process exit closes its handles and the caller returns ZX_ERR_PEER_CLOSED; a killed caller leaves no waiter behind', () => {
  const { k, zircon } = bootZx();
  const c = zxProc(k, 'c');
  const s = zxProc(k, 's');
  const ch = zircon.createChannel(c.p, s.p);
  const got: number[] = [];
  k.createThread(c.p, 'c', (u) =>
    (function* () {
      got.push(yield* c.lib.call(u, ch.a, UBUF.send, 8, UBUF.recv, 64));
    })(),
  );
  k.createThread(
    s.p,
    's',
    (u) =>
      (function* () {
        yield* s.lib.waitOne(u, ch.b);
        u.load32(0x10); // unmapped: #PF, the thread (the process's only one) stops
      })(),
    { priority: 90 },
  );
  k.run(10_000);
  assert.deepEqual(got, [ZX.ERR_PEER_CLOSED]);
  assert.equal(zircon.pool.freeCount(k), zircon.options.packetPages);

  // A caller killed while blocked (its process dies of a VMFUNC violation in another
  // thread): its waiter leaves the channel, its handles close, the server's reply fails.
  const b = bootZx();
  const c2 = zxProc(b.k, 'c');
  const s2 = zxProc(b.k, 's');
  const ch2 = b.zircon.createChannel(c2.p, s2.p);
  const tramp = new CodeLayout(USER_SHARED, 4096, USER_LIB);
  const vmfuncAt = tramp.insn('vmfunc');
  const trampGpa = b.k.frames.frame();
  b.m.mem.writeBytes(trampGpa, tramp.bytes);
  c2.p.space.map(USER_SHARED, trampGpa, 4096, { writable: false });
  const sGot: number[] = [];
  const caller = b.k.createThread(c2.p, 'c', (u) =>
    (function* () {
      yield* c2.lib.call(u, ch2.a, UBUF.send, 8, UBUF.recv, 64);
      sGot.push(-1);
    })(),
  );
  b.k.createThread(
    c2.p,
    'dies',
    (u) =>
      (function* () {
        u.regs.set(R.RAX, 0);
        u.regs.set(R.RCX, 9);
        vmfunc(u.core, vmfuncAt);
      })(),
    { priority: 80 },
  );
  b.k.createThread(
    s2.p,
    's',
    (u) =>
      (function* () {
        yield* s2.lib.waitOne(u, ch2.b);
        yield* s2.lib.read(u, ch2.b, UBUF.recv, 64);
        // Wait until the caller's process is gone (a poll that sees PEER_CLOSED).
        sGot.push(yield* s2.lib.waitOne(u, ch2.b, SIGNAL.CHANNEL_PEER_CLOSED));
        u.store32(UBUF.send, u.load32(UBUF.recv));
        sGot.push(yield* s2.lib.write(u, ch2.b, UBUF.send, 8));
      })(),
    { priority: 90 },
  );
  b.k.run(10_000);
  assert.equal(c2.p.killed, true);
  assert.equal(caller.state, ThreadState.Stopped);
  assert.deepEqual(sGot, [ZX.OK, ZX.ERR_PEER_CLOSED]);
  assert.equal(b.zircon.pool.freeCount(b.k), b.zircon.options.packetPages);
});

test('cross-core: the server on core 1 is woken by the call through its own core run queue and an IPI; KPTI on', () => {
  const { k, zircon, m } = bootZx({ kpti: true });
  const c = zxProc(k, 'c');
  const s = zxProc(k, 's');
  const ch = zircon.createChannel(c.p, s.p);
  const got: number[] = [];
  k.createThread(
    s.p,
    's',
    (u) =>
      (function* () {
        for (let i = 0; i < 2; i++) {
          yield* s.lib.waitOne(u, ch.b);
          yield* s.lib.read(u, ch.b, UBUF.recv, 64);
          u.store32(UBUF.send, u.load32(UBUF.recv));
          u.store32(UBUF.send + 4, u.load32(UBUF.recv + 4) * 3);
          yield* s.lib.write(u, ch.b, UBUF.send, 8);
        }
      })(),
    { core: 1 },
  );
  k.createThread(c.p, 'c', (u) =>
    (function* () {
      for (let i = 1; i <= 2; i++) {
        u.store32(UBUF.send + 4, i * 5);
        assert.equal(yield* c.lib.call(u, ch.a, UBUF.send, 8, UBUF.recv, 64), ZX.OK);
        got.push(u.load32(UBUF.recv + 4));
      }
    })(),
  );
  const before = m.snapshot();
  k.run(10_000);
  assert.deepEqual(got, [15, 30]);
  // Each wake-up of a thread on the other core is an IPI (the first request may be queued
  // before the server has begun to wait, which needs none).
  assert.ok(m.snapshot().minus(before).get('ipis.sent') >= 3);
});
