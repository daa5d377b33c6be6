// Fiasco.OC capability checks and isolation: what sys_ipc_wrapper's lookup refuses (empty
// slot, index beyond the table, a reply without a caller, an unbound gate → Not_existent in
// the UTCB's error TCR with the tag's error flag; a task capability → -EBadproto in the
// label), rights delivered in the label's two low bits, per-task capability tables and
// UTCBs that are each task's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Machine } from '../../src/hw/machine.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { Subkernel, DEFAULT_CONFIG } from '../../src/kernel/subkernel.ts';
import { Fiasco } from '../../src/kernel/fiasco/fiasco.ts';
import { FiascoLib, type FiascoMsg } from '../../src/kernel/fiasco/libfiasco.ts';
import { L4Err, L4Error, Rights, UTCB, tagHasError } from '../../src/kernel/fiasco/objects.ts';
import { USER_IPC_BUFFERS, physmap } from '../../src/kernel/layout.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import type { Process } from '../../src/kernel/process.ts';

function boot(kpti = false) {
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile: SKYLAKE });
  const fiasco = new Fiasco();
  const k = new Subkernel(m, fiasco, { ...DEFAULT_CONFIG, kpti });
  fiasco.attach(k);
  const proc = (name: string) => {
    let lib!: FiascoLib;
    const p = k.createProcess(name, (t) => (lib = FiascoLib.layout(t)));
    return { p, lib };
  };
  return { m, k, fiasco, proc };
}

/** A server echoing its label as the reply's first word, forever. */
function labelServer(k: Subkernel, s: { p: Process; lib: FiascoLib }) {
  return k.createThread(
    s.p,
    'srv',
    (u) =>
      (function* () {
        let m = yield* s.lib.wait(u);
        for (;;) m = yield* s.lib.replyAndWait(u, [m.label]);
      })(),
    { priority: 50 },
  );
}

for (const kpti of [false, true]) {
  test(`Fiasco capability checks (KPTI ${kpti ? 'on' : 'off'}): empty slot, index beyond the table, reply without a caller, unbound gate → Not_existent (4) with the error flag; a task capability → -EBadproto`, () => {
    const { k, fiasco, proc } = boot(kpti);
    const c = proc('client');
    const s = proc('server');
    const srv = labelServer(k, s);
    fiasco.putCap(c.p, 1, fiasco.newGate(srv, 0x100), Rights.CW);
    fiasco.putCap(c.p, 2, fiasco.newGate(null, 0x200), Rights.CW);
    fiasco.putCap(c.p, 3, fiasco.taskOf(s.p), Rights.CWS);
    const out: FiascoMsg[] = [];
    const cli = k.createThread(c.p, 'cli', (u) =>
      (function* () {
        out.push(yield* c.lib.call(u, 9, [1])); // empty slot in an existing table
        out.push(yield* c.lib.call(u, 300, [1])); // no table page for it
        out.push(yield* c.lib.call(u, 70_000, [1])); // beyond the directory
        out.push(yield* c.lib.replyAndWait(u, [1])); // nobody called us: no reply cap
        out.push(yield* c.lib.call(u, 2, [1])); // a gate with no thread bound
        out.push(yield* c.lib.call(u, 3, [1])); // a task: not an IPC partner
        out.push(yield* c.lib.call(u, 1, [1])); // and the good one still works
      })(),
    );
    k.run(10_000);
    assert.equal(cli.state, ThreadState.Exited);
    for (const m of out.slice(0, 5)) {
      assert.ok(tagHasError(m.tag));
      assert.equal(m.error, L4Error.NotExistent);
    }
    assert.equal(out[5]!.tagLabel, -L4Err.EBadproto);
    assert.ok(!tagHasError(out[5]!.tag));
    assert.deepEqual(out[6]!.words, [0x100 + Rights.CW]);
  });
}

test('Fiasco rights travel in the label: the server sees the gate label | CW/CS of the capability the client used (Ipc_gate::invoke from_spec), and a label with those bits set is refused at bind (EInval)', () => {
  const { k, fiasco, proc } = boot();
  const c = proc('client');
  const s = proc('server');
  const srv = labelServer(k, s);
  const gate = fiasco.newGate(srv, 0x1000);
  fiasco.putCap(c.p, 1, gate, 0);
  fiasco.putCap(c.p, 2, gate, Rights.CW);
  fiasco.putCap(c.p, 3, gate, Rights.CS);
  fiasco.putCap(c.p, 4, gate, Rights.CWS | Rights.CD);
  const labels: number[] = [];
  k.createThread(c.p, 'cli', (u) =>
    (function* () {
      for (const cap of [1, 2, 3, 4]) labels.push((yield* c.lib.call(u, cap, [])).words[0]!);
    })(),
  );
  k.run(10_000);
  assert.deepEqual(labels, [0x1000, 0x1001, 0x1002, 0x1003]);
  assert.throws(() => fiasco.newGate(srv, 0x1001), /EInval/);
});

test('Fiasco isolation: capability tables are per task (A’s index names nothing in B), each task’s UTCB address maps its own frame, and a thread touching another task’s UTCB through the kernel window faults alone', () => {
  const { m, k, fiasco, proc } = boot();
  const a = proc('a');
  const b = proc('b');
  const s = proc('server');
  const srv = labelServer(k, s);
  fiasco.putCap(a.p, 1, fiasco.newGate(srv, 0x10), Rights.CW);
  const res: Record<string, FiascoMsg> = {};
  const ta = k.createThread(a.p, 'a', (u) =>
    (function* () {
      u.store64(u.thread.ipcBufferUser + UTCB.user, 0xaaaa);
      res.a = yield* a.lib.call(u, 1, [5]);
    })(),
  );
  const tb = k.createThread(b.p, 'b', (u) =>
    (function* () {
      u.store64(u.thread.ipcBufferUser + UTCB.user, 0xbbbb);
      res.b = yield* b.lib.call(u, 1, [5]);
      // The server's UTCB is kernel memory to b: a user access to its physmap address faults.
      u.load64(srv.ipcBufferKernel);
      res.after = res.b;
    })(),
  );
  k.run(10_000);
  assert.deepEqual(res.a!.words, [0x10 + Rights.CW]);
  assert.equal(res.b!.error, L4Error.NotExistent);
  assert.equal(res.after, undefined);
  assert.equal(ta.state, ThreadState.Exited);
  assert.equal(tb.state, ThreadState.Stopped);
  assert.match(tb.exitReason, /exception 14/);
  // Same user address, different frames, each with its own bytes.
  assert.equal(ta.ipcBufferUser, USER_IPC_BUFFERS);
  assert.equal(tb.ipcBufferUser, USER_IPC_BUFFERS);
  assert.notEqual(ta.ipcBufferKernel, tb.ipcBufferKernel);
  const word = (t: typeof ta) => Number(m.mem.read64(t.ipcBufferKernel - physmap(0) + UTCB.user));
  assert.equal(word(ta), 0xaaaa);
  assert.equal(word(tb), 0xbbbb);
  assert.equal(srv.state, ThreadState.Blocked);
});
