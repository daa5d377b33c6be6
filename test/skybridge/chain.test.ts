import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSkyBridge } from './fixture.ts';
import { directServerCall, type CallResult } from '../../src/skybridge/direct-call.ts';
import { USER_DATA } from '../../src/kernel/layout.ts';

test('a chain client → A → B: each hop through its own view, results composed, no kernel entry', () => {
  const { m, k, sb } = bootSkyBridge();
  const client = k.createProcess('client', () => {});
  const a = k.createProcess('A', () => {});
  const b = k.createProcess('B', () => {});
  const sidB = sb.registerServer(
    b,
    (u, call) =>
      (function* () {
        return [call.args[0]! * 2 + u.load32(USER_DATA)];
      })(),
    1,
  );
  const sidA = sb.registerServer(
    a,
    (u, call) =>
      (function* () {
        const r = yield* directServerCall(sb, u, sidB, [call.args[0]! + 1]);
        if (!r.ok) return [-1];
        return [r.results[0]! + u.load32(USER_DATA)];
      })(),
    1,
  );
  sb.registerClient(m.core(0), a, sidB);
  sb.registerClient(m.core(0), client, sidA);
  for (const [p, v] of [
    [client, 1],
    [a, 1000],
    [b, 100000],
  ] as const) {
    k.createThread(
      p,
      `${p.name}-init`,
      (u) =>
        (function* () {
          u.store32(USER_DATA, v);
        })(),
      { priority: 200 },
    );
  }
  let r: CallResult | undefined;
  let vmfuncs = -1;
  let syscalls = -1;
  k.createThread(
    client,
    'c',
    (u) =>
      (function* () {
        const s0 = m.snapshot();
        r = yield* directServerCall(sb, u, sidA, [5]);
        const d = m.snapshot().minus(s0);
        vmfuncs = d.get('vmfuncs');
        syscalls = d.get('syscalls');
      })(),
    { priority: 100 },
  );
  k.run(10_000);
  // B sees 6, returns 12 + 100000; A adds its 1000.
  assert.deepEqual(r, { ok: true, results: [101012] });
  assert.equal(vmfuncs, 4);
  assert.equal(syscalls, 0);
});
