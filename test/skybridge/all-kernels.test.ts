// The SkyBridge security suite on each Subkernel (issue 6), part 1: direct calls and chains,
// and illegal VMFUNC. Every case boots seL4, Fiasco.OC and Zircon in turn with
// bootKernel(name, m, cfg, [sb]) and uses only SkyBridge and the generic Subkernel API, so
// it means the same on each. Each asserts exactly which words of which process changed (read
// from physical memory through the process's page table) and that a client that took no
// part (the witness) is served afterwards. Parts 2 and 3: all-kernels-server.test.ts,
// all-kernels-concurrency.test.ts.
//
// Without a kernel's yield, threads of equal priority on one core with no timer run one
// after the other, in the order they were made: that order is each scenario's script.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { R } from '../../src/hw/core.ts';
import { vmfunc } from '../../src/hw/vmx.ts';
import { USER_DATA } from '../../src/kernel/layout.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import type { UserApi } from '../../src/kernel/user.ts';
import { directServerCall, type CallResult } from '../../src/skybridge/direct-call.ts';
import { SERVER_STATE_VA, TRAMPOLINE_VA } from '../../src/skybridge/layout.ts';
import type { SkyBridge } from '../../src/skybridge/skybridge.ts';
import {
  assertServed,
  bootWorld,
  changed,
  changes,
  eachKernel,
  proc,
  revokedWords,
  secretOf,
  settle,
  witness,
  words,
  type KernelName,
} from './kernels-world.ts';

const PER_CALL = { syscalls: 0, vmexits: 0 };

// ---- 1, 2: calls that work ----------------------------------------------------------------

eachKernel(
  test,
  "a direct call runs the handler in the server's address space and returns its results: no system call, exactly 2 VMFUNCs per call",
  (name) => {
    const env = bootWorld(name);
    const { m, k, sb } = env;
    const s = proc(k, 'S', (t) => ({ handler: t.block(20, 64) }));
    const c = proc(k, 'C');
    const sid = sb.registerServer(
      s.p,
      (u, call) =>
        (function* () {
          u.run(s.at.handler);
          return [call.args[0]! + call.args[1]!, u.load32(USER_DATA)];
        })(),
      1,
    );
    sb.registerClient(m.core(0), c.p, sid);
    const w = witness(env, sid, [20, 1]);
    const before = settle(env);
    const results: CallResult[] = [];
    const perCall: { vmfuncs: number; syscalls: number; vmexits: number }[] = [];
    const cOwn: number[] = [];
    const cThread = k.createThread(c.p, 'C', (u) =>
      (function* () {
        for (let i = 0; i < 10; i++) {
          const s0 = m.snapshot();
          results.push(yield* directServerCall(sb, u, sid, [i, 100]));
          const d = m.snapshot().minus(s0);
          perCall.push({
            vmfuncs: d.get('vmfuncs'),
            syscalls: d.get('syscalls'),
            vmexits: d.get('vmexits'),
          });
          cOwn.push(u.load32(USER_DATA));
        }
      })(),
    );
    k.run(10_000);
    const sData = secretOf(s.p)[0]!;
    assert.equal(cThread.state, ThreadState.Exited, cThread.exitReason);
    assert.deepEqual(
      results,
      Array.from({ length: 10 }, (_, i) => ({ ok: true, results: [i + 100, sData] })),
    );
    assert.deepEqual(perCall, Array(10).fill({ vmfuncs: 2, ...PER_CALL }));
    assert.deepEqual(cOwn, Array(10).fill(secretOf(c.p)[0]), 'C back in its own view');
    assert.deepEqual(changes(env, before), []);
    assertServed(w, { ok: true, results: [21, sData] });
  },
);

eachKernel(
  test,
  'a chain client → A → B: each hop in its own view, results composed, 4 VMFUNCs and no system call',
  (name) => {
    const env = bootWorld(name);
    const { m, k, sb } = env;
    const c = proc(k, 'C');
    const a = proc(k, 'A');
    const b = proc(k, 'B');
    const sidB = sb.registerServer(
      b.p,
      (u, call) =>
        (function* () {
          return [call.args[0]! * 2, u.load32(USER_DATA)];
        })(),
      1,
    );
    const sidA = sb.registerServer(
      a.p,
      (u, call) =>
        (function* () {
          const r = yield* directServerCall(sb, u, sidB, [call.args[0]! + 1]);
          if (!r.ok) return [r.error];
          return [...r.results, u.load32(USER_DATA)];
        })(),
      1,
    );
    sb.registerClient(m.core(0), a.p, sidB);
    sb.registerClient(m.core(0), c.p, sidA);
    const w = witness(env, sidA, [20]);
    const before = settle(env);
    const results: CallResult[] = [];
    const perCall: { vmfuncs: number; syscalls: number; vmexits: number }[] = [];
    const cOwn: number[] = [];
    k.createThread(c.p, 'C', (u) =>
      (function* () {
        for (const x of [5, 6]) {
          const s0 = m.snapshot();
          results.push(yield* directServerCall(sb, u, sidA, [x]));
          const d = m.snapshot().minus(s0);
          perCall.push({
            vmfuncs: d.get('vmfuncs'),
            syscalls: d.get('syscalls'),
            vmexits: d.get('vmexits'),
          });
          cOwn.push(u.load32(USER_DATA));
        }
      })(),
    );
    k.run(10_000);
    const [aData, bData] = [secretOf(a.p)[0]!, secretOf(b.p)[0]!];
    assert.deepEqual(results, [
      { ok: true, results: [12, bData, aData] },
      { ok: true, results: [14, bData, aData] },
    ]);
    assert.deepEqual(perCall, Array(2).fill({ vmfuncs: 4, ...PER_CALL }));
    assert.deepEqual(cOwn, Array(2).fill(secretOf(c.p)[0]));
    assert.deepEqual(changes(env, before), []);
    assertServed(w, { ok: true, results: [42, bData, aData] });
  },
);

// ---- 3, 4: illegal VMFUNC -----------------------------------------------------------------

/**
 * Server S (answers [2·a, its own first data word]); victim client A (calls S before, from
 * thread A1, and after, from A2); attacker X, itself bound to S, whose thread X1 runs
 * `attack` and whose thread X2 then works; a witness W calls S last. With `before`: client Y,
 * bound to S (index 1) and S2 (index 2), calls S2 just before X1, so the core's EPTP-list page
 * last held Y's list.
 */
function scenario(
  name: KernelName,
  attack: (u: UserApi, at: { plain: number; sb: SkyBridge }) => void,
  opts: { before?: boolean } = {},
) {
  const env = bootWorld(name);
  const { m, k, sb } = env;
  const s = proc(k, 'S');
  const a = proc(k, 'A');
  const x = proc(k, 'X', (t) => ({ plain: t.block(4, 16).at }));
  const sid = sb.registerServer(
    s.p,
    (u, call) =>
      (function* () {
        return [call.args[0]! * 2, u.load32(USER_DATA)];
      })(),
    2,
  );
  sb.registerClient(m.core(0), a.p, sid);
  sb.registerClient(m.core(0), x.p, sid);
  let yResult: CallResult | null = null;
  let yThread: (() => void) | null = null;
  if (opts.before) {
    const s2 = proc(k, 'S2');
    const y = proc(k, 'Y');
    const sid2 = sb.registerServer(
      s2.p,
      (_u, c) =>
        (function* () {
          return [c.args[0]! + 5];
        })(),
      1,
    );
    sb.registerClient(m.core(0), y.p, sid);
    assert.equal(sb.registerClient(m.core(0), y.p, sid2).index, 2);
    yThread = () =>
      void k.createThread(y.p, 'Y', (u) =>
        (function* () {
          yResult = yield* directServerCall(sb, u, sid2, [1]);
        })(),
      );
  }
  const w = witness(env, sid, [21]);
  const aResults: CallResult[] = [];
  const aData: number[] = [];
  let x1Reached = false;
  let x2Done = 0;
  const a1 = k.createThread(a.p, 'A1', (u) =>
    (function* () {
      aResults.push(yield* directServerCall(sb, u, sid, [1]));
    })(),
  );
  yThread?.();
  const x1 = k.createThread(x.p, 'X1', (u) =>
    (function* () {
      attack(u, { ...x.at, sb });
      x1Reached = true;
    })(),
  );
  const x2 = k.createThread(x.p, 'X2', (u) =>
    (function* () {
      for (let i = 0; i < 3; i++) {
        u.run(x.work);
        x2Done++;
      }
    })(),
  );
  const a2 = k.createThread(a.p, 'A2', (u) =>
    (function* () {
      aResults.push(yield* directServerCall(sb, u, sid, [2]));
      aData.push(u.load32(USER_DATA));
    })(),
  );
  const before = settle(env);
  const s0 = m.snapshot();
  k.run(50_000);
  const d = m.snapshot().minus(s0);
  return {
    ...env,
    s,
    a,
    x,
    a1,
    a2,
    x1,
    x2,
    w,
    d,
    before,
    aResults,
    aData,
    x1Reached,
    x2Done,
    yResult: yResult as CallResult | null,
  };
}

type Scenario = ReturnType<typeof scenario>;

/** A's calls answered with S's data, A in its own view afterwards, only `expected` words
 *  changed anywhere, S serves the witness. */
function assertContained(r: Scenario, expected: string[] = []): void {
  const sData = secretOf(r.s.p)[0]!;
  for (const t of [r.a1, r.a2]) assert.equal(t.state, ThreadState.Exited, t.exitReason);
  assert.deepEqual(r.aResults, [
    { ok: true, results: [2, sData] },
    { ok: true, results: [4, sData] },
  ]);
  assert.deepEqual(r.aData, [secretOf(r.a.p)[0]]);
  assert.equal(r.s.p.killed, false);
  assert.equal(r.a.p.killed, false);
  assert.deepEqual(changes(r, r.before).sort(), [...expected].sort());
  assertServed(r.w, { ok: true, results: [42, sData] });
}

function assertKilledByVmExit(r: Scenario): void {
  assert.equal(r.x1Reached, false);
  assert.equal(r.x.p.killed, true);
  assert.match(
    r.x.p.killReason,
    new RegExp(`^VM exit 59 at ${r.sb.trampoline.vmfuncCall.toString(16)} `),
  );
  assert.equal(r.x1.state, ThreadState.Stopped);
  assert.equal(r.x2.state, ThreadState.Stopped, 'the whole process dies: X2 too');
  assert.equal(r.x2Done, 0, 'X2 never ran');
  assert.equal(r.d.get('vmexit.vmfunc'), 1);
}

for (const index of [7, 600]) {
  eachKernel(
    test,
    `VMFUNC at the trampoline's own site to EPTP index ${index}, not in the list: VM exit 59, the process is killed, the others carry on`,
    (name) => {
      const r = scenario(name, (u, at) => {
        u.regs.set(R.RAX, 0);
        u.regs.set(R.RCX, index);
        vmfunc(u.core, at.sb.trampoline.vmfuncCall);
      });
      assertKilledByVmExit(r);
      // Killing X revoked its binding: its key slot in S and its binding record are cleared.
      assertContained(r, revokedWords(r, r.before, r.x.p));
    },
  );
}

eachKernel(
  test,
  "VMFUNC to index 2, bound in the list of the process that ran just before on this core but not in X's: cleared on the switch, VM exit 59, X is killed",
  (name) => {
    const r = scenario(
      name,
      (u, at) => {
        u.regs.set(R.RAX, 0);
        u.regs.set(R.RCX, 2);
        vmfunc(u.core, at.sb.trampoline.vmfuncCall);
      },
      { before: true },
    );
    assert.deepEqual(r.yResult, { ok: true, results: [6] }, 'Y really used its index 2');
    assertKilledByVmExit(r);
    assertContained(r, revokedWords(r, r.before, r.x.p));
  },
);

eachKernel(
  test,
  'the loader refuses an image that contains VMFUNC (0F 01 D4) as an instruction, inside another, or across two',
  (name) => {
    const { k, sb } = bootWorld(name);
    const before = k.processes.length;
    assert.throws(
      () => k.createProcess('x1', (t) => void t.insn('vmfunc')),
      /process x1: 1 VMFUNC byte sequence\(s\) \(0F 01 D4\) in its code; the loader refuses it/,
    );
    assert.throws(
      () => k.createProcess('x2', (t) => void t.raw(Uint8Array.of(0xb8, 0x0f, 0x01, 0xd4, 0x00))),
      /process x2: 1 VMFUNC byte sequence/,
    );
    assert.throws(
      () => k.createProcess('x3', (t) => void t.raw(Uint8Array.of(0xb0, 0x0f, 0x01, 0xd4))),
      /process x3: 1 VMFUNC byte sequence/,
    );
    assert.equal(k.processes.length, before, 'no process was created');
    const tr = sb.trampoline;
    for (const at of [tr.vmfuncCall, tr.vmfuncReturn])
      assert.deepEqual(
        Array.from(tr.code.bytes.subarray(at - TRAMPOLINE_VA, at - TRAMPOLINE_VA + 3)),
        [0x0f, 0x01, 0xd4],
      );
  },
);

/** Page-fault error code bits (SDM Vol. 3A §4.7). */
const PF = { P: 1, U: 4, ID: 16 } as const;

eachKernel(
  test,
  'VMFUNC bytes written into its own data page and executed there: #PF (fetch from NX), only that thread stops',
  (name) => {
    const site = USER_DATA + 0x100;
    const r = scenario(name, (u) => {
      u.writeBytes(site, Uint8Array.of(0x0f, 0x01, 0xd4));
      u.regs.set(R.RAX, 0);
      u.regs.set(R.RCX, 1);
      vmfunc(u.core, site);
    });
    assert.equal(r.x1Reached, false);
    assert.equal(r.x1.state, ThreadState.Stopped);
    assert.match(
      r.x1.exitReason,
      new RegExp(
        `^exception 14 at [0-9a-f]+ \\(address ${site.toString(16)}, error ${PF.P | PF.U | PF.ID}\\)$`,
      ),
    );
    assert.equal(r.x.p.killed, false, 'a #PF stops the thread, not the process');
    assert.equal(r.x2.state, ThreadState.Exited, r.x2.exitReason);
    assert.equal(r.x2Done, 3, "X's other thread keeps running");
    assert.equal(r.d.get('vmfuncs'), 6, 'only the trampoline switched: A 2 calls, W 1');
    assert.equal(r.d.get('vmexits'), 0);
    // X's own page holds the bytes it wrote (which were never executed); nothing else changed.
    assertContained(r, [changed('X data', 0x100, 0, 0x00d4_010f)]);
  },
);

eachKernel(
  test,
  'VMFUNC "executed" at an address of its own text that holds other bytes: #UD, only that thread stops',
  (name) => {
    const r = scenario(name, (u, at) => {
      u.regs.set(R.RAX, 0);
      u.regs.set(R.RCX, 1);
      vmfunc(u.core, at.plain);
    });
    assert.equal(r.x1Reached, false);
    assert.equal(r.x1.state, ThreadState.Stopped);
    assert.match(r.x1.exitReason, /^exception 6 at [0-9a-f]+$/);
    assert.equal(r.x.p.killed, false);
    assert.equal(r.x2Done, 3);
    assert.equal(r.d.get('vmfuncs'), 6);
    assert.equal(r.d.get('vmexits'), 0);
    assertContained(r);
  },
);

eachKernel(
  test,
  "a client killed (its other thread's VMFUNC to index 7) while one of its threads is inside a chain A → B, preempted: both servers' stacks are given back, another client is served through A and B",
  (name) => {
    const env = bootWorld(name, { tickCycles: 5_000, timesliceTicks: 1 });
    const { m, k, sb } = env;
    const a = proc(k, 'A');
    const b = proc(k, 'B', (t) => ({ long: t.block(200, 600) }));
    let inside = false;
    const sidB = sb.registerServer(
      b.p,
      (u, call) =>
        (function* () {
          if (call.args[1] === 1) {
            inside = true;
            for (let i = 0; i < 1000; i++) {
              u.run(b.at.long);
              yield* u.poll();
            }
          }
          return [call.args[0]! * 2, u.load32(USER_DATA)];
        })(),
      1,
    );
    const sidA = sb.registerServer(
      a.p,
      (u, call) =>
        (function* () {
          const r = yield* directServerCall(sb, u, sidB, [call.args[0]! + 1, call.args[1]!]);
          return r.ok ? [...r.results, u.load32(USER_DATA)] : [r.error];
        })(),
      1,
    );
    sb.registerClient(m.core(0), a.p, sidB);
    const x = proc(k, 'X');
    sb.registerClient(m.core(0), x.p, sidA);
    const w = witness(env, sidA, [20, 0], { after: () => x.p.killed });
    let xResult: CallResult | null = null;
    const x1 = k.createThread(x.p, 'X1', (u) =>
      (function* () {
        xResult = yield* directServerCall(sb, u, sidA, [5, 1]);
      })(),
    );
    k.createThread(x.p, 'X2', (u) =>
      (function* () {
        while (!inside) {
          u.run(x.work);
          yield* u.poll();
        }
        u.regs.set(R.RAX, 0);
        u.regs.set(R.RCX, 7);
        vmfunc(u.core, sb.trampoline.vmfuncCall);
      })(),
    );
    const before = settle(env);
    k.run(200_000);
    assert.equal(x.p.killed, true);
    assert.match(x.p.killReason, /^VM exit 59 at /);
    assert.equal(x1.state, ThreadState.Stopped, 'X1 died inside B');
    assert.equal(xResult, null);
    for (const [p, sid] of [
      [a.p, sidA],
      [b.p, sidB],
    ] as const)
      assert.deepEqual(words(m, p, SERVER_STATE_VA, 6), [0, 0, 1, 0, sid, 0], `${p.name}'s stack`);
    // X's binding to A was revoked when X was killed.
    assert.deepEqual(changes(env, before).sort(), revokedWords(env, before, x.p));
    assertServed(w, { ok: true, results: [42, secretOf(b.p)[0]!, secretOf(a.p)[0]!] });
  },
);
