// SQLite with YCSB on the storage stack: the whole chain works on every kernel with both
// transports, reads find whole records, and the run's requests are the same whichever
// transport carries them (only how control crosses differs).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { KERNELS } from '../../src/experiments/kernels.ts';
import { runYcsb } from '../../src/experiments/sqlite-ycsb.ts';

for (const kernel of KERNELS)
  test(`${kernel}: YCSB F (read-modify-write) on SQLite over the FS and RAM-disk servers, natively and with SkyBridge`, () => {
    const c = { kernel, workload: 'f' as const, records: 30, operations: 30 };
    const native = runYcsb(SKYLAKE, { ...c, transport: 'native' });
    const sb = runYcsb(SKYLAKE, { ...c, transport: 'skybridge' });
    for (const r of [native, sb]) {
      assert.equal(r.operations, 30);
      assert.equal(r.badReads, 0, 'every read found its record whole');
      assert.ok(r.diskRequestsPerOp > 10, 'updates reach the RAM disk through the FS log');
    }
    // The same SQLite, the same file system: the same requests on each connection.
    assert.equal(sb.fsRequestsPerOp, native.fsRequestsPerOp);
    assert.equal(sb.diskRequestsPerOp, native.diskRequestsPerOp);
    // No kernel on SkyBridge's path: its run phase enters the kernel for nothing.
    assert.equal(sb.breakdown.kernel, 0);
    assert.ok(native.breakdown.kernel > 0);
    assert.ok(sb.cyclesPerOp < native.cyclesPerOp);
  });
