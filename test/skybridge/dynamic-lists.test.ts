// Dynamic EPTP lists (src/skybridge/dynamic-lists.ts): a client bound to more servers than
// its list holds. Every server's handler answers its own number, so a call that landed in
// the wrong view would say so; every test checks every answer.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { HypercallError } from '../../src/rootkernel/hypercalls.ts';
import { MAP_UPCALL_FRAME } from '../../src/rootkernel/upcall-frame.ts';
import { MISS_INDEX } from '../../src/skybridge/dynamic-lists.ts';
import { SbError } from '../../src/skybridge/layout.ts';
import {
  runAll,
  scaleScene,
  startCalls,
  uniform,
  type CallLog,
} from '../../src/experiments/eptp-scale-scene.ts';

const allRight = (log: CallLog, n: number) => {
  assert.equal(log.right.length, n);
  assert.ok(
    log.right.every(Boolean),
    `wrong answers at ${log.right.flatMap((r, i) => (r ? [] : [i])).join(',')}`,
  );
};

test('a client bound to 10 servers with 3 resident: every answer right, each miss one VMFUNC exit and one refill', () => {
  const s = scaleScene({ profile: SKYLAKE, servers: 10, capacity: 3 });
  const before = s.m.snapshot();
  const log = startCalls(s, uniform(10, 120, 5));
  runAll(s);
  allRight(log, 120);
  const st = s.sb.dynStats(s.clients[0]!);
  assert.ok(st.refills > 50, `refills ${st.refills}`);
  assert.equal(s.m.snapshot().minus(before).get('vmexit.vmfunc'), st.refills);
  assert.equal(st.evictions, st.refills, 'the list was full from the start');
  // Exactly 3 bindings resident, each at the slot its record names; the others MISS.
  const bs = s.sb.bindings.filter((b) => b.client === s.clients[0]);
  const resident = bs.filter((b) => b.index !== MISS_INDEX);
  assert.deepEqual(resident.map((b) => b.index).sort(), [1, 2, 3]);
  const list = s.sb.lists.listOf(s.clients[0]!);
  for (const b of resident) assert.equal(list[b.index]!.server, b.server);
  const mean = (f: (i: number) => boolean) => {
    const xs = log.cycles.filter((_, i) => f(i));
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  assert.ok(mean((i) => log.refills[i]! > 0) > mean((i) => log.refills[i] === 0) + 1000);
});

test('the victim is the least recently placed, ties to the lower slot (deterministic)', () => {
  const s = scaleScene({ profile: SKYLAKE, servers: 3, capacity: 2 });
  const idx = () => s.sb.bindings.map((b) => b.index);
  assert.deepEqual(idx(), [1, 2, MISS_INDEX], 'bound in order: the first two resident');
  const log = startCalls(s, [0, 1, 2, 0]);
  runAll(s);
  allRight(log, 4);
  // 2 evicts 0 (slot 1, placed first), then 0 evicts 1 (slot 2).
  assert.deepEqual(idx(), [2, MISS_INDEX, 1]);
  assert.deepEqual(log.refills, [0, 0, 1, 1]);
});

test('under preemption: two threads of one client on one core, a tick every 3,000 cycles', () => {
  const s = scaleScene({ profile: SKYLAKE, servers: 8, capacity: 3, tickCycles: 3000 });
  const a = startCalls(s, uniform(8, 100, 1));
  const b = startCalls(s, uniform(8, 100, 2));
  runAll(s);
  allRight(a, 100);
  allRight(b, 100);
  const st = s.sb.dynStats(s.clients[0]!);
  assert.ok(st.refreshed > 0, 'a thread preempted between its record read and its VMFUNC');
  assert.deepEqual(s.sb.events, []);
});

test('on two cores: a thread inside a view another core evicts is put back in it', () => {
  const s = scaleScene({
    profile: SKYLAKE,
    servers: 4,
    capacity: 1,
    cores: 2,
    tickCycles: 4000,
    spin: 20_000,
  });
  const a = startCalls(s, uniform(4, 20, 3), { core: 0 });
  const b = startCalls(s, uniform(4, 20, 4), { core: 1 });
  runAll(s);
  allRight(a, 20);
  allRight(b, 20);
  const st = s.sb.dynStats(s.clients[0]!);
  assert.ok(st.replaced > 0, `replaced ${st.replaced}`);
  assert.ok(st.refills > 0);
  assert.deepEqual(s.sb.events, []);
});

test('a miss with every slot held by static bindings is unwound (SB_EABORTED), not refilled', () => {
  // Servers 0 and 1 call server 2, so the client's bindings to them are static (their
  // chain's index is carried); with 2 resident slots, server 3 cannot be placed.
  const s = scaleScene({ profile: SKYLAKE, servers: 4, capacity: 2, clients: 0 });
  const core = s.m.core(0);
  const p = (i: number) => s.sb.server(s.ids[i]!)!.process;
  s.sb.registerClient(core, p(0), s.ids[2]!);
  s.sb.registerClient(core, p(1), s.ids[2]!);
  const c = s.k.createProcess('c', () => {});
  s.clients.push(c);
  for (const i of [0, 1, 3]) s.sb.registerClient(core, c, s.ids[i]!);
  const d = s.sb.bindingOf(c, s.ids[3]!)!;
  assert.equal(d.index, MISS_INDEX);
  const log = startCalls(s, [3]);
  runAll(s);
  assert.deepEqual(log.status, [SbError.Aborted]);
  assert.equal(s.sb.dynStats(c).refills, 0);
});

test('chains cannot pass through a dynamic client, nor a dynamic binding’s server call on', () => {
  const s = scaleScene({ profile: SKYLAKE, servers: 3, capacity: 2 });
  const core = s.m.core(0);
  const client = s.clients[0]!;
  const id = s.sb.registerServer(client, { handler: s.back });
  const other = s.k.createProcess('other', () => {});
  assert.throws(() => s.sb.registerClient(core, other, id), /dynamic bindings of its own/);
  const server0 = s.sb.server(s.ids[0]!)!.process;
  assert.throws(() => s.sb.registerClient(core, server0, s.ids[1]!), /cannot call on/);
});

test('MapUpcallFrame: once per core, in the window, aligned', () => {
  const s = scaleScene({ profile: SKYLAKE, servers: 1, capacity: 1 });
  const core = s.m.core(0);
  const gb = s.k.rk.guestBytes;
  assert.equal(s.k.hypercall(core, MAP_UPCALL_FRAME, gb + 0x10_0000), HypercallError.AlreadyMapped);
  assert.equal(s.k.hypercall(core, MAP_UPCALL_FRAME, gb + 0x10_0008), HypercallError.Unaligned);
  assert.equal(s.k.hypercall(core, MAP_UPCALL_FRAME, gb - 4096), HypercallError.OutsideWindow);
});
