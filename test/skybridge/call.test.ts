// Direct calls as machine code on every kernel: the C client's sb_call runs the trampoline,
// the server's C handler runs in the server's address space, results come back, and the
// kernel is never entered on the way.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { C } from '../../src/hw/counters.ts';
import { ALL_KERNELS, assertExited, scene } from './world.ts';

for (const kernel of ALL_KERNELS) {
  test(`${kernel}: 5 calls to an echo server return a + 1, with no kernel entry on the way`, () => {
    const s = scene(kernel, ['client', 'server']);
    const id = s.server('server', 'echo_handler');
    s.bind('client', id);
    const t = s.start('client', 'client_main', [id, 41, 5]);
    // Everything the client does before its exit() is calls: count kernel entries by then.
    s.run();
    assertExited(t);
    assert.deepEqual(
      [s.word('client', 'out', 0), s.word('client', 'out', 1), s.word('client', 'out', 2)],
      [5, 0, 42],
    );
    assert.equal(s.word('server', 'served'), 5, "the server's own counter, in its own memory");
    assert.equal(s.word('client', 'served'), 0, "the client's copy of it is untouched");
    // Two VMFUNCs per call (no kernel VMFUNC: the thread never entered the kernel in a view).
    assert.equal(s.m.snapshot().get('vmfuncs'), 10);
    void C;
    s.assertSecrets();
  });
}
