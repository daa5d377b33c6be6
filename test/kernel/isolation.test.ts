// Isolation between processes: each has its own page tables in guest memory, built only by
// the kernel. The same linear address maps each process's own memory; an address a process
// has not mapped, its own code (never writable), the kernel's PHYSMAP window and its data as
// code (NX) all fault, the fault stops only the faulting thread, and nothing of another
// process changes (checked in physical memory, not through any core). The loader refuses an
// image with VMFUNC bytes; a VMFUNC that reaches the Rootkernel kills its process.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { R } from '../../src/hw/core.ts';
import { vmfunc } from '../../src/hw/vmx.ts';
import { CodeLayout } from '../../src/kernel/code-layout.ts';
import {
  KERNEL_TEXT,
  USER_DATA,
  USER_SHARED,
  USER_TEXT,
  physmap,
} from '../../src/kernel/layout.ts';
import type { UserApi } from '../../src/kernel/user.ts';
import type { Process } from '../../src/kernel/process.ts';
import { Cap, RIGHT, msgInfo } from '../../src/kernel/sel4/objects.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import { boot, peek, proc, walk } from './fixture.ts';
import { USER_LIB } from '../../src/kernel/kernel-mixes.ts';

const SECRET = [0x5ec7e7, 0x1234_5678, 0xcafe_f00d, 0x0bad_beef];
/** Page-fault error code bits (SDM Vol. 3A §4.7). */
const PF = { P: 1, W: 2, U: 4, ID: 16 } as const;

/** What X1 does; `a` is the other process (for addresses the test computes). */
type Attack = (u: UserApi, a: Process) => void;

/**
 * Process A (128 KiB of data) writes a secret at USER_DATA and then makes IPC calls to a
 * server S in a third process. Process X (64 KiB of data) runs `attack` in one thread while
 * its second thread keeps working.
 */
function scenario(attack: Attack, kpti = false) {
  const { k, sel4, m } = boot({ kpti });
  const ep = sel4.newEndpoint();
  const s = proc(k, 'S');
  const a = proc(k, 'A', undefined, { dataBytes: 128 * 1024 });
  const x = proc(k, 'X', (t) => ({ code: t.block(4, 16) }));
  sel4.mint(a.p, 1, Cap.endpoint(ep, 0xa, RIGHT.Send | RIGHT.GrantReply));
  sel4.mint(s.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const replies: number[] = [];
  let xAfter = 0;
  const ticks: string[] = [];
  k.createThread(
    s.p,
    'S',
    (u) =>
      (function* () {
        let r = yield* s.lib.recv(u, 1);
        for (;;) r = yield* s.lib.replyRecv(u, 1, msgInfo(0, 0, 1), [r.mrs[0]! * 2]);
      })(),
    { priority: 150 },
  );
  const aThread = k.createThread(
    a.p,
    'A',
    (u) =>
      (function* () {
        SECRET.forEach((v, i) => u.store32(USER_DATA + 4 * i, v));
        u.store32(USER_DATA + 0x18000, 0x77);
        for (let i = 1; i <= 6; i++) {
          ticks.push(`A${i}`);
          const r = yield* a.lib.call(u, 1, msgInfo(0, 0, 1), [i]);
          replies.push(r.mrs[0]!);
          yield* a.lib.yield(u);
        }
      })(),
    { priority: 100 },
  );
  const xThread = k.createThread(
    x.p,
    'X1',
    (u) =>
      (function* () {
        yield* x.lib.yield(u);
        ticks.push('X1 attacks');
        attack(u, a.p);
        ticks.push('X1 survived');
      })(),
    { priority: 100 },
  );
  const x2 = k.createThread(
    x.p,
    'X2',
    (u) =>
      (function* () {
        for (let i = 0; i < 4; i++) {
          xAfter++;
          yield* x.lib.yield(u);
        }
      })(),
    { priority: 100 },
  );
  k.run(20_000);
  return { k, m, a, x, aThread, xThread, x2, replies, xAfter, ticks };
}

/** Checks that A's memory is intact in physical memory and that A and X2 completed. */
function assertOthersUnharmed(r: ReturnType<typeof scenario>): void {
  const bytes = peek(r.m, r.a.p, USER_DATA, 16);
  const words = [0, 4, 8, 12].map((o) => new DataView(bytes.buffer).getUint32(o, true));
  assert.deepEqual(words, SECRET);
  assert.deepEqual(r.replies, [2, 4, 6, 8, 10, 12]);
  assert.equal(r.aThread.state, ThreadState.Exited);
  assert.equal(r.x2.state, ThreadState.Exited, 'the faulting thread’s sibling keeps running');
  assert.equal(r.xAfter, 4);
}

function assertPageFault(r: ReturnType<typeof scenario>, address: number, error: number): void {
  assert.equal(r.xThread.state, ThreadState.Stopped);
  assert.match(
    r.xThread.exitReason,
    new RegExp(`^exception 14 at [0-9a-f]+ \\(address ${address.toString(16)}, error ${error}\\)$`),
  );
  assert.equal(r.x.p.killed, false, 'a page fault stops the thread, not the process');
  // X1 struck while A was still in the middle of its calls.
  assert.ok(r.ticks.indexOf('X1 attacks') < r.ticks.indexOf('A6'), r.ticks.join(' '));
  assert.ok(!r.ticks.includes('X1 survived'));
}

/** An address A maps (its data runs to 128 KiB) and X does not (64 KiB). */
const A_ONLY = USER_DATA + 0x18000;

for (const kpti of [false, true]) {
  const tag = kpti ? ' (KPTI)' : '';

  test(`the same linear address is each process's own memory${tag}`, () => {
    let seen: number[] = [];
    const r = scenario((u) => {
      seen = [0, 4, 8, 12].map((o) => u.load32(USER_DATA + o));
      for (let i = 0; i < 4; i++) u.store32(USER_DATA + 4 * i, 0xbad0 + i);
    }, kpti);
    assert.deepEqual(seen, [0, 0, 0, 0], 'X reads its own zeroed page, not A’s secret');
    assert.equal(r.xThread.state, ThreadState.Exited);
    assertOthersUnharmed(r);
    // X's stores went to its own frame: different physical pages behind one address.
    const xBytes = peek(r.m, r.x.p, USER_DATA, 16);
    assert.deepEqual(
      [0, 4, 8, 12].map((o) => new DataView(xBytes.buffer).getUint32(o, true)),
      [0xbad0, 0xbad1, 0xbad2, 0xbad3],
    );
    assert.notEqual(
      walk(r.m, r.x.p.space.userRoot, USER_DATA),
      walk(r.m, r.a.p.space.userRoot, USER_DATA),
    );
  });

  test(`a load from an address the process has not mapped faults${tag}`, () => {
    const r = scenario((u) => void u.load32(A_ONLY), kpti);
    assertPageFault(r, A_ONLY, PF.U);
    assertOthersUnharmed(r);
    assert.equal(walk(r.m, r.x.p.space.userRoot, A_ONLY), null);
  });

  test(`a store to an address the process has not mapped faults and changes nothing${tag}`, () => {
    const r = scenario((u) => u.store32(A_ONLY, 0xdead), kpti);
    assertPageFault(r, A_ONLY, PF.U | PF.W);
    assertOthersUnharmed(r);
    const aWord = new DataView(peek(r.m, r.a.p, A_ONLY, 4).buffer).getUint32(0, true);
    assert.equal(aWord, 0x77);
  });

  test(`a store to the process's own text faults: code is never writable${tag}`, () => {
    const r = scenario((u) => u.store32(USER_TEXT + 0x20, 0x12345678), kpti);
    assertPageFault(r, USER_TEXT + 0x20, PF.P | PF.W | PF.U);
    assertOthersUnharmed(r);
    assert.deepEqual(peek(r.m, r.x.p, USER_TEXT, 64), r.x.p.text!.bytes.subarray(0, 64));
  });

  test(`user access to the kernel's PHYSMAP window and kernel text faults${tag}`, () => {
    // A's data frame, as the kernel sees it through PHYSMAP.
    const physA = (u: UserApi, a: Process): number =>
      physmap(walk(u.machine, a.space.userRoot, USER_DATA)!);
    let la = 0;
    const r = scenario((u, a) => void u.load32((la = physA(u, a))), kpti);
    // Without KPTI the window is mapped (supervisor-only): a protection fault. With KPTI
    // the user root does not map it at all.
    assertPageFault(r, la, kpti ? PF.U : PF.P | PF.U);
    assertOthersUnharmed(r);
    const w = scenario((u, a) => u.store32((la = physA(u, a)), 0), kpti);
    assertPageFault(w, la, (kpti ? 0 : PF.P) | PF.W | PF.U);
    assertOthersUnharmed(w);
    // The kernel's entry text is in the KPTI window too, supervisor-only either way.
    const t = scenario((u) => void u.load32(KERNEL_TEXT), kpti);
    assertPageFault(t, KERNEL_TEXT, PF.P | PF.U);
    assertOthersUnharmed(t);
  });

  test(`executing from the process's data page faults (NX)${tag}`, () => {
    const r = scenario(
      (u) => u.run({ at: USER_DATA + 0x40, bytes: 16, instructions: 4, mix: USER_LIB }),
      kpti,
    );
    assertPageFault(r, USER_DATA + 0x40, PF.P | PF.U | PF.ID);
    assertOthersUnharmed(r);
  });
}

test('the loader refuses an image with the bytes 0F 01 D4 in its text', () => {
  const { k } = boot();
  const before = k.processes.length;
  assert.throws(
    () => k.createProcess('vmfunc', (t) => void t.insn('vmfunc')),
    /process vmfunc: 1 VMFUNC byte sequence\(s\) \(0F 01 D4\) in its code; the loader refuses it/,
  );
  // Inside another instruction (mov eax, 0x00d4010f) it is still refused.
  assert.throws(
    () =>
      k.createProcess('imm', (t) => {
        t.block(3, 12);
        t.raw(new Uint8Array([0xb8, 0x0f, 0x01, 0xd4, 0x00]));
      }),
    /process imm: 1 VMFUNC byte sequence/,
  );
  // Spanning two instructions: B0 0F is mov al, 0x0f and 01 D4 is add esp, edx.
  assert.throws(
    () => k.createProcess('span', (t) => void t.raw(new Uint8Array([0xb0, 0x0f, 0x01, 0xd4]))),
    /process span: 1 VMFUNC byte sequence/,
  );
  assert.equal(k.processes.length, before, 'no process was created');
  // A clean image loads.
  assert.doesNotThrow(() => k.createProcess('clean', (t) => void t.block(10, 40)));
});

test('a VMFUNC to an EPTP-list entry that is not bound: the Rootkernel reports it and the process is killed', () => {
  const { k, sel4, m } = boot();
  const ep = sel4.newEndpoint();
  const quiet = sel4.newEndpoint();
  const s = proc(k, 'S');
  const a = proc(k, 'A');
  const x = proc(k, 'X');
  // SkyBridge's trampoline is the one place VMFUNC may live: a page the kernel maps into
  // the process, outside the loaded image. Here it holds a bare VMFUNC.
  const tramp = new CodeLayout(USER_SHARED, 4096, USER_LIB);
  const vmfuncAt = tramp.insn('vmfunc');
  const trampGpa = k.frames.frame();
  m.mem.writeBytes(trampGpa, tramp.bytes);
  x.p.space.map(USER_SHARED, trampGpa, 4096, { writable: false });
  sel4.mint(a.p, 1, Cap.endpoint(ep, 0xa, RIGHT.Send | RIGHT.GrantReply));
  sel4.mint(x.p, 1, Cap.endpoint(ep, 0xb, RIGHT.Send | RIGHT.GrantReply));
  sel4.mint(x.p, 2, Cap.endpoint(quiet, 0, RIGHT.Receive));
  sel4.mint(s.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const seen: number[] = [];
  const replies: number[] = [];
  k.createThread(
    s.p,
    'S',
    (u) =>
      (function* () {
        let r = yield* s.lib.recv(u, 1);
        for (;;) {
          seen.push(r.badge);
          r = yield* s.lib.replyRecv(u, 1, msgInfo(0, 0, 1), [r.mrs[0]! + 1]);
        }
      })(),
    { priority: 150 },
  );
  const aThread = k.createThread(a.p, 'A', (u) =>
    (function* () {
      for (let i = 0; i < 8; i++) {
        replies.push((yield* a.lib.call(u, 1, msgInfo(0, 0, 1), [i])).mrs[0]!);
        yield* a.lib.yield(u);
      }
    })(),
  );
  let xProgress = 0;
  // X1 waits on an endpoint nobody sends to (it is in that queue when X dies).
  const x1 = k.createThread(x.p, 'X1', (u) =>
    (function* () {
      yield* x.lib.recv(u, 2);
      xProgress += 100;
    })(),
  );
  const x2 = k.createThread(x.p, 'X2', (u) =>
    (function* () {
      yield* x.lib.call(u, 1, msgInfo(0, 0, 1), [50]);
      xProgress++;
      yield* x.lib.yield(u);
      u.regs.set(R.RAX, 0); // VM function 0, EPTP switching
      u.regs.set(R.RCX, 5); // an entry no BindClientServer filled
      vmfunc(u.core, vmfuncAt);
      xProgress += 1000;
    })(),
  );
  const before = m.snapshot();
  k.run(20_000);
  const d = m.snapshot().minus(before);
  assert.equal(x.p.killed, true);
  assert.match(x.p.killReason, new RegExp(`^VM exit 59 at ${vmfuncAt.toString(16)} `));
  assert.equal(x1.state, ThreadState.Stopped);
  assert.equal(x2.state, ThreadState.Stopped);
  assert.equal(x1.exitReason, x.p.killReason);
  assert.equal(xProgress, 1, 'X2 got one call through, then nothing of X ran again');
  assert.equal(d.get('vmexit.vmfunc'), 1);
  assert.equal(d.get('vmexits'), 1);
  assert.equal(d.get('vmfuncs'), 0, 'no EPTP switch happened');
  // The others are unaffected: A completes all its calls, S serves them.
  assert.equal(aThread.state, ThreadState.Exited);
  assert.deepEqual(replies, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(seen.filter((b) => b === 0xa).length, 8);
  assert.equal(seen.filter((b) => b === 0xb).length, 1);
  assert.equal(a.p.killed, false);
  assert.equal(s.p.killed, false);
  // X1 was taken off the quiet endpoint's queue: it is idle again.
  assert.equal(m.mem.read32(quiet - physmap(0)), 0);
  assert.equal(m.mem.read32(quiet - physmap(0) + 8), 0);
});

for (const fastpath of [true, false]) {
  test(`a thread killed while it waits for a reply stays dead; the server serves on (fastpath ${fastpath ? 'on' : 'off'})`, () => {
    // Regression: the server kept its reply capability to the dead caller, and the
    // fastpath ReplyRecv resumed that thread, whose body then ran again from the start.
    const { k, sel4, m } = boot({ fastpath });
    const ep = sel4.newEndpoint();
    const s = proc(k, 'S');
    const a = proc(k, 'A');
    const x = proc(k, 'X');
    const tramp = new CodeLayout(USER_SHARED, 4096, USER_LIB);
    const vmfuncAt = tramp.insn('vmfunc');
    const trampGpa = k.frames.frame();
    m.mem.writeBytes(trampGpa, tramp.bytes);
    x.p.space.map(USER_SHARED, trampGpa, 4096, { writable: false });
    for (const c of [a, x]) sel4.mint(c.p, 1, Cap.endpoint(ep, 1, RIGHT.Send | RIGHT.GrantReply));
    sel4.mint(s.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
    const log: string[] = [];
    k.createThread(s.p, 'S', (u) =>
      (function* () {
        let r = yield* s.lib.recv(u, 1);
        for (;;) {
          log.push(`S got ${r.mrs[0]}`);
          yield* s.lib.yield(u); // X's other thread runs now and dies
          r = yield* s.lib.replyRecv(u, 1, msgInfo(0, 0, 1), [r.mrs[0]! + 1]);
        }
      })(),
    );
    const x1 = k.createThread(x.p, 'x1', (u) =>
      (function* () {
        log.push('x1 calls');
        const r = yield* x.lib.call(u, 1, msgInfo(0, 0, 1), [7]);
        log.push(`x1 got ${r.mrs[0]}`);
      })(),
    );
    k.createThread(x.p, 'x2', (u) =>
      (function* () {
        u.regs.set(R.RAX, 0);
        u.regs.set(R.RCX, 9);
        log.push('x2 vmfunc');
        vmfunc(u.core, vmfuncAt);
        yield* x.lib.yield(u);
      })(),
    );
    const aThread = k.createThread(a.p, 'A', (u) =>
      (function* () {
        // Not yet calling when S answers: S's ReplyRecv finds no sender queued, the case
        // where the fastpath would take the reply capability it still held.
        yield* a.lib.yield(u);
        for (const v of [20, 30])
          log.push(`A got ${(yield* a.lib.call(u, 1, msgInfo(0, 0, 1), [v])).mrs[0]}`);
      })(),
    );
    k.run(10_000);
    assert.deepEqual(log, [
      'x1 calls',
      'S got 7',
      'x2 vmfunc',
      'S got 20',
      'A got 21',
      'S got 30',
      'A got 31',
    ]);
    assert.equal(x.p.killed, true);
    assert.equal(x1.state, ThreadState.Stopped);
    assert.equal(aThread.state, ThreadState.Exited);
  });
}

test('killing a process stops its thread running on another core; that core goes on with others', () => {
  // Regression: the remote core was left in the dead thread's user mode with no current
  // thread, and its next kernel path ran at CPL 3 (a #PF on kernel text, uncaught).
  const { k, m } = boot({ cores: 2, tickCycles: 5_000 });
  const x = proc(k, 'X', (t) => ({ body: t.block(100, 300) }));
  const o = proc(k, 'O', (t) => ({ body: t.block(100, 300) }));
  const tramp = new CodeLayout(USER_SHARED, 4096, USER_LIB);
  const vmfuncAt = tramp.insn('vmfunc');
  const trampGpa = k.frames.frame();
  m.mem.writeBytes(trampGpa, tramp.bytes);
  x.p.space.map(USER_SHARED, trampGpa, 4096, { writable: false });
  const count = { x1: 0, o: 0 };
  const spin = (name: 'x1' | 'o', body: typeof x.at.body, n: number) => (u: UserApi) =>
    (function* () {
      for (let i = 0; i < n; i++) {
        u.run(body);
        count[name]++;
        yield* u.poll();
      }
    })();
  const x1 = k.createThread(x.p, 'x1', spin('x1', x.at.body, 2000), { core: 1 });
  const ot = k.createThread(o.p, 'o', spin('o', o.at.body, 3000), { core: 1 });
  const x2 = k.createThread(
    x.p,
    'x2',
    (u) =>
      (function* () {
        for (let i = 0; i < 50; i++) {
          u.run(x.at.body);
          yield* u.poll();
        }
        u.regs.set(R.RAX, 0);
        u.regs.set(R.RCX, 9);
        vmfunc(u.core, vmfuncAt);
      })(),
    { core: 0 },
  );
  for (let i = 0; i < 1000 && ot.alive; i++) k.run(100);
  assert.equal(x.p.killed, true);
  assert.equal(x2.state, ThreadState.Stopped);
  assert.equal(x1.state, ThreadState.Stopped);
  assert.ok(count.x1 > 0 && count.x1 < 2000, `x1 ran ${count.x1} iterations, then stopped`);
  assert.equal(ot.state, ThreadState.Exited);
  assert.equal(count.o, 3000);
  assert.equal(m.snapshot().get('exceptions'), 0);
  assert.ok(m.snapshot().get('ipis.sent', { core: 0 }) >= 1, 'core 0 told core 1');
});
