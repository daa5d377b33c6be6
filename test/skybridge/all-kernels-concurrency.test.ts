// The SkyBridge security suite on each Subkernel (issue 6), part 3: calls that overlap under
// timer preemption (a tick every 5,000 cycles, a timeslice of one tick). A handler that polls
// is preempted mid-call; the kernel runs other threads in their own views and resumes the
// preempted one in the server's (its identity page), through each kernel's own interrupt
// entry, scheduler and exit path. See all-kernels.test.ts for how the cases are run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { USER_DATA } from '../../src/kernel/layout.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import { directServerCall, type CallResult } from '../../src/skybridge/direct-call.ts';
import { SERVER_STATE_VA, SbError } from '../../src/skybridge/layout.ts';
import {
  assertServed,
  bootWorld,
  changes,
  eachKernel,
  proc,
  secretOf,
  settle,
  strip,
  witness,
  words,
  type KernelName,
} from './kernels-world.ts';

const TIMER = { tickCycles: 5_000, timesliceTicks: 1 };

/** Server S: a call with args [a, 1] loops (reading S's first data word each time, with a
 *  preemption point) until `until()` holds; any other call answers at once. Returns
 *  [2·a, what every read saw if all were equal, else -1]. Clients A and B are bound to it. */
function setup(name: KernelName, maxConcurrent: number, until: () => boolean) {
  const env = bootWorld(name, TIMER);
  const { m, k, sb } = env;
  const s = proc(k, 'S', (t) => ({ long: t.block(200, 600) }));
  const reads: number[] = [];
  let preempted = 0;
  const sid = sb.registerServer(
    s.p,
    (u, call) =>
      (function* () {
        const seen: number[] = [u.load32(USER_DATA)];
        if (call.args[1] === 1) {
          for (let i = 0; i < 10_000 && !until(); i++) {
            u.run(s.at.long);
            const before = u.core.cycles;
            yield* u.poll();
            if (u.core.cycles !== before) preempted++;
            seen.push(u.load32(USER_DATA));
          }
        }
        reads.push(...seen);
        return [call.args[0]! * 2, seen.every((x) => x === seen[0]) ? seen[0]! : -1];
      })(),
    maxConcurrent,
  );
  const a = proc(k, 'A');
  const b = proc(k, 'B');
  sb.registerClient(m.core(0), a.p, sid);
  sb.registerClient(m.core(0), b.p, sid);
  return { ...env, s, a, b, sid, reads, preempted: () => preempted };
}

eachKernel(
  test,
  'more concurrent callers than server stacks: the second caller gets Busy while the first is inside (preempted), the first completes, a later call succeeds',
  (name) => {
    let bTried = false;
    const env = setup(name, 1, () => bTried);
    const { m, k, sb, s, a, b, sid } = env;
    let aResult: CallResult | null = null;
    const bResults: CallResult[] = [];
    const bOwn: number[] = [];
    const ta = k.createThread(a.p, 'A', (u) =>
      (function* () {
        aResult = yield* directServerCall(sb, u, sid, [5, 1]);
      })(),
    );
    const tb = k.createThread(b.p, 'B', (u) =>
      (function* () {
        bResults.push(yield* directServerCall(sb, u, sid, [6, 0]));
        bTried = true;
        bOwn.push(u.load32(USER_DATA));
        while (aResult === null) {
          u.run(b.work);
          yield* u.poll();
        }
        bResults.push(yield* directServerCall(sb, u, sid, [7, 0]));
      })(),
    );
    const w = witness(env, sid, [21, 0], { after: () => bResults.length === 2 });
    const before = settle(env);
    k.run(200_000);
    const sData = secretOf(s.p)[0]!;
    assert.ok(env.preempted() >= 1, 'the first call was preempted inside the handler');
    for (const t of [ta, tb]) assert.equal(t.state, ThreadState.Exited, t.exitReason);
    assert.deepEqual(bResults.map(strip), [
      { ok: false, error: SbError.Busy },
      { ok: true, results: [14, sData] },
    ]);
    assert.deepEqual(aResult, { ok: true, results: [10, sData] });
    assert.deepEqual(bOwn, [secretOf(b.p)[0]], 'B back in its own view after Busy');
    assert.deepEqual(words(m, s.p, SERVER_STATE_VA, 6), [0, 0, 1, 0, sid, 0], 'no stack held');
    assert.deepEqual(changes(env, before), []);
    assertServed(w, { ok: true, results: [42, sData] });
  },
);

eachKernel(
  test,
  "a timer preemption mid-call, then another client of the same server: both results right, the preempted handler's later loads still read S's data",
  (name) => {
    let bDone = false;
    const env = setup(name, 2, () => bDone);
    const { m, k, sb, s, a, b, sid } = env;
    let aResult: CallResult | null = null;
    let bResult: CallResult | null = null;
    const bOwn: number[] = [];
    const aOwn: number[] = [];
    k.createThread(a.p, 'A', (u) =>
      (function* () {
        aResult = yield* directServerCall(sb, u, sid, [5, 1]);
        aOwn.push(u.load32(USER_DATA));
      })(),
    );
    k.createThread(b.p, 'B', (u) =>
      (function* () {
        bOwn.push(u.load32(USER_DATA));
        bResult = yield* directServerCall(sb, u, sid, [6, 0]);
        bOwn.push(u.load32(USER_DATA));
        bDone = true;
      })(),
    );
    const w = witness(env, sid, [21, 0]);
    const before = settle(env);
    const s0 = m.snapshot();
    k.run(200_000);
    const d = m.snapshot().minus(s0);
    const sData = secretOf(s.p)[0]!;
    assert.ok(env.preempted() >= 1);
    assert.deepEqual(
      aResult,
      { ok: true, results: [10, sData] },
      'every read of the long call saw S',
    );
    assert.deepEqual(bResult, { ok: true, results: [12, sData] });
    assert.deepEqual(bOwn, [secretOf(b.p)[0], secretOf(b.p)[0]], "B's loads saw B's memory");
    assert.deepEqual(aOwn, [secretOf(a.p)[0]], 'A is back in its own view after the call');
    assert.ok(env.reads.length > 2, 'the long call read S after being resumed');
    assert.ok(env.reads.every((x) => x === sData));
    assert.ok(
      d.get('vmfuncs') >= 3 * 2 + 2,
      "the trampoline's, plus the kernel's out of and back into S",
    );
    assert.deepEqual(words(m, s.p, SERVER_STATE_VA, 6), [0, 0, 2, 0, sid, 0]);
    assert.deepEqual(changes(env, before), []);
    assertServed(w, { ok: true, results: [42, sData] });
  },
);

eachKernel(
  test,
  'a client unregisters while its other thread is inside the server: that call returns BadReturn, the stack is released, everyone else is unharmed',
  (name) => {
    let unregistered = false;
    const env = setup(name, 1, () => unregistered);
    const { m, k, sb, s, sid } = env;
    const c = proc(k, 'C');
    const binding = sb.registerClient(m.core(0), c.p, sid);
    let first: CallResult | null = null;
    let after: CallResult | null = null;
    k.createThread(c.p, 'CA', (u) =>
      (function* () {
        first = yield* directServerCall(sb, u, sid, [5, 1]);
        after = yield* directServerCall(sb, u, sid, [6, 0]);
      })(),
    );
    k.createThread(c.p, 'CB', (u) =>
      (function* () {
        u.run(c.work);
        // Unregistration is the kernel's; here it runs as if CB had made the system call.
        sb.unregisterClient(binding);
        unregistered = true;
      })(),
    );
    const w = witness(env, sid, [21, 0]);
    const before = settle(env);
    k.run(200_000);
    assert.ok(env.preempted() >= 1);
    assert.deepEqual(strip(first), { ok: false, error: SbError.BadReturn });
    assert.deepEqual(strip(after), { ok: false, error: SbError.NotBound });
    assert.deepEqual(words(m, s.p, SERVER_STATE_VA, 6), [0, 0, 1, 0, sid, 0], 'stack released');
    // Only C's binding record and its key in S's table were cleared.
    const cleared = changes(env, before);
    assert.ok(cleared.length > 0);
    assert.ok(
      cleared.every((x) => x.startsWith('C bindings+') || x.startsWith('S keys+')),
      cleared.join('\n'),
    );
    assertServed(w, { ok: true, results: [42, secretOf(s.p)[0]!] });
  },
);
