// Message contents and the IPC operations of the seL4 personality: messages of 0..120 words
// arrive intact and in order in both directions; the fastpath serves messages of up to four
// words and the slowpath the longer ones; Send/Recv blocking, FIFO queues and NBSend's drop;
// seL4_Reply; a server that dies while its client waits for the reply.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Mode } from '../../src/hw/counters.ts';
import type { Message } from '../../src/kernel/sel4/libsel4.ts';
import {
  Cap,
  RIGHT,
  Sel4Error,
  MSG_MAX_LENGTH,
  msgInfo,
  msgLabel,
  msgLength,
} from '../../src/kernel/sel4/objects.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import { boot, proc } from './fixture.ts';

const CLIENT_RIGHTS = RIGHT.Send | RIGHT.GrantReply;

interface Msg {
  label: number;
  words: number[];
}

/** The server's answer to a message: its words reversed, each plus one, label + 1. */
const answer = (m: Msg): Msg => ({
  label: m.label + 1,
  words: [...m.words].reverse().map((w) => (w + 1) % 2 ** 53),
});

/** A client calls with each message in turn; the server, in another address space,
 *  receives with Recv/ReplyRecv and answers each. Returns what each side saw. */
function exchange(msgs: Msg[], fastpath: boolean) {
  const { k, sel4 } = boot({ fastpath });
  const ep = sel4.newEndpoint();
  const s = proc(k, 'server');
  const c = proc(k, 'client');
  sel4.mint(c.p, 1, Cap.endpoint(ep, 0x42, CLIENT_RIGHTS));
  sel4.mint(s.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const atServer: (Msg & { badge: number })[] = [];
  const atClient: Msg[] = [];
  const toMsg = (m: Message): Msg => ({ label: msgLabel(m.info), words: m.mrs });
  k.createThread(
    s.p,
    'server',
    (u) =>
      (function* () {
        let m = yield* s.lib.recv(u, 1);
        for (;;) {
          atServer.push({ ...toMsg(m), badge: m.badge });
          assert.equal(msgLength(m.info), m.mrs.length);
          const a = answer(toMsg(m));
          m = yield* s.lib.replyRecv(u, 1, msgInfo(a.label, 0, a.words.length), a.words);
        }
      })(),
    { priority: 101 },
  );
  const client = k.createThread(
    c.p,
    'client',
    (u) =>
      (function* () {
        for (const m of msgs) {
          const r = yield* c.lib.call(u, 1, msgInfo(m.label, 0, m.words.length), m.words);
          atClient.push(toMsg(r));
        }
      })(),
    { priority: 100 },
  );
  k.run(200_000);
  return { atServer, atClient, client };
}

test('messages of 0..120 words arrive intact and in order, both ways (property)', () => {
  const word = fc.maxSafeNat();
  const msg = fc.record({
    label: fc.integer({ min: 0, max: 2 ** 30 }),
    words: fc.oneof(
      fc.array(word, { minLength: 0, maxLength: 4 }),
      fc.array(word, { minLength: 5, maxLength: MSG_MAX_LENGTH }),
      fc.constantFrom(
        [],
        Array.from({ length: MSG_MAX_LENGTH }, (_, i) => 2 ** 53 - 1 - i),
      ),
    ),
  });
  fc.assert(
    fc.property(fc.array(msg, { minLength: 1, maxLength: 6 }), fc.boolean(), (msgs, fastpath) => {
      const r = exchange(msgs, fastpath);
      assert.deepEqual(
        r.atServer,
        msgs.map((m) => ({ ...m, badge: 0x42 })),
      );
      assert.deepEqual(r.atClient, msgs.map(answer));
      assert.equal(r.client.state, ThreadState.Exited);
    }),
    { numRuns: 30, seed: 0x5e14 },
  );
});

/** Kernel-mode instructions of one steady-state round trip (Call + ReplyRecv) carrying
 *  `len` words each way, and the words the client got back. */
function roundTrip(len: number, fastpath: boolean) {
  const { k, sel4, m } = boot({ fastpath, cores: 1 });
  const ep = sel4.newEndpoint();
  const s = proc(k, 'server');
  const c = proc(k, 'client');
  sel4.mint(c.p, 1, Cap.endpoint(ep, 1, CLIENT_RIGHTS));
  sel4.mint(s.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const msg = Array.from({ length: len }, (_, i) => 1000 + i);
  let kernel = 0;
  let cycles = 0;
  let got: number[] = [];
  k.createThread(
    s.p,
    's',
    (u) =>
      (function* () {
        let r = yield* s.lib.recv(u, 1);
        for (;;) r = yield* s.lib.replyRecv(u, 1, msgInfo(0, 0, len), [...r.mrs].reverse());
      })(),
    { priority: 101 },
  );
  k.createThread(
    c.p,
    'c',
    (u) =>
      (function* () {
        for (let i = 0; i < 4; i++) {
          const a = m.snapshot();
          got = (yield* c.lib.call(u, 1, msgInfo(0, 0, len), msg)).mrs;
          const d = m.snapshot().minus(a);
          kernel = d.get('instructions', { mode: Mode.Kernel });
          cycles = d.get('cycles');
        }
      })(),
    { priority: 100 },
  );
  k.run(10_000);
  assert.deepEqual(got, [...msg].reverse());
  return { kernel, cycles, sel4 };
}

test('the fastpath serves messages of up to 4 words, the slowpath longer ones; contents are the same', () => {
  const P = roundTrip(0, true).sel4.paths;
  // With the fastpath on, a long message first runs the fastpath's entry checks (decode,
  // the length/extra-caps check, one load of tcbFault) on the Call and on the ReplyRecv,
  // then takes exactly the slowpath.
  const bail = P.fpDecode.instructions + P.fpChecks.instructions + 1;
  const bailRr = P.fpDecode.instructions + P.rrChecks.instructions + 1;
  let prevFast = -1;
  for (const len of [0, 1, 2, 3, 4]) {
    const fast = roundTrip(len, true);
    const slow = roundTrip(len, false);
    assert.ok(
      slow.kernel - fast.kernel > 200,
      `${len} words: fastpath ${fast.kernel} vs slowpath ${slow.kernel} kernel instructions`,
    );
    assert.notEqual(fast.cycles, slow.cycles);
    // On the fastpath each word is one load and one store each way.
    if (prevFast >= 0) assert.equal(fast.kernel - prevFast, 4, `${len} words`);
    prevFast = fast.kernel;
  }
  for (const len of [5, 6, 17, 64, MSG_MAX_LENGTH]) {
    const on = roundTrip(len, true);
    const off = roundTrip(len, false);
    assert.equal(on.kernel - off.kernel, bail + bailRr, `${len} words: only the bail-out differs`);
  }
  // The slowpath's cost grows with the message: each word beyond the fourth is copied
  // through the IPC buffers (a transferWord step, a load and a store), each way.
  const perWord = P.transferWord.instructions + 2;
  assert.equal(
    roundTrip(MSG_MAX_LENGTH, true).kernel - roundTrip(5, true).kernel,
    (MSG_MAX_LENGTH - 5) * 2 * perWord,
  );
});

test('Send blocks until a receiver arrives; Recv returns the sender’s message and badge', () => {
  const { k, sel4 } = boot();
  const ep = sel4.newEndpoint();
  const a = proc(k, 'a');
  const b = proc(k, 'b');
  sel4.mint(a.p, 1, Cap.endpoint(ep, 0x51, RIGHT.Send));
  sel4.mint(b.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const log: string[] = [];
  const sender = k.createThread(
    a.p,
    'sender',
    (u) =>
      (function* () {
        log.push('send');
        yield* a.lib.send(u, 1, msgInfo(3, 0, 6), [1, 2, 3, 4, 5, 6]);
        log.push('sent');
      })(),
    { priority: 120 },
  );
  k.createThread(
    b.p,
    'receiver',
    (u) =>
      (function* () {
        log.push(
          `receiver starts; sender ${sender.state === ThreadState.Blocked ? 'blocked' : '?'}`,
        );
        const m = yield* b.lib.recv(u, 1);
        log.push(`got ${msgLabel(m.info)} ${m.badge.toString(16)} [${m.mrs.join(',')}]`);
      })(),
    { priority: 100 },
  );
  k.run(10_000);
  // The higher-priority sender ran first and blocked; once the receiver took the message
  // the sender, outranking it, ran before the receiver continued.
  assert.deepEqual(log, [
    'send',
    'receiver starts; sender blocked',
    'sent',
    'got 3 51 [1,2,3,4,5,6]',
  ]);
});

test('senders queue on an endpoint in FIFO order (arrival, not priority)', () => {
  const { k, sel4 } = boot();
  const ep = sel4.newEndpoint();
  const r = proc(k, 'receiver');
  sel4.mint(r.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const got: [number, number][] = [];
  // Priorities make them send in the order C (130), A (120), B (110).
  const prio: Record<string, number> = { A: 120, B: 110, C: 130 };
  const names = ['A', 'B', 'C'];
  names.forEach((n, i) => {
    const s = proc(k, `sender${n}`);
    sel4.mint(s.p, 1, Cap.endpoint(ep, i + 1, RIGHT.Send));
    k.createThread(
      s.p,
      n,
      (u) =>
        (function* () {
          yield* s.lib.send(u, 1, msgInfo(0, 0, 1), [10 * (i + 1)]);
          yield* s.lib.send(u, 1, msgInfo(0, 0, 1), [10 * (i + 1) + 1]);
        })(),
      { priority: prio[n]! },
    );
  });
  k.createThread(
    r.p,
    'recv',
    (u) =>
      (function* () {
        for (let i = 0; i < 6; i++) {
          const m = yield* r.lib.recv(u, 1);
          got.push([m.badge, m.mrs[0]!]);
        }
      })(),
    { priority: 100 },
  );
  k.run(20_000);
  // First round in arrival order C, A, B. Each Recv wakes a sender that outranks the
  // receiver, which sends its second message at once and queues behind the others.
  assert.deepEqual(got, [
    [3, 30],
    [1, 10],
    [2, 20],
    [3, 31],
    [1, 11],
    [2, 21],
  ]);
  for (const t of k.threads) assert.equal(t.state, ThreadState.Exited, t.name);
});

test('NBSend with no receiver waiting drops the message; with one waiting it delivers', () => {
  const { k, sel4 } = boot();
  const ep = sel4.newEndpoint();
  const a = proc(k, 'a');
  const b = proc(k, 'b');
  sel4.mint(a.p, 1, Cap.endpoint(ep, 7, RIGHT.Send));
  sel4.mint(b.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const log: string[] = [];
  let phase = 0;
  k.createThread(
    a.p,
    'sender',
    (u) =>
      (function* () {
        yield* a.lib.nbSend(u, 1, msgInfo(0, 0, 1), [1]);
        log.push('nbsend returned at once');
        yield* a.lib.nbSend(u, 1, msgInfo(0, 0, 6), [2, 2, 2, 2, 2, 2]);
        phase = 1;
        // Let the receiver run and block in Recv.
        yield* a.lib.yield(u);
        yield* a.lib.yield(u);
        yield* a.lib.nbSend(u, 1, msgInfo(0, 0, 1), [3]);
        log.push('nbsend to a waiting receiver');
        yield* a.lib.send(u, 1, msgInfo(0, 0, 1), [4]);
      })(),
    { priority: 100 },
  );
  k.createThread(
    b.p,
    'receiver',
    (u) =>
      (function* () {
        assert.equal(phase, 1);
        for (;;) {
          const m = yield* b.lib.recv(u, 1);
          log.push(`got [${m.mrs.join(',')}]`);
        }
      })(),
    { priority: 100 },
  );
  k.run(10_000);
  assert.deepEqual(log, [
    'nbsend returned at once',
    'nbsend to a waiting receiver',
    'got [3]',
    'got [4]',
  ]);
});

test('seL4_Reply answers the caller (short and long replies); a Reply with no caller does nothing', () => {
  const { k, sel4 } = boot();
  const ep = sel4.newEndpoint();
  const s = proc(k, 'server');
  const c = proc(k, 'client');
  sel4.mint(c.p, 1, Cap.endpoint(ep, 9, CLIENT_RIGHTS));
  sel4.mint(s.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const replies: [number, number[]][] = [];
  const long = Array.from({ length: 30 }, (_, i) => i * i);
  k.createThread(
    s.p,
    'server',
    (u) =>
      (function* () {
        const stray = yield* s.lib.reply(u, msgInfo(1, 0, 1), [99]);
        assert.equal(stray.info, msgInfo(1, 0, 1), 'nothing happened to the registers');
        for (let i = 0; i < 2; i++) {
          const m = yield* s.lib.recv(u, 1);
          if (i === 0) yield* s.lib.reply(u, msgInfo(m.mrs[0]!, 0, 2), [m.badge, m.mrs[0]!]);
          else yield* s.lib.reply(u, msgInfo(m.mrs[0]!, 0, long.length), long);
          // The reply capability is used up: a second Reply goes nowhere.
          yield* s.lib.reply(u, msgInfo(77, 0, 1), [77]);
        }
      })(),
    { priority: 110 },
  );
  const client = k.createThread(
    c.p,
    'client',
    (u) =>
      (function* () {
        for (const label of [5, 6]) {
          const r = yield* c.lib.call(u, 1, msgInfo(0, 0, 1), [label]);
          replies.push([msgLabel(r.info), r.mrs]);
        }
      })(),
    { priority: 100 },
  );
  k.run(10_000);
  assert.deepEqual(replies, [
    [5, [9, 5]],
    [6, long],
  ]);
  assert.equal(client.state, ThreadState.Exited);
});

for (const how of ['returns', 'faults'] as const) {
  test(`a server that ${how === 'returns' ? 'exits' : 'faults'} while a client waits for its reply wakes the client with the error label`, () => {
    const { k, sel4 } = boot();
    const ep = sel4.newEndpoint();
    const s = proc(k, 'server');
    const c = proc(k, 'client');
    sel4.mint(c.p, 1, Cap.endpoint(ep, 1, CLIENT_RIGHTS));
    sel4.mint(s.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
    let reply!: Message;
    const server = k.createThread(
      s.p,
      'server',
      (u) =>
        (function* () {
          yield* s.lib.recv(u, 1);
          // Exit without replying, or touch an unmapped address.
          if (how === 'faults') u.load64(0x5000_0000);
        })(),
      { priority: 110 },
    );
    const client = k.createThread(
      c.p,
      'client',
      (u) =>
        (function* () {
          reply = yield* c.lib.call(u, 1, msgInfo(0, 0, 2), [1, 2]);
        })(),
      { priority: 100 },
    );
    k.run(10_000);
    assert.equal(server.state, how === 'returns' ? ThreadState.Exited : ThreadState.Stopped);
    assert.equal(client.state, ThreadState.Exited);
    assert.equal(reply.info, msgInfo(Sel4Error.FailedLookup, 0, 0));
    assert.deepEqual(reply.mrs, []);
  });
}
