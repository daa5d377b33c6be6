import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KERNEL_TEXT, PHYSMAP_BASE, USER_TEXT } from '../../src/kernel/layout.ts';
import { UBUF } from '../../src/kernel/zircon/libzircon.ts';
import { RIGHT, SIGNAL, ZX, DEFAULT_CHANNEL_RIGHTS } from '../../src/kernel/zircon/objects.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import { bootZx, zxProc } from './zircon-fixture.ts';
import { peek } from './fixture.ts';

test('rights are checked on every use: write without WRITE, read without READ, call without READ|WRITE, wait without WAIT give ZX_ERR_ACCESS_DENIED', () => {
  const { k, zircon } = bootZx();
  const a = zxProc(k, 'a');
  const b = zxProc(k, 'b');
  const noWrite = DEFAULT_CHANNEL_RIGHTS & ~RIGHT.WRITE;
  const noRead = DEFAULT_CHANNEL_RIGHTS & ~RIGHT.READ;
  const noWait = DEFAULT_CHANNEL_RIGHTS & ~RIGHT.WAIT;
  const c1 = zircon.createChannel(a.p, b.p, { a: noWrite, b: noRead });
  const c2 = zircon.createChannel(a.p, b.p, { a: noWait });
  const got: number[] = [];
  k.createThread(a.p, 't', (u) =>
    (function* () {
      u.writeBytes(UBUF.send, new Uint8Array(8));
      got.push(yield* a.lib.write(u, c1.a, UBUF.send, 8));
      got.push(yield* a.lib.call(u, c1.a, UBUF.send, 8, UBUF.recv, 64));
      got.push(yield* a.lib.waitOne(u, c2.a, SIGNAL.CHANNEL_READABLE, 0));
      // With the rights: the write goes through; a poll on an empty endpoint times out.
      got.push(yield* a.lib.write(u, c2.a, UBUF.send, 8));
      got.push(yield* a.lib.read(u, c1.a, UBUF.recv, 64));
    })(),
  );
  k.createThread(b.p, 't', (u) =>
    (function* () {
      got.push(yield* b.lib.read(u, c1.b, UBUF.recv, 64));
      got.push(yield* b.lib.waitOne(u, c1.b, SIGNAL.CHANNEL_READABLE, 0));
    })(),
  );
  k.run(10_000);
  assert.deepEqual(got, [
    ZX.ERR_ACCESS_DENIED,
    ZX.ERR_ACCESS_DENIED,
    ZX.ERR_ACCESS_DENIED,
    ZX.OK,
    ZX.ERR_SHOULD_WAIT,
    ZX.ERR_ACCESS_DENIED,
    ZX.ERR_TIMED_OUT,
  ]);
  // The one message written was queued for b and freed when b's last thread exited (its
  // process's handles closed).
  assert.equal(zircon.pool.freeCount(k), zircon.options.packetPages);
});

test('bad handle values: wrong fixed bits, a forged index, a closed handle (stale generation), and 0 give ZX_ERR_BAD_HANDLE', () => {
  const { k, zircon } = bootZx();
  const a = zxProc(k, 'a');
  const b = zxProc(k, 'b');
  const ch = zircon.createChannel(a.p, b.p);
  const got: number[] = [];
  k.createThread(a.p, 't', (u) =>
    (function* () {
      got.push(yield* a.lib.write(u, ch.a & ~3, UBUF.send, 8));
      got.push(yield* a.lib.write(u, (ch.a ^ (5 << 2)) >>> 0, UBUF.send, 8));
      got.push(yield* a.lib.write(u, 0, UBUF.send, 8));
      got.push(yield* a.lib.close(u, ch.a));
      got.push(yield* a.lib.write(u, ch.a, UBUF.send, 8));
      got.push(yield* a.lib.close(u, ch.a));
    })(),
  );
  k.run(10_000);
  const B = ZX.ERR_BAD_HANDLE;
  assert.deepEqual(got, [B, B, B, ZX.OK, B, B]);
});

test('isolation: a handle value is meaningless in another process (per-process mixer and process_id), even with both holding ends of channels', () => {
  const { k, zircon } = bootZx();
  const a = zxProc(k, 'a');
  const b = zxProc(k, 'b');
  const c = zxProc(k, 'c');
  const ab = zircon.createChannel(a.p, b.p);
  const cb = zircon.createChannel(c.p, b.p);
  const got: number[] = [];
  k.createThread(c.p, 't', (u) =>
    (function* () {
      u.writeBytes(UBUF.send, new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9]));
      // c tries a's handle value and b's values; then its own works.
      got.push(yield* c.lib.write(u, ab.a, UBUF.send, 8));
      got.push(yield* c.lib.write(u, ab.b, UBUF.send, 8));
      got.push(yield* c.lib.read(u, ab.b, UBUF.recv, 64));
      got.push(yield* c.lib.write(u, cb.a, UBUF.send, 8));
    })(),
  );
  k.createThread(
    b.p,
    't',
    (u) =>
      (function* () {
        got.push(yield* b.lib.read(u, ab.b, UBUF.recv, 64));
        got.push(yield* b.lib.read(u, cb.b, UBUF.recv, 64));
      })(),
    { priority: 50 },
  );
  k.run(10_000);
  const B = ZX.ERR_BAD_HANDLE;
  assert.deepEqual(got, [B, B, B, ZX.OK, ZX.ERR_SHOULD_WAIT, ZX.OK]);
});

test('user pointers: kernel, physmap, unmapped and read-only (text) buffers give ZX_ERR_INVALID_ARGS; nothing is queued or written; the other process is untouched', () => {
  for (const kpti of [false, true]) {
    const { k, zircon, m } = bootZx({ kpti });
    const a = zxProc(k, 'a');
    const b = zxProc(k, 'b');
    const ch = zircon.createChannel(a.p, b.p);
    const got: number[] = [];
    const bBefore = peek(m, b.p, UBUF.recv, 64);
    k.createThread(a.p, 't', (u) =>
      (function* () {
        got.push(yield* a.lib.write(u, ch.a, KERNEL_TEXT, 8));
        got.push(yield* a.lib.write(u, ch.a, PHYSMAP_BASE + 0x100000, 8));
        got.push(yield* a.lib.write(u, ch.a, 0x5000_0000, 8));
        got.push(yield* a.lib.write(u, ch.a, UBUF.send + 0xfff0_0000, 8));
        u.writeBytes(UBUF.send, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
        got.push(yield* a.lib.write(u, ch.a, UBUF.send, 8));
      })(),
    );
    k.createThread(
      b.p,
      't',
      (u) =>
        (function* () {
          yield* b.lib.waitOne(u, ch.b);
          // Reading into its own text (read-only) fails and the message is lost, as in Zircon.
          got.push(yield* b.lib.read(u, ch.b, USER_TEXT, 64));
          got.push(yield* b.lib.read(u, ch.b, UBUF.recv, 64));
        })(),
      { priority: 50 },
    );
    k.run(10_000);
    const I = ZX.ERR_INVALID_ARGS;
    // a has exited by b's last read, so the empty channel reports its peer closed.
    assert.deepEqual(got, [I, I, I, I, ZX.OK, I, ZX.ERR_PEER_CLOSED], `kpti ${kpti}`);
    assert.deepEqual(peek(m, b.p, UBUF.recv, 64), bBefore);
    assert.equal(zircon.pool.freeCount(k), zircon.options.packetPages);
    assert.ok(k.threads.every((t) => t.state === ThreadState.Exited));
  }
});

test('limits: a call of fewer than 4 bytes is ZX_ERR_INVALID_ARGS, a message over 64 KiB ZX_ERR_OUT_OF_RANGE, a short read buffer ZX_ERR_BUFFER_TOO_SMALL with actual_bytes set and the message kept', () => {
  const { k, zircon } = bootZx();
  const a = zxProc(k, 'a', { dataBytes: 256 * 1024 });
  const b = zxProc(k, 'b');
  const ch = zircon.createChannel(a.p, b.p);
  const got: number[] = [];
  k.createThread(a.p, 't', (u) =>
    (function* () {
      got.push(yield* a.lib.call(u, ch.a, UBUF.send, 3, UBUF.recv, 64));
      got.push(yield* a.lib.write(u, ch.a, UBUF.send, 65537));
      got.push(yield* a.lib.write(u, ch.a, UBUF.send, 100));
    })(),
  );
  k.createThread(
    b.p,
    't',
    (u) =>
      (function* () {
        got.push(yield* b.lib.read(u, ch.b, UBUF.recv, 99));
        got.push(b.lib.actualBytes(u));
        got.push(yield* b.lib.read(u, ch.b, UBUF.recv, 100));
      })(),
    { priority: 50 },
  );
  k.run(10_000);
  assert.deepEqual(got, [
    ZX.ERR_INVALID_ARGS,
    ZX.ERR_OUT_OF_RANGE,
    ZX.OK,
    ZX.ERR_BUFFER_TOO_SMALL,
    100,
    ZX.OK,
  ]);
});
