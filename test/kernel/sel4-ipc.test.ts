import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Machine } from '../../src/hw/machine.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { Subkernel, DEFAULT_CONFIG } from '../../src/kernel/subkernel.ts';
import { Sel4 } from '../../src/kernel/sel4/sel4.ts';
import { Sel4Lib } from '../../src/kernel/sel4/libsel4.ts';
import { Cap, RIGHT, msgInfo, msgLabel } from '../../src/kernel/sel4/objects.ts';
import { ThreadState } from '../../src/kernel/thread.ts';

function boot(cfg = {}) {
  const m = new Machine({ cores: 2, memoryBytes: 2 * 1024 ** 3, profile: SKYLAKE });
  const sel4 = new Sel4();
  const k = new Subkernel(m, sel4, { ...DEFAULT_CONFIG, ...cfg });
  sel4.attach(k);
  return { m, k, sel4 };
}

test('seL4 Call / ReplyRecv between two address spaces: the message and the reply arrive intact', () => {
  const { k, sel4 } = boot();
  const ep = sel4.newEndpoint();
  let clientLib!: Sel4Lib;
  let serverLib!: Sel4Lib;
  const client = k.createProcess('client', (t) => (clientLib = Sel4Lib.layout(t)));
  const server = k.createProcess('server', (t) => (serverLib = Sel4Lib.layout(t)));
  sel4.mint(client, 1, Cap.endpoint(ep, 0x77, RIGHT.Send | RIGHT.GrantReply));
  sel4.mint(server, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const got: number[][] = [];
  const replies: number[][] = [];
  k.createThread(
    server,
    'srv',
    (u) =>
      (function* () {
        let m = yield* serverLib.recv(u, 1);
        for (let i = 0; i < 3; i++) {
          got.push([m.badge, ...m.mrs]);
          m = yield* serverLib.replyRecv(u, 1, msgInfo(0, 0, 2), [m.mrs[0]! * 10, m.mrs[1]! + 1]);
        }
      })(),
    { priority: 100 },
  );
  k.createThread(
    client,
    'cli',
    (u) =>
      (function* () {
        for (let i = 1; i <= 3; i++) {
          const r = yield* clientLib.call(u, 1, msgInfo(0, 0, 2), [i, 100 + i]);
          replies.push(r.mrs);
        }
      })(),
    { priority: 90 },
  );
  k.run(10_000);
  assert.deepEqual(got, [
    [0x77, 1, 101],
    [0x77, 2, 102],
    [0x77, 3, 103],
  ]);
  assert.deepEqual(replies, [
    [10, 102],
    [20, 103],
    [30, 104],
  ]);
});

test('a CPtr that does not resolve (guard mismatch) gives seL4_FailedLookup; an empty slot or a cap without Send gives InvalidCapability', () => {
  const { k, sel4 } = boot();
  const ep = sel4.newEndpoint();
  let lib!: Sel4Lib;
  const p = k.createProcess('p', (t) => (lib = Sel4Lib.layout(t)));
  sel4.mint(p, 2, Cap.endpoint(ep, 0, RIGHT.Receive));
  const labels: number[] = [];
  const t = k.createThread(p, 't', (u) =>
    (function* () {
      labels.push(msgLabel((yield* lib.call(u, 2 ** 20 + 2, msgInfo(0, 0, 1), [1])).info));
      labels.push(msgLabel((yield* lib.call(u, 5, msgInfo(0, 0, 1), [1])).info));
      labels.push(msgLabel((yield* lib.call(u, 2, msgInfo(0, 0, 1), [1])).info));
    })(),
  );
  k.run(1000);
  assert.deepEqual(labels, [6, 2, 2]);
  assert.equal(t.state, ThreadState.Exited);
});

test('with the timer on, run() ends once every thread is blocked or done (only ticks could come, and they wake no one)', () => {
  const { k, sel4 } = boot({ tickCycles: 10_000 });
  const ep = sel4.newEndpoint();
  let lib!: Sel4Lib;
  const p = k.createProcess('p', (t) => (lib = Sel4Lib.layout(t)));
  sel4.mint(p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  const waiter = k.createThread(p, 'waiter', (u) =>
    (function* () {
      yield* lib.recv(u, 1); // nobody ever sends
    })(),
  );
  const steps = k.run(1_000_000);
  assert.ok(steps < 100, `${steps} steps`);
  assert.equal(waiter.state, ThreadState.Blocked);
});
