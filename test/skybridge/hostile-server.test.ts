// Hostile and broken servers, as machine code, on every kernel: a fault in the handler, a
// system call from it, a handler that never returns, a server that returns into its client
// early or hops to another of its client's servers, a server killed or a binding revoked
// while a call is inside. The client always gets a status and goes on; nobody else is hurt.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SbError } from '../../src/skybridge/layout.ts';
import { ALL_KERNELS, assertExited, P, scene, secretOf } from './world.ts';

const u64 = (n: number): number => n;
const outs = (s: ReturnType<typeof scene>, p: string): number[] =>
  [0, 1, 2].map((i) => s.word(p, 'out', i));

for (const kernel of ALL_KERNELS) {
  test(`${kernel}: a handler that faults: the client gets ServerFault and goes on, the server is killed, its other client gets NotBound, a third server is untouched`, () => {
    const s = scene(kernel, ['server', 'client', 'other', 'echo', 'witness']);
    const sid = s.server('server', 'fault_handler');
    const eid = s.server('echo', 'echo_handler');
    s.bind('client', sid);
    s.bind('other', sid);
    s.bind('witness', eid);
    const t = s.start('client', 'client_main', [sid, 1, 1]);
    s.start('other', 'client_main', [sid, 1, 1], { priority: 50 });
    s.start('witness', 'client_main', [eid, 41, 1], { priority: 50 });
    s.run();
    assertExited(t);
    assert.deepEqual(outs(s, 'client'), [0, u64(SbError.ServerFault), 0]);
    assert.equal(s.procs.server!.killed, true);
    assert.deepEqual(outs(s, 'other'), [0, u64(SbError.NotBound), 0]);
    assert.deepEqual(outs(s, 'witness'), [1, 0, 42]);
    s.assertSecrets();
  });

  test(`${kernel}: a system call from a handler is refused (SB_ESYSCALL) and acts as no one: nothing is written`, () => {
    const s = scene(kernel, ['server', 'client']);
    const sid = s.server('server', 'syscall_handler');
    s.bind('client', sid);
    const t = s.start('client', 'client_main', [sid, 1, 1]);
    s.run();
    assertExited(t);
    assert.deepEqual(outs(s, 'client'), [1, 0, u64(SbError.Syscall)]);
    assert.equal(s.abis.client!.console.length, 0, "nothing on the client's console");
    assert.equal(s.abis.server!.console.length, 0, "nothing on the server's");
    assert.ok(s.sb.events.some((e) => /system call refused/.test(e.what)));
  });

  test(`${kernel}: a handler that never returns is unwound after its budget (Timeout); the server lives and serves the next call on the stack it gave back`, () => {
    const s = scene(kernel, ['server', 'client'], { tickCycles: 20_000 });
    const sid = s.server('server', 'spin_handler', { budgetTicks: 3 });
    s.bind('client', sid);
    // One thread (its exit ends the process): the first call spins, the second is served.
    const t = s.start('client', 'client_main', [sid, 5, 2]);
    s.run(3_000_000);
    assertExited(t);
    assert.equal(s.procs.server!.killed, false);
    assert.deepEqual(outs(s, 'client'), [1, 0, 6]);
    assert.ok(s.sb.events.some((e) => /Timeout/.test(e.what)));
  });

  test(`${kernel}: a server that jumps back into its client's view early with the right key returns a value (its own stack stays taken: Busy next time); with a wrong key the client gets BadReturn`, () => {
    const s = scene(kernel, ['server', 'client']);
    const sid = s.server('server', 'early_return_handler');
    s.bind('client', sid);
    const t = s.start('client', 'client_main', [sid, 0, 2]);
    s.run();
    assertExited(t);
    // First call: 42 back; the stack it never freed makes the second Busy.
    assert.deepEqual(outs(s, 'client'), [1, u64(SbError.Busy), 0]);
    const s2 = scene(kernel, ['server', 'client']);
    const sid2 = s2.server('server', 'early_return_handler', { maxConcurrent: 2 });
    s2.bind('client', sid2);
    const t2 = s2.start('client', 'client_main', [sid2, 99, 1]);
    s2.run();
    assertExited(t2);
    assert.deepEqual(outs(s2, 'client'), [0, u64(SbError.BadReturn), 0]);
  });

  test(`${kernel}: a server that hops to another of its client's servers with a guessed key: refused there (BadKey, counted), the client gets BadReturn, the other server never ran`, () => {
    const s = scene(kernel, ['hop', 'target', 'client']);
    const hop = s.server('hop', 'hop_handler');
    const target = s.server('target', 'echo_handler');
    s.bind('client', hop);
    const tb = s.bind('client', target);
    s.setWord('hop', 'param', P.otherIndex, tb.index);
    const t = s.start('client', 'client_main', [hop, 0x77, 1]);
    s.run();
    assertExited(t);
    assert.deepEqual(outs(s, 'client'), [0, u64(SbError.BadReturn), 0]);
    assert.equal(s.word('target', 'served'), 0);
    assert.equal(s.sb.failures(target, 0), 1, "the failure is counted against the client's view");
    s.assertSecrets();
  });

  test(`${kernel}: a chain client → A → B runs B's handler from A's, on the client's thread`, () => {
    const s = scene(kernel, ['a', 'b', 'client']);
    const b = s.server('b', 'echo_handler');
    const a = s.server('a', 'chain_handler');
    s.bind('a', b);
    s.bind('client', a);
    s.setWord('a', 'param', P.chainNext, b);
    const t = s.start('client', 'client_main', [a, 6, 3]);
    s.run();
    assertExited(t);
    assert.deepEqual(outs(s, 'client'), [3, 0, 70]);
    assert.equal(s.word('b', 'served'), 3);
  });

  test(`${kernel}: a server killed while a client on another core is inside it: that call is unwound (Revoked), the client goes on`, () => {
    const s = scene(kernel, ['server', 'client', 'bystander'], { cores: 2 });
    const sid = s.server('server', 'spin_handler', { budgetTicks: 1e9 });
    s.bind('client', sid);
    const t = s.start('client', 'client_main', [sid, 0, 1], { core: 1 });
    const by = s.start('bystander', 'spin_main', [200], { core: 0 });
    s.run(200);
    assert.ok(s.word('server', 'served') === 1, 'the client is inside the handler');
    s.k.killProcess(s.m.core(0), s.procs.server!, 'killed by the test');
    s.run();
    assertExited(t);
    assertExited(by);
    assert.deepEqual(outs(s, 'client'), [0, u64(SbError.Revoked), 0]);
  });

  test(`${kernel}: a binding revoked while its client is inside the server on another core: the call is unwound (Revoked), a later call is NotBound, the server lives`, () => {
    const s = scene(kernel, ['server', 'client', 'bystander'], { cores: 2 });
    const sid = s.server('server', 'spin_handler', { budgetTicks: 1e9 });
    const b = s.bind('client', sid);
    const t = s.start('client', 'client_main', [sid, 0, 2], { core: 1 });
    s.start('bystander', 'spin_main', [200], { core: 0 });
    s.run(200);
    s.sb.unregisterClient(s.m.core(0), b);
    s.run();
    assertExited(t);
    assert.deepEqual(outs(s, 'client'), [0, u64(SbError.NotBound), 0]);
    assert.equal(s.procs.server!.killed, false);
    assert.ok(s.sb.events.some((e) => /Revoked/.test(e.what)));
  });

  test(`${kernel}: more callers than stacks: a second client on another core gets Busy while the first is inside`, () => {
    const s = scene(kernel, ['server', 'first', 'second'], { cores: 2 });
    const sid = s.server('server', 'spin_handler', { budgetTicks: 1e9 });
    s.bind('first', sid);
    s.bind('second', sid);
    s.start('first', 'client_main', [sid, 0, 1], { core: 1 });
    s.run(200);
    const t = s.start('second', 'client_main', [sid, 3, 1], { core: 0 });
    s.run(2000);
    assertExited(t);
    assert.deepEqual(outs(s, 'second'), [0, u64(SbError.Busy), 0]);
  });

  test(`${kernel}: the handler is told its slot, the caller's process and the shared buffer's real size`, () => {
    const got: number[] = [];
    const want: number[] = [];
    for (const field of [0, 1, 2, 3]) {
      const s = scene(kernel, ['server', 'client']);
      const sid = s.server('server', 'info_handler');
      const b = s.bind('client', sid, 16 * 1024);
      const t = s.start('client', 'client_main', [sid, field, 1]);
      s.run();
      assertExited(t);
      got.push(s.word('client', 'out', 2));
      want.push([16 * 1024, s.procs.client!.id, b.slot, b.buffer][field]!);
    }
    assert.deepEqual(got, want);
  });
}

for (const kernel of ALL_KERNELS) {
  test(`${kernel}: a handler that returns to the wrong address (the trampoline's client half, in its own view) is unwound (Aborted); the server is not blamed`, () => {
    const s = scene(kernel, ['server', 'client']);
    const sid = s.server('server', 'wrong_return_handler');
    s.bind('client', sid);
    const t = s.start('client', 'client_main', [sid, 1, 1]);
    s.run();
    assertExited(t);
    assert.deepEqual(outs(s, 'client'), [0, SbError.Aborted, 0]);
    assert.equal(s.procs.server!.killed, false);
  });

  test(`${kernel}: a client's second thread on another core writing the server's stacks takes a #PF (they are not mapped in any client); the first thread's calls all succeed`, () => {
    const s = scene(kernel, ['server', 'client'], { cores: 2 });
    const sid = s.server('server', 'echo_handler');
    s.bind('client', sid);
    const caller = s.start('client', 'client_main', [sid, 7, 300], { core: 0 });
    const writer = s.start('client', 'write_main', [0x7ff0_1000_3ff8, 0xbad], { core: 1 });
    s.run();
    assert.match(writer.exitReason, /exception 14.*address 7ff010003ff8/);
    assert.equal(caller.exitReason, 'exit(0)');
    assert.deepEqual(outs(s, 'client'), [300, 0, 8]);
    assert.equal(s.word('server', 'served'), 300);
  });

  for (const [handler, safe] of [
    ['checked_handler', true],
    ['unchecked_handler', false],
  ] as const) {
    test(`${kernel}: the shared buffer changed from another core during each call: a server that copies in first (sb_copy_in) ${safe ? 'never overruns' : 'is safe; one that reads twice overruns its buffer'}`, () => {
      // Cores interleave every 50 cycles, so a flip can fall between a check and a use.
      const s = scene(kernel, ['server', 'client'], { cores: 2, quantum: 50 });
      const sid = s.server('server', handler);
      s.bind('client', sid);
      s.start('client', 'racer_main', [sid, 200], { core: 0 });
      s.start('client', 'flipper_main', [sid, 150_000], { core: 1 });
      s.run(20_000_000);
      assert.equal(s.word('client', 'out', 0), 200, 'every call was served');
      const canary = s.word('server', 'priv', 2);
      if (safe) assert.equal(canary, 0xc0ffee, 'the word after the private buffer is intact');
      else assert.notEqual(canary, 0xc0ffee, 'the double read let the length grow past the check');
    });
  }
}

for (const kernel of ALL_KERNELS)
  test(`${kernel}: neither side sees the other's scratch registers: the handler finds none of the client's, the client none of the server's`, () => {
    const s = scene(kernel, ['server', 'client']);
    const sid = s.server('server', 'peek_handler');
    s.bind('client', sid);
    const t = s.start('client', 'peek_main', [sid]);
    s.run();
    assertExited(t);
    const client = secretOf(s.procs.client!)[0]!;
    const seen = [0, 1, 2, 3, 4, 5].map((i) => s.word('server', 'out', i));
    assert.ok(!seen.includes(client), "the client's R8-R11, XMM0-1 reached the handler");
    assert.equal(s.word('client', 'out', 0), 0);
    assert.equal(
      s.word('client', 'out', 1),
      0,
      "the server's RSI, RDI, R8, R9, XMM0/1/7, after the call",
    );
  });
