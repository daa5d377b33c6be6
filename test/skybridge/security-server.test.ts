// Security (issue 4): a malicious or faulty server. Its handler runs on the client's thread,
// in the server's address space: it sees its own memory at every address and the client's
// only through the buffer shared at registration; a fault in it comes back to the client as
// an error; a VMFUNC of its own (at the trampoline's sites, the only place one can execute)
// does not return a normal result to the client, and leaves the client's and every other
// process's memory unchanged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { R } from '../../src/hw/core.ts';
import { vmfunc } from '../../src/hw/vmx.ts';
import { USER_DATA } from '../../src/kernel/layout.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import type { UserApi } from '../../src/kernel/user.ts';
import { directServerCall, type CallResult } from '../../src/skybridge/direct-call.ts';
import { SERVER_STATE_VA, SbError } from '../../src/skybridge/layout.ts';
import type { Binding, ServerCall, SkyBridge } from '../../src/skybridge/skybridge.ts';
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

type Misdeed = (u: UserApi, call: ServerCall, ctx: { sb: SkyBridge; tid: number }) => void;

/**
 * Server S (maxConcurrent 1) whose first call from client C runs `misdeed` before returning
 * [7]; every later call is honest ([2·a, S's first data word]). C is also bound to server T
 * (answers [a + 1]). C calls S (the misdeed), S again, T; then the witness calls S.
 */
function scenario(misdeed: Misdeed) {
  const env = bootSkyBridge();
  const { m, k, sb } = env;
  const s = prog(k, 'S');
  const t = prog(k, 'T');
  const c = prog(k, 'C');
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
  const cs: Binding = sb.registerClient(m.core(0), c.p, sid);
  sb.registerClient(m.core(0), c.p, tid);
  plantSecrets(m, [s.p, t.p, c.p]);
  const results: CallResult[] = [];
  const after: number[] = [];
  const cThread = k.createThread(
    c.p,
    'C',
    (u) =>
      (function* () {
        u.store32(cs.buffer, 0x1111_1111);
        results.push(yield* directServerCall(sb, u, sid, [1]));
        results.push(yield* directServerCall(sb, u, sid, [2]));
        results.push(yield* directServerCall(sb, u, tid, [3]));
        for (let i = 0; i < 8; i++) after.push(u.load32(USER_DATA + i * 4));
        after.push(u.load32(cs.buffer));
      })(),
    { priority: 100 },
  );
  const w = witness(env, sid, [21]);
  k.run(50_000);
  const stateOf = (p: typeof s.p) => words(m, p, SERVER_STATE_VA, 4);
  return { ...env, s, t, c, sid, tid, cs, results, after, cThread, w, stateOf };
}

const strip = (c: CallResult) => (c.ok ? c : { ok: c.ok, error: c.error });

/** `first`: the errors C's first call may get (null: it must succeed). */
function assertContained(r: ReturnType<typeof scenario>, first: readonly number[] | null): void {
  assert.equal(r.cThread.state, ThreadState.Exited, r.cThread.exitReason);
  const sData = secretOf(r.s.p)[0]!;
  assert.deepEqual(r.results.map(strip).slice(1), [
    { ok: true, results: [4, sData] },
    { ok: true, results: [4] },
  ]);
  if (first !== null) {
    const r0 = r.results[0]!;
    assert.ok(!r0.ok && first.includes(r0.error), JSON.stringify(r0));
  }
  assert.deepEqual(r.after.slice(0, 8), secretOf(r.c.p), "C's own data as C reads it");
  assertSecretsIntact(r.m, [r.s.p, r.t.p, r.c.p]);
  // Both servers' stack bookkeeping is back to idle: [busy, maxConcurrent].
  assert.deepEqual(r.stateOf(r.s.p).slice(0, 3), [0, 0, 1]);
  assert.deepEqual(r.stateOf(r.t.p).slice(0, 3), [0, 0, 1]);
  assert.equal(r.c.p.killed, false);
  assert.equal(r.t.p.killed, false);
  assertServed(r.w, { ok: true, results: [42, sData] });
}

test("the server reads and writes USER_DATA: it gets and changes its own memory, never the client's; the shared buffer is the one page both see", () => {
  let sawData = 0;
  let sawBuffer = 0;
  const r = scenario((u, call) => {
    sawData = u.load32(USER_DATA);
    u.store32(USER_DATA + 0x40, 0xbad0_0bad); // S's own page, past the planted secret
    sawBuffer = u.load32(call.buffer);
    u.store32(call.buffer, 0x5a5a_5a5a);
  });
  assert.equal(sawData, secretOf(r.s.p)[0], "S's own word, not C's secret");
  assert.equal(sawBuffer, 0x1111_1111, 'the buffer holds what C wrote');
  assert.deepEqual(r.results[0], { ok: true, results: [7] });
  assert.equal(r.after[8], 0x5a5a_5a5a, 'C sees what S wrote in the buffer');
  assert.deepEqual(words(r.m, r.s.p, USER_DATA + 0x40, 1), [0xbad0_0bad]);
  assert.deepEqual(
    words(r.m, r.c.p, USER_DATA + 0x40, 1),
    [0],
    "C's word at that address untouched",
  );
  assertContained(r, null);
});

test('a page fault inside the handler: the client gets ServerFault and carries on, the server is not killed and serves the next call (its stack was released)', () => {
  const r = scenario((u) => {
    u.load32(0x5000_0000); // mapped in nobody
  });
  assert.match((r.results[0] as { why: string }).why, /^exception 14 in server 1 /);
  assert.equal(r.s.p.killed, false, "a fault is the call's, not a violation of the server");
  assertContained(r, [SbError.ServerFault]);
});

test("a server that VMFUNCs back to the caller's view (index 0, at the trampoline's return site) before returning does not hand the client a normal result", () => {
  const r = scenario((u, _call, { sb }) => {
    u.regs.set(R.RAX, 0);
    u.regs.set(R.RCX, 0);
    vmfunc(u.core, sb.trampoline.vmfuncReturn);
  });
  // In the model the trampoline's serverLeave then runs in C's view, where the key table is
  // not mapped: #PF, which the kernel attributes to the call (ServerFault) and releases S's
  // stack. (On hardware the code after that VMFUNC is clientLeave, with S's registers: S
  // knows C's key, so it can make this return pass; that is still a return from the server
  // C called, with results S chose, which S could return anyway. No other client's view is
  // in C's list, so S cannot return into a client that did not call it.)
  assert.match((r.results[0] as { why: string }).why, /^exception 14 in server 1 /);
  assertContained(r, [SbError.ServerFault]);
});

// On hardware, code after a VMFUNC is the trampoline's (the only place one can execute): S
// switching to T's view at vmfuncCall would continue at T's serverEnter and key check, with a
// key S does not know (BadKey). The model lets S's handler keep running and then return into
// the trampoline's serverLeave, which trusts that it is still in S's view: in T's view it
// releases a stack in T's bitmap (T's busy word goes to -1, so T answers Busy from then on)
// and S's own stack stays held. serverLeave now checks the server-ID word of the state page
// it finds against the ID the call entered, and refuses the return (BadReturn) otherwise.
test("a server that VMFUNCs to another server in the caller's list (C is bound to S and T; S switches to T's view) before returning: not a normal result, T untouched", () => {
  const r = scenario((u, _call, { sb, tid }) => {
    u.regs.set(R.RAX, 0);
    u.regs.set(R.RCX, tid);
    vmfunc(u.core, sb.trampoline.vmfuncCall);
  });
  assertContained(r, [SbError.BadReturn, SbError.ServerFault]);
});
