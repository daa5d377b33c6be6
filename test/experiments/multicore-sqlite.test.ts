// Experiment multicore-sqlite's scene: two SQLite clients on two cores over the one FS and
// RAM-disk server, natively with a server thread on each core and with SkyBridge; both
// servers then take their lock around each request.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { runMcSqlite, type McSqliteCase } from '../../src/experiments/multicore-sqlite-stack.ts';

const small = (setup: McSqliteCase['setup']): McSqliteCase => ({
  kernel: 'seL4',
  setup,
  cores: 2,
  workload: 'a',
  records: 6,
  operations: 3,
});

for (const setup of ['per-core', 'skybridge'] as const) {
  test(`two clients at once (${setup}): every database intact with every record; the FS lock contended`, () => {
    const r = runMcSqlite(SKYLAKE, small(setup));
    // The client stops short of step DONE if PRAGMA integrity_check is not "ok", and the
    // harness throws if a database holds other than the records loaded and inserted.
    assert.deepEqual(r.rows, r.expectedRows);
    assert.deepEqual(r.rows, [6, 6]);
    assert.equal(r.badReads, 0);
    assert.equal(r.operations, 6);
    assert.equal(r.latencies.flat().length, 6);
    // Both clients start their run phase at the same cycle, so requests meet at the FS: a
    // request found its lock held and spun. The RAM disk's is taken under the FS's, by one
    // request at a time.
    assert.ok(r.fsLock.taken > 0);
    assert.ok(r.fsLock.contended >= 1, `FS lock: ${JSON.stringify(r.fsLock)}`);
    assert.ok(r.fsLock.spins >= 1 && r.fsLock.waitCycles > 0);
    assert.equal(r.ramdiskLock.contended, 0);
    assert.equal(r.ipisPerOp, 0); // same-core IPC or none at all
  });
}

test('refused cases say why', () => {
  assert.throws(
    () => runMcSqlite(SKYLAKE, { ...small('single'), kernel: 'Zircon' }),
    /no single server on Zircon/,
  );
  assert.throws(() => runMcSqlite(SKYLAKE, { ...small('skybridge'), cores: 0 }), /1 to 16/);
});
