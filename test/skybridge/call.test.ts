import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSkyBridge } from './fixture.ts';
import { directServerCall, type CallResult } from '../../src/skybridge/direct-call.ts';
import { USER_DATA } from '../../src/kernel/layout.ts';

test("directServerCall: the handler runs in the server's address space and its results come back, with no kernel entry", () => {
  const { m, k, sb } = bootSkyBridge();
  const client = k.createProcess('client', () => {});
  let work!: { at: number; bytes: number; instructions: number };
  const server = k.createProcess('server', (t) => (work = t.block(20, 64)));
  k.machine.mem.write32(0, 0); // nothing
  const sid = sb.registerServer(
    server,
    (u, call) =>
      (function* () {
        u.run(work);
        // The server's own data, at the same address the client uses for its own.
        const own = u.load32(USER_DATA);
        return [call.args[0]! + call.args[1]!, own];
      })(),
    1,
  );
  sb.registerClient(m.core(0), client, sid);
  const results: CallResult[] = [];
  let syscallsDuring = -1;
  let vmfuncsDuring = -1;
  k.createThread(
    server,
    'init',
    (u) =>
      (function* () {
        u.store32(USER_DATA, 4242);
      })(),
    { priority: 200 },
  );
  k.createThread(
    client,
    'c',
    (u) =>
      (function* () {
        u.store32(USER_DATA, 1111);
        results.push(yield* directServerCall(sb, u, sid, [2, 3]));
        const s0 = m.snapshot();
        for (let i = 0; i < 10; i++) results.push(yield* directServerCall(sb, u, sid, [i, 100]));
        const d = m.snapshot().minus(s0);
        syscallsDuring = d.get('syscalls');
        vmfuncsDuring = d.get('vmfuncs');
      })(),
    { priority: 100 },
  );
  k.run(10_000);
  assert.deepEqual(results[0], { ok: true, results: [5, 4242] });
  assert.equal(results.length, 11);
  results.slice(1).forEach((r, i) => assert.deepEqual(r, { ok: true, results: [i + 100, 4242] }));
  assert.equal(syscallsDuring, 0);
  assert.equal(vmfuncsDuring, 20);
});
