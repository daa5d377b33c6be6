import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSkyBridge } from './fixture.ts';
import { directServerCall, type CallResult } from '../../src/skybridge/direct-call.ts';
import { SbError } from '../../src/skybridge/layout.ts';
import { R } from '../../src/hw/core.ts';
import { vmfunc } from '../../src/hw/vmx.ts';

test('a server killed for a violation is revoked: its clients get NotBound instead of running its code, and nobody can bind to it again', () => {
  const { m, k, sb } = bootSkyBridge();
  const client = k.createProcess('client', () => {});
  const server = k.createProcess('server', () => {});
  let calls = 0;
  const sid = sb.registerServer(
    server,
    (u) =>
      (function* () {
        calls++;
        if (calls === 2) {
          // The second call: the server's code VMFUNCs to an index the caller's list lacks.
          u.regs.set(R.RAX, 0);
          u.regs.set(R.RCX, 7);
          vmfunc(u.core, sb.trampoline.vmfuncCall);
        }
        return [calls];
      })(),
    1,
  );
  const b = sb.registerClient(m.core(0), client, sid);
  const results: CallResult[] = [];
  k.createThread(client, 'c', (u) =>
    (function* () {
      for (let i = 0; i < 3; i++) results.push(yield* directServerCall(sb, u, sid, [i]));
    })(),
  );
  k.run(10_000);
  assert.deepEqual(results[0], { ok: true, results: [1] });
  assert.equal(results[1]!.ok, false);
  assert.equal((results[1] as { error: number }).error, SbError.ServerFault);
  assert.equal(server.killed, true);
  assert.equal(client.killed, false);
  assert.equal(b.active, false);
  assert.equal(results[2]!.ok, false);
  assert.equal((results[2] as { error: number }).error, SbError.NotBound);
  assert.equal(calls, 2, "the dead server's code never ran again");
  assert.throws(() => sb.registerClient(m.core(0), client, sid), /was killed/);
});
