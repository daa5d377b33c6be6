// The Rootkernel stays out of the way: over whole sel4bench-style runs (KPTI on and off,
// PCIDs on and off, the timer on, same-core and cross-core), the only VM exits are the
// boot-time SetUpcall hypercalls, one per core. Address-space switches (CR3 writes),
// interrupts (timer, IPIs) and exceptions (a page fault) all happen inside the guest.
// And the whole machine is deterministic: the same program gives the same counters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mode } from '../../src/hw/counters.ts';
import { rdtsc } from '../../src/hw/isa.ts';
import type { CodeLayout } from '../../src/kernel/code-layout.ts';
import { Cap, RIGHT, msgInfo } from '../../src/kernel/sel4/objects.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import { boot, proc } from './fixture.ts';

interface BenchCase {
  kpti: boolean;
  pcid: boolean;
  crossCore: boolean;
  tickCycles: number;
  rounds: number;
}

/**
 * sel4bench's IPC loop (client Call, server Recv/ReplyRecv, RDTSC stamps on both sides)
 * with message lengths cycling through fastpath and slowpath sizes, plus a third process
 * whose thread takes a page fault halfway through.
 */
function bench(c: BenchCase) {
  const cores = c.crossCore ? 2 : 1;
  const { k, sel4, m } = boot({ cores, kpti: c.kpti, pcid: c.pcid, tickCycles: c.tickCycles });
  const afterBoot = m.snapshot();
  const ep = sel4.newEndpoint();
  const stamp = (t: CodeLayout) => ({ rdtsc: t.insn('rdtsc'), work: t.block(100, 360) });
  const s = proc(k, 'server', stamp);
  const cl = proc(k, 'client', stamp);
  const f = proc(k, 'faulter', stamp);
  sel4.mint(cl.p, 1, Cap.endpoint(ep, 1, RIGHT.Send | RIGHT.GrantReply));
  sel4.mint(s.p, 2, Cap.endpoint(ep, 0, RIGHT.Receive));
  let clientStamp = 0;
  let serverStamp = 0;
  const calls: number[] = [];
  const replies: number[] = [];
  const lengths = [0, 1, 4, 5, 12];
  k.createThread(
    s.p,
    'server',
    (u) =>
      (function* () {
        let r = yield* s.lib.recv(u, 2);
        for (;;) {
          calls.push(rdtsc(u.core, s.at.rdtsc) - clientStamp);
          u.run(s.at.work);
          yield* u.poll();
          serverStamp = rdtsc(u.core, s.at.rdtsc);
          r = yield* s.lib.replyRecv(u, 2, msgInfo(0, 0, r.mrs.length), r.mrs);
        }
      })(),
    { priority: 101, core: c.crossCore ? 1 : 0 },
  );
  const client = k.createThread(
    cl.p,
    'client',
    (u) =>
      (function* () {
        for (let i = 0; i < c.rounds; i++) {
          const len = lengths[i % lengths.length]!;
          const msg = Array.from({ length: len }, (_, j) => i * 100 + j);
          clientStamp = rdtsc(u.core, cl.at.rdtsc);
          const r = yield* cl.lib.call(u, 1, msgInfo(0, 0, len), msg);
          replies.push(rdtsc(u.core, cl.at.rdtsc) - serverStamp);
          assert.deepEqual(r.mrs, msg);
          u.run(cl.at.work);
          yield* u.poll();
        }
      })(),
    { priority: 100 },
  );
  const faulter = k.createThread(
    f.p,
    'faulter',
    (u) =>
      (function* () {
        for (let i = 0; i < 200; i++) {
          u.run(f.at.work);
          yield* u.poll();
        }
        u.load32(0x6000_0000);
      })(),
    { priority: 100 },
  );
  // With the timer on, a core whose threads are blocked idles on forever (the server waits
  // in Recv): run until the client is done and the faulter has faulted.
  for (let i = 0; i < 10_000 && (client.alive || faulter.alive); i++) k.run(100);
  assert.equal(client.state, ThreadState.Exited);
  assert.equal(faulter.state, ThreadState.Stopped);
  assert.equal(calls.length, c.rounds);
  const end = m.snapshot();
  return { total: end, run: end.minus(afterBoot), calls, replies, cores };
}

const CASES: BenchCase[] = [];
for (const kpti of [false, true])
  for (const pcid of [false, true])
    CASES.push({ kpti, pcid, crossCore: false, tickCycles: 25_000, rounds: 150 });
CASES.push({ kpti: false, pcid: true, crossCore: true, tickCycles: 25_000, rounds: 100 });
CASES.push({ kpti: true, pcid: false, crossCore: true, tickCycles: 25_000, rounds: 100 });

for (const c of CASES) {
  const name = `KPTI ${c.kpti ? 'on' : 'off'}, PCID ${c.pcid ? 'on' : 'off'}, ${c.crossCore ? 'cross-core' : 'one core'}`;
  test(`only the boot-time SetUpcall hypercalls exit to the Rootkernel (${name})`, () => {
    const r = bench(c);
    const t = r.total;
    // Over the whole life of the machine: one VMCALL exit per core (SetUpcall), nothing else.
    assert.equal(t.get('vmexits'), r.cores);
    assert.equal(t.get('vmexit.vmcall'), r.cores);
    assert.equal(t.get('vmexit.cpuid'), 0);
    assert.equal(t.get('vmexit.ept-violation'), 0);
    assert.equal(t.get('vmexit.ept-misconfig'), 0);
    assert.equal(t.get('vmexit.vmfunc'), 0);
    assert.equal(t.get('vmexit.other'), 0);
    // After boot the Rootkernel never ran: no exit, no root-mode cycle or instruction.
    const run = r.run;
    assert.equal(run.get('vmexits'), 0);
    assert.equal(run.get('cycles', { mode: Mode.VmxRoot }), 0);
    assert.equal(run.get('instructions', { mode: Mode.VmxRoot }), 0);
    // ... while the guest switched address spaces, took interrupts and an exception.
    // KPTI writes CR3 on every entry and exit; without it a core switches spaces when it
    // switches processes (each round trip on one core; only a few times across cores,
    // where each core keeps its own process).
    const minCr3 = c.kpti ? 4 * c.rounds : c.crossCore ? 2 : 2 * c.rounds;
    assert.ok(run.get('cr3.writes') >= minCr3, `${run.get('cr3.writes')} CR3 writes`);
    assert.ok(run.get('interrupts') > 0);
    assert.equal(run.get('exceptions'), 1, 'the page fault');
    assert.equal(run.get('syscalls') >= 2 * c.rounds, true);
    if (c.crossCore) {
      assert.ok(run.get('ipis.sent') >= 2 * c.rounds);
      assert.ok(run.get('interrupts', { core: 1 }) > 0);
    }
    // Timer ticks on every core that ran.
    const cycles = run.get('cycles', { core: 0 });
    assert.ok(run.get('interrupts', { core: 0 }) >= Math.floor(cycles / c.tickCycles) - 1);
  });
}

test('determinism: the same program on fresh machines gives identical counters and timings', () => {
  const c: BenchCase = { kpti: true, pcid: true, crossCore: true, tickCycles: 25_000, rounds: 60 };
  const a = bench(c);
  const b = bench(c);
  assert.deepEqual(a.total.owners, b.total.owners);
  assert.deepEqual(a.total.data, b.total.data);
  assert.deepEqual(a.calls, b.calls);
  assert.deepEqual(a.replies, b.replies);
  // The comparison can tell runs apart: one more round trip changes the counters.
  assert.notDeepEqual(bench({ ...c, rounds: c.rounds + 1 }).total.data, a.total.data);
  // And the program did enough for that to mean something.
  assert.ok(a.total.get('cycles') > 1_000_000);
  assert.ok(a.total.get('interrupts') > 10);
});
