// The SkyBridge security suite on each Subkernel (issue 6), part 2: the calling key, and a
// malicious or faulty server. See all-kernels.test.ts for how the cases are run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { R } from '../../src/hw/core.ts';
import { vmfunc } from '../../src/hw/vmx.ts';
import { USER_DATA } from '../../src/kernel/layout.ts';
import { ThreadState, type UserEvent } from '../../src/kernel/thread.ts';
import type { UserApi } from '../../src/kernel/user.ts';
import {
  directServerCall,
  type CallOptions,
  type CallResult,
} from '../../src/skybridge/direct-call.ts';
import { MAX_CLIENTS, SERVER_STATE_VA, SbError } from '../../src/skybridge/layout.ts';
import type { Binding, ServerCall, SkyBridge } from '../../src/skybridge/skybridge.ts';
import {
  assertServed,
  bootWorld,
  changed,
  changes,
  eachKernel,
  plant,
  proc,
  secretOf,
  settle,
  walk,
  witness,
  words,
  type KernelName,
} from './kernels-world.ts';

const refused = (error: number) => ({ ok: false, error });
const strip = (c: CallResult) => (c.ok ? c : { ok: c.ok, error: c.error });

// ---- 5: the calling key -------------------------------------------------------------------

/** Where S keeps one private word per client slot ("the account" of that client). */
const ACCOUNTS = USER_DATA + 0x100;
const account = (slot: number): number => 0xacc0_0000 + slot;

type Caller = (o: CallOptions) => Generator<UserEvent, CallResult, void>;

/**
 * Server S (maxConcurrent 1) answers [the caller's slot as S sees it, that slot's account]
 * and counts its handler runs. Victim V (slot 0) and attacker X (slot 1) are bound to it; V
 * calls (thread V1), X's thread runs `attack`, V calls again (V2), then the witness (slot 2).
 */
function keyScenario(
  name: KernelName,
  attack: (
    u: UserApi,
    ctx: { sb: SkyBridge; sid: number; v: Binding; x: Binding; call: Caller },
  ) => Generator<UserEvent, void, void>,
) {
  const env = bootWorld(name);
  const { m, k, sb } = env;
  const s = proc(k, 'S');
  const v = proc(k, 'V');
  const x = proc(k, 'X');
  let handlerRuns = 0;
  const sid = sb.registerServer(
    s.p,
    (u, call) =>
      (function* () {
        handlerRuns++;
        return [call.clientSlot, u.load32(ACCOUNTS + call.clientSlot * 4)];
      })(),
    1,
  );
  const vb = sb.registerClient(m.core(0), v.p, sid);
  const xb = sb.registerClient(m.core(0), x.p, sid);
  const w = witness(env, sid, [0]);
  const vResults: CallResult[] = [];
  let xDone = false;
  const vCall = (i: number) =>
    k.createThread(v.p, `V${i}`, (u) =>
      (function* () {
        vResults.push(yield* directServerCall(sb, u, sid, [0]));
      })(),
    );
  const v1 = vCall(1);
  const xThread = k.createThread(x.p, 'X', (u) =>
    (function* () {
      const call: Caller = (o) => directServerCall(sb, u, sid, [0], o);
      yield* attack(u, { sb, sid, v: vb, x: xb, call });
      xDone = true;
    })(),
  );
  const v2 = vCall(2);
  plant(m, s.p, ACCOUNTS, [account(0), account(1), account(2)]);
  const before = settle(env);
  const s0 = m.snapshot();
  k.run(100_000);
  const d = m.snapshot().minus(s0);
  return {
    ...env,
    s,
    v,
    x,
    sid,
    vb,
    xb,
    vResults,
    vThreads: [v1, v2],
    xThread,
    w,
    d,
    before,
    xDone,
    runs: () => handlerRuns,
  };
}

type KeyRun = ReturnType<typeof keyScenario>;

/** V's calls answered as V, X not killed, only `expected` words changed, the witness served. */
function assertKeysContained(r: KeyRun, expected: string[] = []): void {
  assert.equal(r.xDone, true, r.xThread.exitReason);
  assert.equal(r.x.p.killed, false);
  for (const t of r.vThreads) assert.equal(t.state, ThreadState.Exited, t.exitReason);
  const vs = r.vb.slot;
  assert.deepEqual(r.vResults, Array(2).fill({ ok: true, results: [vs, account(vs)] }));
  assert.deepEqual(changes(r, r.before), expected);
  assertServed(r.w, { ok: true, results: [2, account(2)] });
}

/** The 32-bit words of a 64-bit value at `off` that differ between `was` and `now`. */
function changed64(label: string, off: number, was: number, now: number): string[] {
  const half = (v: number, i: number) => (i === 0 ? v % 2 ** 32 : Math.floor(v / 2 ** 32));
  return [0, 1]
    .filter((i) => half(was, i) !== half(now, i))
    .map((i) => changed(label, off + i * 4, half(was, i), half(now, i)));
}

/** The words unbinding `b` clears: its binding record and its key in the server's table. */
function unbound(b: Binding): string[] {
  const rec = b.server.id * 32;
  const c = `${b.client.name} bindings`;
  return [
    ...changed64(c, rec, b.index, 0),
    ...changed64(c, rec + 8, b.slot, 0),
    ...changed64(c, rec + 16, b.key, 0),
    ...changed64(c, rec + 24, b.buffer, 0),
    ...changed64(`${b.server.process.name} keys`, b.slot * 8, b.key, 0),
  ].sort();
}

eachKernel(
  test,
  'a wrong key is refused (BadKey) before the handler runs; the same client with its own key is then served',
  (name) => {
    const got: CallResult[] = [];
    const r = keyScenario(name, function* (_u, { x, call }) {
      got.push(yield* call({ forgeKey: x.key + 1 }));
      got.push(yield* call({ forgeKey: 0 }));
      got.push(yield* call({}));
    });
    assert.deepEqual(got.map(strip), [
      refused(SbError.BadKey),
      refused(SbError.BadKey),
      { ok: true, results: [1, account(1)] },
    ]);
    assert.equal(r.runs(), 2 + 1 + 1, "V's two, X's one honest call, the witness's");
    assert.equal(r.d.get('vmexits'), 0);
    assertKeysContained(r);
  },
);

eachKernel(test, "another client's key presented at one's own slot is refused (BadKey)", (name) => {
  const got: CallResult[] = [];
  const r = keyScenario(name, function* (_u, { v, call }) {
    got.push(yield* call({ forgeKey: v.key }));
  });
  assert.deepEqual(got.map(strip), [refused(SbError.BadKey)]);
  assert.equal(r.runs(), 2 + 1);
  assertKeysContained(r);
});

eachKernel(
  test,
  'a slot outside the key table (512: the busy bitmap, 513: maxConcurrent, -1, 2^40, 0.5) is refused (BadKey)',
  (name) => {
    const got: CallResult[] = [];
    const r = keyScenario(name, function* (_u, { call }) {
      got.push(yield* call({ forgeSlot: MAX_CLIENTS, forgeKey: 1 }));
      got.push(yield* call({ forgeSlot: MAX_CLIENTS + 1, forgeKey: 1 }));
      got.push(yield* call({ forgeSlot: -1, forgeKey: 0 }));
      got.push(yield* call({ forgeSlot: 2 ** 40, forgeKey: 0 }));
      got.push(yield* call({ forgeSlot: 0.5, forgeKey: 0 }));
    });
    assert.deepEqual(got.map(strip), Array(5).fill(refused(SbError.BadKey)));
    assert.equal(r.runs(), 2 + 1, 'no forged call reached the handler');
    assertKeysContained(r);
  },
);

eachKernel(
  test,
  "unregistered, a call is NotBound (even presenting the old slot and key); re-registered, the old key is refused (BadKey) and the new one works; a departed client's slot and key are refused (BadKey)",
  (name) => {
    const got: CallResult[] = [];
    const r = keyScenario(name, function* (_u, { sb, x, call }) {
      got.push(yield* call({}));
      // Unregistration is the kernel's; here it runs as if X had made the system call.
      sb.unregisterClient(x);
      got.push(yield* call({}));
      // Its binding page no longer names the server: the honest trampoline does not switch.
      got.push(yield* call({ forgeSlot: x.slot, forgeKey: x.key }));
    });
    assert.deepEqual(got.map(strip), [
      { ok: true, results: [1, account(1)] },
      refused(SbError.NotBound),
      refused(SbError.NotBound),
    ]);
    // Exactly X's binding record and its key-table entry were cleared.
    assertKeysContained(r, unbound(r.xb));

    // Re-registration (kernel mode, between runs): a new key in the same slot.
    const { m, k, sb, sid, x, vb, xb } = r;
    const nb = sb.registerClient(m.core(0), x.p, sid);
    assert.equal(nb.slot, xb.slot);
    assert.notEqual(nb.key, xb.key);
    const again: CallResult[] = [];
    const t = k.createThread(x.p, 'X2', (u) =>
      (function* () {
        const call = (o: CallOptions) => directServerCall(sb, u, sid, [0], o);
        again.push(yield* call({ forgeKey: xb.key }));
        again.push(yield* call({}));
        // V leaves; X presents V's slot with V's old key, and with 0 (the emptied entry).
        sb.unregisterClient(vb);
        again.push(yield* call({ forgeSlot: vb.slot, forgeKey: vb.key }));
        again.push(yield* call({ forgeSlot: vb.slot, forgeKey: 0 }));
      })(),
    );
    // The witness calls again afterwards.
    let wAgain: CallResult | null = null;
    k.createThread(r.w.w.p, 'W2', (u) =>
      (function* () {
        wAgain = yield* directServerCall(sb, u, sid, [0]);
      })(),
    );
    k.run(10_000);
    assert.equal(t.state, ThreadState.Exited, t.exitReason);
    assert.deepEqual(wAgain, { ok: true, results: [2, account(2)] });
    assert.deepEqual(again.map(strip), [
      refused(SbError.BadKey),
      { ok: true, results: [nb.slot, account(nb.slot)] },
      refused(SbError.BadKey),
      refused(SbError.BadKey),
    ]);
    assert.equal(
      r.runs(),
      2 + 1 + 1 + 1 + 1,
      "only honest calls ran it: V's, X's, W's, X2's, W2's",
    );
    // Against the image before the first run: X's record names the new key and buffer, S's table the new key
    // at X's slot, and V's record and key are gone. Nothing else.
    const rec = sid * 32;
    assert.deepEqual(
      changes(r, r.before).sort(),
      [
        ...changed64('X bindings', rec + 16, xb.key, nb.key),
        ...changed64('X bindings', rec + 24, xb.buffer, nb.buffer),
        ...changed64('S keys', nb.slot * 8, xb.key, nb.key),
        ...unbound(vb),
      ].sort(),
    );
    assert.deepEqual(words(m, r.s.p, ACCOUNTS, 3), [account(0), account(1), account(2)]);
  },
);

// ---- 6, 7, 8: a malicious or faulty server ------------------------------------------------

type Misdeed = (u: UserApi, call: ServerCall, ctx: { sb: SkyBridge; tid: number }) => void;

/**
 * Server S (maxConcurrent 1) whose first call runs `misdeed` before returning [7]; every later
 * call is honest ([2·a, S's first data word]). C is bound to S and to server T (answers
 * [a + 1]); C writes 0x11111111 into its buffer with S, calls S (the misdeed), S again, T;
 * then the witness calls S.
 */
function serverScenario(name: KernelName, misdeed: Misdeed) {
  const env = bootWorld(name);
  const { m, k, sb } = env;
  const s = proc(k, 'S');
  const t = proc(k, 'T');
  const c = proc(k, 'C');
  let calls = 0;
  const sid = sb.registerServer(
    s.p,
    (u, call) =>
      (function* () {
        if (calls++ === 0) {
          misdeed(u, call, { sb, tid });
          return [7];
        }
        return [call.args[0]! * 2, u.load32(USER_DATA)];
      })(),
    1,
  );
  const tid = sb.registerServer(
    t.p,
    (_u, call) =>
      (function* () {
        return [call.args[0]! + 1];
      })(),
    1,
  );
  const cs = sb.registerClient(m.core(0), c.p, sid);
  sb.registerClient(m.core(0), c.p, tid);
  const w = witness(env, sid, [21]);
  const results: CallResult[] = [];
  const after: number[] = [];
  const cThread = k.createThread(c.p, 'C', (u) =>
    (function* () {
      u.store32(cs.buffer, 0x1111_1111);
      results.push(yield* directServerCall(sb, u, sid, [1]));
      results.push(yield* directServerCall(sb, u, sid, [2]));
      results.push(yield* directServerCall(sb, u, tid, [3]));
      for (let i = 0; i < 8; i++) after.push(u.load32(USER_DATA + i * 4));
      after.push(u.load32(cs.buffer));
    })(),
  );
  const before = settle(env);
  k.run(50_000);
  return { ...env, s, t, c, sid, tid, cs, results, after, cThread, w, before };
}

type ServerRun = ReturnType<typeof serverScenario>;

/** C's later calls answered, C reads its own memory, both servers' stack bookkeeping idle,
 *  only `expected` words changed besides C's own buffer word, the witness served. */
function assertServerContained(r: ServerRun, buffer: number, expected: string[] = []): void {
  assert.equal(r.cThread.state, ThreadState.Exited, r.cThread.exitReason);
  const sData = secretOf(r.s.p)[0]!;
  assert.deepEqual(r.results.slice(1), [
    { ok: true, results: [4, sData] },
    { ok: true, results: [4] },
  ]);
  assert.deepEqual(
    r.after,
    [...secretOf(r.c.p), buffer],
    "C's own data and buffer as C reads them",
  );
  // [busy, maxConcurrent, server ID] as 64-bit words: no stack held, nothing rewritten.
  assert.deepEqual(words(r.m, r.s.p, SERVER_STATE_VA, 6), [0, 0, 1, 0, r.sid, 0]);
  assert.deepEqual(words(r.m, r.t.p, SERVER_STATE_VA, 6), [0, 0, 1, 0, r.tid, 0]);
  assert.equal(r.c.p.killed, false);
  assert.equal(r.t.p.killed, false);
  assert.equal(r.s.p.killed, false);
  assert.deepEqual(
    changes(r, r.before).sort(),
    [changed('C→S buffer', 0, 0, buffer), ...expected].sort(),
  );
  assertServed(r.w, { ok: true, results: [42, sData] });
}

eachKernel(
  test,
  'the server reads and writes USER_DATA: its own memory, never the client’s; the shared buffer is the one page both see',
  (name) => {
    let sawData = 0;
    let sawBuffer = 0;
    const r = serverScenario(name, (u, call) => {
      sawData = u.load32(USER_DATA);
      u.store32(USER_DATA + 0x40, 0xbad0_0bad);
      sawBuffer = u.load32(call.buffer);
      u.store32(call.buffer, 0x5a5a_5a5a);
    });
    assert.equal(sawData, secretOf(r.s.p)[0], "S's own word, not C's secret");
    assert.equal(sawBuffer, 0x1111_1111, 'the buffer holds what C wrote');
    assert.deepEqual(r.results[0], { ok: true, results: [7] });
    const page = (p: typeof r.c.p) => walk(r.m, p.space.userRoot, r.cs.buffer);
    assert.ok(page(r.c.p) !== null && page(r.c.p) === page(r.s.p), 'one physical page');
    assert.equal(walk(r.m, r.t.p.space.userRoot, r.cs.buffer), null, 'not mapped in T');
    assertServerContained(r, 0x5a5a_5a5a, [changed('S data', 0x40, 0, 0xbad0_0bad)]);
  },
);

eachKernel(
  test,
  'a page fault in the handler: the client gets ServerFault, the server is not killed and serves the next call (its stack was freed)',
  (name) => {
    const r = serverScenario(name, (u) => {
      u.load32(0x5000_0000); // mapped in nobody
    });
    assert.deepEqual(strip(r.results[0]!), refused(SbError.ServerFault));
    assert.match((r.results[0] as { why: string }).why, /^exception 14 in server 1 /);
    assertServerContained(r, 0x1111_1111);
  },
);

eachKernel(
  test,
  "a server that VMFUNCs to another server in the caller's list (T) before returning: BadReturn, T's stack bookkeeping untouched",
  (name) => {
    const r = serverScenario(name, (u, _call, { sb, tid }) => {
      u.regs.set(R.RAX, 0);
      u.regs.set(R.RCX, tid);
      vmfunc(u.core, sb.trampoline.vmfuncCall);
    });
    assert.deepEqual(strip(r.results[0]!), refused(SbError.BadReturn));
    assertServerContained(r, 0x1111_1111);
  },
);

eachKernel(
  test,
  "a server that VMFUNCs back to the caller's view (index 0) before returning: ServerFault, not a normal result",
  (name) => {
    const r = serverScenario(name, (u, _call, { sb }) => {
      u.regs.set(R.RAX, 0);
      u.regs.set(R.RCX, 0);
      vmfunc(u.core, sb.trampoline.vmfuncReturn);
    });
    // The trampoline's serverLeave then runs in C's view, where S's state page is not mapped.
    assert.deepEqual(strip(r.results[0]!), refused(SbError.ServerFault));
    assertServerContained(r, 0x1111_1111);
  },
);
