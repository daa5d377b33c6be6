// Capability checks of the seL4 personality: every error libsel4 documents for IPC reaches
// the caller in its returned message info's label; badges say which client a message came
// from; a capability sent with Grant arrives in the receiver's receive slot and works, and
// without Grant none is transferred.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/kernel/sel4/libsel4.ts';
import {
  Cap,
  RIGHT,
  Sel4Error,
  msgExtraCaps,
  msgInfo,
  msgLabel,
  readCap,
  CapType,
  capType,
} from '../../src/kernel/sel4/objects.ts';
import { SLOT_BYTES } from '../../src/kernel/sel4/cspace.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import { physmap } from '../../src/kernel/layout.ts';
import { boot, proc } from './fixture.ts';

const ALL = RIGHT.Send | RIGHT.Receive | RIGHT.Grant | RIGHT.GrantReply;

for (const fastpath of [true, false]) {
  test(`every IPC system call reports a bad capability in the label (fastpath ${fastpath ? 'on' : 'off'})`, () => {
    const { k, sel4 } = boot({ fastpath });
    const ep = sel4.newEndpoint();
    const { p, lib } = proc(k, 'p');
    // Slot 1: receive-only endpoint; 2: send-only; 3: a CNode cap (not an endpoint);
    // 4: a thread cap; 6: the endpoint with every right. Slot 7 is empty.
    sel4.mint(p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
    sel4.mint(p, 2, Cap.endpoint(ep, 0, RIGHT.Send | RIGHT.GrantReply));
    sel4.mint(p, 3, Cap.cnode(sel4.cspaceOf(p).cnode, 8, 56, 0));
    sel4.mint(p, 4, Cap.thread(physmap(0x20_0000)));
    sel4.mint(p, 6, Cap.endpoint(ep, 0, ALL));
    const unresolvable = [
      2 ** 20 + 2, // guard bits not zero
      256, // index beyond the 256-slot CNode: the guard catches it too
      2 ** 52 + 1,
    ];
    const results: [string, number, number][] = [];
    const info1 = msgInfo(7, 0, 1);
    const t = k.createThread(p, 't', (u) =>
      (function* () {
        const record = (what: string, cptr: number, m: Message): void => {
          results.push([what, cptr, m.info]);
        };
        for (const c of [...unresolvable, 0, 7, 1, 3, 4]) {
          record('call', c, yield* lib.call(u, c, info1, [1]));
          record('send', c, yield* lib.send(u, c, info1, [1]));
          record('nbsend', c, yield* lib.nbSend(u, c, info1, [1]));
        }
        for (const c of [...unresolvable, 0, 7, 2, 3, 4]) {
          record('recv', c, yield* lib.recv(u, c));
          // No reply capability to use: ReplyRecv is then just the receive.
          record('replyRecv', c, yield* lib.replyRecv(u, c, info1, [1]));
        }
        // A message longer than seL4_MsgMaxLength (120) on a good capability: RangeError.
        record('call', 6, yield* lib.call(u, 6, msgInfo(7, 0, 121), []));
        record('send', 6, yield* lib.send(u, 6, msgInfo(7, 0, 127), []));
      })(),
    );
    k.run(10_000);
    assert.equal(t.state, ThreadState.Exited, 'no error blocks the caller');
    const expected: [string, number, number][] = [];
    const err = (e: number): number => msgInfo(e, 0, 0);
    for (const c of [...unresolvable, 0, 7, 1, 3, 4]) {
      const e = unresolvable.includes(c) ? Sel4Error.FailedLookup : Sel4Error.InvalidCapability;
      expected.push(['call', c, err(e)], ['send', c, err(e)], ['nbsend', c, err(e)]);
    }
    for (const c of [...unresolvable, 0, 7, 2, 3, 4]) {
      const e = unresolvable.includes(c) ? Sel4Error.FailedLookup : Sel4Error.InvalidCapability;
      expected.push(['recv', c, err(e)], ['replyRecv', c, err(e)]);
    }
    expected.push(['call', 6, err(Sel4Error.RangeError)], ['send', 6, err(Sel4Error.RangeError)]);
    assert.deepEqual(results, expected);
    assert.equal(Sel4Error.FailedLookup, 6);
    assert.equal(Sel4Error.InvalidCapability, 2);
    // Nothing got queued on the endpoint by the failed calls.
    assert.equal(k.machine.mem.read32(ep - physmap(0)), 0);
  });
}

test('two clients with differently badged capabilities: the server sees each one’s badge', () => {
  const { k, sel4 } = boot();
  const ep = sel4.newEndpoint();
  const srv = proc(k, 'server');
  const a = proc(k, 'clientA');
  const b = proc(k, 'clientB');
  sel4.mint(srv.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  sel4.mint(a.p, 1, Cap.endpoint(ep, 0xa1, RIGHT.Send | RIGHT.GrantReply));
  // Same slot number, different badge; B's cap also lives in a second slot with another.
  sel4.mint(b.p, 1, Cap.endpoint(ep, 0xb2, RIGHT.Send | RIGHT.GrantReply));
  sel4.mint(b.p, 9, Cap.endpoint(ep, 0xb9, RIGHT.Send | RIGHT.GrantReply));
  const seen: [number, number][] = [];
  const replies: Record<string, [number, number][]> = { A: [], B: [] };
  const N = 4;
  k.createThread(
    srv.p,
    'srv',
    (u) =>
      (function* () {
        let m = yield* srv.lib.recv(u, 1);
        for (let i = 0; ; i++) {
          seen.push([m.badge, m.mrs[0]!]);
          // Echo the badge back so each client can check what the server saw.
          m = yield* srv.lib.replyRecv(u, 1, msgInfo(0, 0, 1), [m.badge]);
        }
      })(),
    { priority: 150 },
  );
  const client = (c: typeof a, tag: string, slots: number[]) =>
    k.createThread(c.p, tag, (u) =>
      (function* () {
        for (let i = 0; i < N; i++) {
          const slot = slots[i % slots.length]!;
          const r = yield* c.lib.call(u, slot, msgInfo(0, 0, 1), [tag === 'A' ? 100 + i : 200 + i]);
          replies[tag]!.push([slot, r.mrs[0]!]);
          assert.equal(r.badge, 0, 'a reply carries no badge');
          yield* c.lib.yield(u);
        }
      })(),
    );
  client(a, 'A', [1]);
  client(b, 'B', [1, 9]);
  k.run(20_000);
  const fromA = seen.filter(([, v]) => v >= 100 && v < 200);
  const fromB = seen.filter(([, v]) => v >= 200);
  assert.equal(seen.length, 2 * N);
  assert.deepEqual(
    fromA,
    [0, 1, 2, 3].map((i) => [0xa1, 100 + i]),
  );
  assert.deepEqual(
    fromB,
    [0, 1, 2, 3].map((i) => [i % 2 === 0 ? 0xb2 : 0xb9, 200 + i]),
  );
  assert.deepEqual(
    replies.A,
    [0, 1, 2, 3].map(() => [1, 0xa1]),
  );
  assert.deepEqual(replies.B, [
    [1, 0xb2],
    [9, 0xb9],
    [1, 0xb2],
    [9, 0xb9],
  ]);
  // The two clients' calls interleave (each yields after a call), so the server's queue
  // really held both.
  assert.notDeepEqual(seen.slice(0, N), fromA);
});

/**
 * Capability transfer: the client sends a capability to a second endpoint (ep2, served by
 * `other`) in slot 3 of its CSpace; the server receives it into slot `RECV_SLOT` and calls
 * through it.
 */
function transferScenario(opts: { grant: boolean; serverFirst: boolean }) {
  const { k, sel4, m } = boot();
  const ep1 = sel4.newEndpoint();
  const ep2 = sel4.newEndpoint();
  const srv = proc(k, 'server');
  const cli = proc(k, 'client');
  const oth = proc(k, 'other');
  const RECV_SLOT = 9;
  sel4.mint(srv.p, 1, Cap.endpoint(ep1, 0, RIGHT.Receive));
  sel4.mint(
    cli.p,
    1,
    Cap.endpoint(ep1, 0x1, RIGHT.Send | RIGHT.GrantReply | (opts.grant ? RIGHT.Grant : 0)),
  );
  sel4.mint(cli.p, 3, Cap.endpoint(ep2, 0x5ee, RIGHT.Send | RIGHT.GrantReply));
  sel4.mint(oth.p, 1, Cap.endpoint(ep2, 0, RIGHT.Receive));
  const log: string[] = [];
  let received!: Message;
  let viaTransferred!: Message;
  let clientReply!: Message;
  k.createThread(
    oth.p,
    'other',
    (u) =>
      (function* () {
        const mm = yield* oth.lib.recv(u, 1);
        log.push(`other got badge ${mm.badge.toString(16)} [${mm.mrs.join(',')}]`);
        yield* oth.lib.reply(u, msgInfo(0, 0, 1), [mm.mrs[0]! + 1]);
      })(),
    { priority: 200 },
  );
  k.createThread(
    srv.p,
    'server',
    (u) =>
      (function* () {
        srv.lib.setReceiveSlot(u, RECV_SLOT);
        received = yield* srv.lib.recv(u, 1);
        log.push(`server got ${msgExtraCaps(received.info)} cap(s)`);
        viaTransferred = yield* srv.lib.call(u, RECV_SLOT, msgInfo(0, 0, 1), [41]);
        yield* srv.lib.reply(u, msgInfo(0, 0, 1), [viaTransferred.mrs[0] ?? 0]);
      })(),
    { priority: opts.serverFirst ? 150 : 50 },
  );
  k.createThread(
    cli.p,
    'client',
    (u) =>
      (function* () {
        cli.lib.setCap(u, 0, 3);
        clientReply = yield* cli.lib.call(u, 1, msgInfo(5, 1, 2), [10, 20]);
      })(),
    { priority: 100 },
  );
  k.run(20_000);
  const slotCap = readCap(m.core(0), sel4.cspaceOf(srv.p).cnode + RECV_SLOT * SLOT_BYTES);
  return { log, received, viaTransferred, clientReply, slotCap, k };
}

for (const serverFirst of [true, false]) {
  const order = serverFirst ? 'server waiting' : 'client queued first';
  test(`capability transfer with Grant (${order}): the cap lands in the receive slot and works`, () => {
    const r = transferScenario({ grant: true, serverFirst });
    assert.equal(msgLabel(r.received.info), 5);
    assert.equal(msgExtraCaps(r.received.info), 1);
    assert.equal(r.received.badge, 0x1);
    assert.deepEqual(r.received.mrs, [10, 20]);
    assert.equal(capType(r.slotCap), CapType.Endpoint);
    assert.equal(r.slotCap.w1, 0x5ee, 'the transferred cap keeps its badge');
    assert.deepEqual(r.log, ['server got 1 cap(s)', 'other got badge 5ee [41]']);
    assert.equal(msgLabel(r.viaTransferred.info), 0);
    assert.deepEqual(r.viaTransferred.mrs, [42]);
    assert.deepEqual(r.clientReply.mrs, [42]);
    for (const t of r.k.threads) assert.equal(t.state, ThreadState.Exited, t.name);
  });

  test(`without Grant no capability is transferred (${order})`, () => {
    const r = transferScenario({ grant: false, serverFirst });
    // The message itself arrives; the info says 0 extra caps; the slot stays empty, so
    // calling through it is an invalid capability.
    assert.equal(msgLabel(r.received.info), 5);
    assert.equal(msgExtraCaps(r.received.info), 0);
    assert.deepEqual(r.received.mrs, [10, 20]);
    assert.equal(capType(r.slotCap), CapType.Null);
    assert.deepEqual(r.log, ['server got 0 cap(s)']);
    assert.equal(r.viaTransferred.info, msgInfo(Sel4Error.InvalidCapability, 0, 0));
    assert.deepEqual(r.clientReply.mrs, [0]);
  });
}
