// Security (issue 4): illegal VMFUNC. VMFUNC may execute only at the trampoline's two sites
// (a page the kernel maps, never part of a loaded image); anywhere else the bytes are refused
// at load time, or are not there (#UD), or are not executable (#PF). At the trampoline, a
// VMFUNC can only reach the EPTP list the kernel installed for the running process: any other
// index is a VM exit (reason 59) and the Subkernel kills the process. In every case the
// other processes' memory is unchanged (read from physical memory) and the kernel still
// serves seL4 IPC and direct calls afterwards.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { R } from '../../src/hw/core.ts';
import { vmfunc } from '../../src/hw/vmx.ts';
import { USER_DATA } from '../../src/kernel/layout.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import { directServerCall, type CallResult } from '../../src/skybridge/direct-call.ts';
import { TRAMPOLINE_VA } from '../../src/skybridge/layout.ts';
import { bootSkyBridge } from './fixture.ts';
import {
  assertSecretsIntact,
  assertServed,
  plantSecrets,
  prog,
  secretOf,
  witness,
} from './world.ts';
import type { UserApi } from '../../src/kernel/user.ts';
import type { SkyBridge } from '../../src/skybridge/skybridge.ts';

/** Page-fault error code bits (SDM Vol. 3A §4.7). */
const PF = { P: 1, U: 4, ID: 16 } as const;

/**
 * Server S (answers [2·a, its own first data word]); victim client A (calls S before and
 * after); attacker X, itself bound to S, whose thread X1 runs `attack` while X2 keeps
 * working; a witness W calls afterwards. All on one core, no timer: A, then X1 and X2, then
 * W run in turn.
 */
function scenario(
  attack: (u: UserApi, at: { plain: number; sb: SkyBridge }) => void,
  opts: { before?: boolean } = {},
) {
  const env = bootSkyBridge();
  const { m, k, sb } = env;
  const s = prog(k, 'S');
  const a = prog(k, 'A');
  const sid = sb.registerServer(
    s.p,
    (u, call) =>
      (function* () {
        return [call.args[0]! * 2, u.load32(USER_DATA)];
      })(),
    2,
  );
  // With `before`: client Y, bound to S (index 1) and S2 (index 2), calls S2 on this core
  // just before X runs, so the core's EPTP-list page last held Y's list.
  let yResult: CallResult | null = null;
  if (opts.before) {
    const s2 = prog(k, 'S2');
    const y = prog(k, 'Y');
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
    k.createThread(
      y.p,
      'Y',
      (u) =>
        (function* () {
          yResult = yield* directServerCall(sb, u, sid2, [1]);
        })(),
      { priority: 100 },
    );
  }
  const x = prog(k, 'X', (t) => ({ plain: t.block(4, 16).at }));
  sb.registerClient(m.core(0), a.p, sid);
  sb.registerClient(m.core(0), x.p, sid);
  plantSecrets(m, [s.p, a.p, x.p]);
  const aResults: CallResult[] = [];
  const aData: number[] = [];
  let x1Reached = false;
  let x2Done = 0;
  const aThread = k.createThread(
    a.p,
    'A',
    (u) =>
      (function* () {
        aResults.push(yield* directServerCall(sb, u, sid, [1]));
        yield* a.lib.yield(u);
        aResults.push(yield* directServerCall(sb, u, sid, [2]));
        aData.push(u.load32(USER_DATA));
      })(),
    { priority: 100 },
  );
  const x1 = k.createThread(
    x.p,
    'X1',
    (u) =>
      (function* () {
        attack(u, { ...x.at, sb });
        x1Reached = true;
      })(),
    { priority: 100 },
  );
  const x2 = k.createThread(
    x.p,
    'X2',
    (u) =>
      (function* () {
        for (let i = 0; i < 3; i++) {
          u.run(x.work);
          yield* x.lib.yield(u);
          x2Done++;
        }
      })(),
    { priority: 100 },
  );
  const w = witness(env, sid, [21]);
  const before = m.snapshot();
  k.run(50_000);
  const d = m.snapshot().minus(before);
  const sData = secretOf(s.p)[0]!;
  return {
    ...env,
    s,
    a,
    x,
    sid,
    aResults,
    aData,
    aThread,
    x1,
    x2,
    x1Reached,
    x2Done,
    w,
    d,
    sData,
    yResult: yResult as CallResult | null,
  };
}

test('the loader refuses a SkyBridge client image that contains VMFUNC (0F 01 D4), as an instruction, inside another, or across two', () => {
  const { k, sb } = bootSkyBridge();
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
  assert.equal(k.processes.length, before, 'no process was created, none can register');
  // The trampoline itself holds exactly two VMFUNCs, and it is not part of any image.
  const tr = sb.trampoline;
  assert.deepEqual(
    [tr.vmfuncCall - TRAMPOLINE_VA, tr.vmfuncReturn - TRAMPOLINE_VA].map((o) =>
      Array.from(tr.code.bytes.subarray(o, o + 3)),
    ),
    [
      [0x0f, 0x01, 0xd4],
      [0x0f, 0x01, 0xd4],
    ],
  );
});

test('VMFUNC "executed" at an address of its own text that holds other bytes: #UD, only that thread stops, nobody else is touched', () => {
  const r = scenario((u, at) => {
    u.regs.set(R.RAX, 0);
    u.regs.set(R.RCX, 1); // its own, bound, view of S
    vmfunc(u.core, at.plain);
  });
  assert.equal(r.x1Reached, false);
  assert.equal(r.x1.state, ThreadState.Stopped);
  // (The kernel's reason names the RIP after delivery, its own fault path, not the site.)
  assert.match(r.x1.exitReason, /^exception 6 at [0-9a-f]+$/);
  assert.equal(r.x.p.killed, false, 'a #UD stops the thread, not the process');
  assert.equal(r.x2Done, 3, "X's other thread keeps running");
  assert.equal(r.d.get('vmfuncs'), 6, 'only the trampoline switched: 2 per call, A 2 calls, W 1');
  assert.equal(r.d.get('vmexits'), 0);
  assertContained(r);
});

test('VMFUNC bytes written into its own data page and executed there: #PF (instruction fetch from NX), only that thread stops', () => {
  const site = USER_DATA + 0x100;
  const r = scenario((u) => {
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
  assert.equal(r.x.p.killed, false);
  assert.equal(r.x2Done, 3);
  assert.equal(r.d.get('vmexits'), 0);
  assertContained(r);
});

for (const index of [7, 600]) {
  test(`VMFUNC at the trampoline's own site to EPTP index ${index}, which the process is not bound to: VM exit 59, the process is killed, the others carry on`, () => {
    const r = scenario((u, at) => {
      u.regs.set(R.RAX, 0);
      u.regs.set(R.RCX, index);
      vmfunc(u.core, at.sb.trampoline.vmfuncCall);
    });
    assertKilledByVmExit(r);
    assertContained(r);
  });
}

test("VMFUNC to index 2, bound in the list of the process that ran just before on this core but not in X's: the kernel cleared it on the switch, VM exit 59, X is killed", () => {
  const r = scenario(
    (u, at) => {
      u.regs.set(R.RAX, 0);
      u.regs.set(R.RCX, 2);
      vmfunc(u.core, at.sb.trampoline.vmfuncCall);
    },
    { before: true },
  );
  assert.deepEqual(r.yResult, { ok: true, results: [6] }, 'Y really used its index 2');
  assertKilledByVmExit(r);
  assertContained(r);
});

function assertKilledByVmExit(r: ReturnType<typeof scenario>) {
  assert.equal(r.x1Reached, false);
  assert.equal(r.x.p.killed, true);
  assert.match(
    r.x.p.killReason,
    new RegExp(`^VM exit 59 at ${r.sb.trampoline.vmfuncCall.toString(16)} `),
  );
  assert.equal(r.x1.state, ThreadState.Stopped);
  assert.equal(r.x2.state, ThreadState.Stopped, 'the whole process dies: X2 too');
  assert.equal(r.d.get('vmexit.vmfunc'), 1);
}

function assertContained(r: ReturnType<typeof scenario>) {
  // A: both calls answered with S's data, A's own data intact; S serves W afterwards.
  assert.equal(r.aThread.state, ThreadState.Exited, r.aThread.exitReason);
  assert.deepEqual(r.aResults, [
    { ok: true, results: [2, r.sData] },
    { ok: true, results: [4, r.sData] },
  ]);
  assert.deepEqual(r.aData, [secretOf(r.a.p)[0]]);
  assert.equal(r.s.p.killed, false);
  assert.equal(r.a.p.killed, false);
  assertSecretsIntact(r.m, [r.s.p, r.a.p, r.x.p]);
  assertServed(r.w, { ok: true, results: [42, r.sData] });
}
