// Security (issue 4): calls that overlap. With the timer on (a tick every 5,000 cycles, a
// timeslice of one tick), a handler that polls is preempted in the middle of a call; the
// kernel runs other threads in their own address spaces and resumes the preempted one in the
// server's view (its identity page). More concurrent callers than server stacks get Busy;
// a client that unregisters while one of its threads is inside the server gets BadReturn.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { USER_DATA } from '../../src/kernel/layout.ts';
import type { UserApi } from '../../src/kernel/user.ts';
import { directServerCall, type CallResult } from '../../src/skybridge/direct-call.ts';
import { SERVER_STATE_VA, SbError } from '../../src/skybridge/layout.ts';
import { bootSkyBridge } from './fixture.ts';
import {
  assertSecretsIntact,
  assertServed,
  plantSecrets,
  prog,
  secretOf,
  witness,
  words,
} from './world.ts';

const TIMER = { tickCycles: 5_000, timesliceTicks: 1 };

/** Server S: a call with args [a, 1] loops (reading S's first data word each time, with a
 *  preemption point) until `until()` holds; any other call answers at once. Returns
 *  [2·a, what every read saw if all were equal, else -1]. */
function setup(maxConcurrent: number, until: () => boolean) {
  const env = bootSkyBridge(TIMER);
  const { k, sb } = env;
  const s = prog(k, 'S', (t) => ({ long: t.block(200, 600) }));
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
  return { ...env, s, sid, reads, preempted: () => preempted };
}

const strip = (c: CallResult) => (c.ok ? c : { ok: c.ok, error: c.error });

test('more concurrent callers than server stacks: the second caller gets Busy while the first is inside (preempted), the first completes, and a later call succeeds', () => {
  let bTried = false;
  const env = setup(1, () => bTried);
  const { m, k, sb, s, sid } = env;
  const a = prog(k, 'A');
  const b = prog(k, 'B');
  sb.registerClient(m.core(0), a.p, sid);
  sb.registerClient(m.core(0), b.p, sid);
  plantSecrets(m, [s.p, a.p, b.p]);
  const sData = secretOf(s.p)[0]!;
  let aResult: CallResult | null = null;
  const bResults: CallResult[] = [];
  const busyDuring: number[] = [];
  k.createThread(a.p, 'A', (u) =>
    (function* () {
      aResult = yield* directServerCall(sb, u, sid, [5, 1]);
    })(),
  );
  k.createThread(b.p, 'B', (u) =>
    (function* () {
      bResults.push(yield* directServerCall(sb, u, sid, [6, 0]));
      bTried = true;
      busyDuring.push(u.load32(USER_DATA));
      while (aResult === null) {
        u.run(b.work);
        yield* u.poll();
      }
      bResults.push(yield* directServerCall(sb, u, sid, [7, 0]));
    })(),
  );
  const w = witness(env, sid, [21, 0], { after: () => bResults.length === 2 });
  k.run(200_000);
  assert.ok(env.preempted() >= 1, 'the first call was preempted inside the handler');
  assert.deepEqual(bResults.map(strip), [
    { ok: false, error: SbError.Busy },
    { ok: true, results: [14, sData] },
  ]);
  assert.deepEqual(aResult, { ok: true, results: [10, sData] });
  assert.deepEqual(busyDuring, [secretOf(b.p)[0]], 'B back in its own view after Busy');
  assert.deepEqual(words(m, s.p, SERVER_STATE_VA, 4), [0, 0, 1, 0], 'no stack held');
  assertSecretsIntact(m, [s.p, a.p, b.p]);
  assertServed(w, { ok: true, results: [42, sData] });
});

test('a timer preemption mid-call, then another client of the same server: both results right; meanwhile the kernel ran the other client in its own view, and the preempted call resumed in the server view', () => {
  let bDone = false;
  const env = setup(2, () => bDone);
  const { m, k, sb, s, sid } = env;
  const a = prog(k, 'A');
  const b = prog(k, 'B');
  sb.registerClient(m.core(0), a.p, sid);
  sb.registerClient(m.core(0), b.p, sid);
  plantSecrets(m, [s.p, a.p, b.p]);
  const sData = secretOf(s.p)[0]!;
  let aResult: CallResult | null = null;
  let bResult: CallResult | null = null;
  const bOwn: number[] = [];
  const aOwn: number[] = [];
  k.createThread(a.p, 'A', (u: UserApi) =>
    (function* () {
      aResult = yield* directServerCall(sb, u, sid, [5, 1]);
      aOwn.push(u.load32(USER_DATA));
    })(),
  );
  k.createThread(b.p, 'B', (u: UserApi) =>
    (function* () {
      bOwn.push(u.load32(USER_DATA));
      bResult = yield* directServerCall(sb, u, sid, [6, 0]);
      bOwn.push(u.load32(USER_DATA));
      bDone = true;
    })(),
  );
  const w = witness(env, sid, [21, 0]);
  const before = m.snapshot();
  k.run(200_000);
  const d = m.snapshot().minus(before);
  assert.ok(env.preempted() >= 1);
  assert.deepEqual(
    aResult,
    { ok: true, results: [10, sData] },
    'every read of the long call saw S',
  );
  assert.deepEqual(bResult, { ok: true, results: [12, sData] });
  assert.deepEqual(bOwn, [secretOf(b.p)[0], secretOf(b.p)[0]], "B's loads saw B's memory");
  assert.deepEqual(aOwn, [secretOf(a.p)[0]], 'A is back in its own view after the call');
  assert.ok(env.reads.length > 2 && env.reads.every((x) => x === sData));
  assert.ok(
    d.get('vmfuncs') >= 3 * 2 + 2,
    'the trampoline’s, plus the kernel’s out of and back into S',
  );
  assertSecretsIntact(m, [s.p, a.p, b.p]);
  assertServed(w, { ok: true, results: [42, sData] });
});

test('a client unregisters while its other thread is inside the server: that call returns BadReturn (key revoked), the server and everyone else are unharmed', () => {
  let unregistered = false;
  const env = setup(1, () => unregistered);
  const { m, k, sb, s, sid } = env;
  const c = prog(k, 'C');
  const binding = sb.registerClient(m.core(0), c.p, sid);
  plantSecrets(m, [s.p, c.p]);
  const sData = secretOf(s.p)[0]!;
  let aResult: CallResult | null = null;
  let after: CallResult | null = null;
  k.createThread(c.p, 'CA', (u) =>
    (function* () {
      aResult = yield* directServerCall(sb, u, sid, [5, 1]);
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
  k.run(200_000);
  assert.ok(env.preempted() >= 1);
  assert.equal(strip(aResult!).ok, false);
  assert.deepEqual(strip(aResult!), { ok: false, error: SbError.BadReturn });
  assert.deepEqual(strip(after!), { ok: false, error: SbError.NotBound });
  assert.deepEqual(words(m, s.p, SERVER_STATE_VA, 4), [0, 0, 1, 0], 'the stack was released');
  assertSecretsIntact(m, [s.p, c.p]);
  assertServed(w, { ok: true, results: [42, sData] });
});
