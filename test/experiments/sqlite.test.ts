// SQLite with YCSB on the storage stack: the whole chain works on every kernel with both
// transports, reads find whole records, and the run's requests are the same whichever
// transport carries them (only how control crosses differs).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { KERNELS } from '../../src/experiments/kernels.ts';
import { runYcsb, YcsbError } from '../../src/experiments/sqlite-ycsb.ts';

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

test('a full disk: SQLITE_FULL reaches the client, and what was committed before is all there and intact', () => {
  const e = (() => {
    try {
      runYcsb(SKYLAKE, {
        kernel: 'seL4',
        transport: 'skybridge',
        workload: 'a',
        records: 400,
        operations: 10,
        diskBlocks: 400,
      });
    } catch (x) {
      return x;
    }
    return null;
  })();
  assert.ok(e instanceof YcsbError, 'the run stopped');
  assert.equal(e.rc, 13, 'SQLITE_FULL');
  assert.equal(e.step, 7, "at the load's COMMIT");
  // The load commits 100 rows a transaction: two went in before the disk filled up.
  assert.equal(e.rowsAfterFull, 200);
  assert.equal(e.intactAfterFull, true, 'PRAGMA integrity_check: ok');
});

test('a damaged disk image: the file system refuses to mount and says why; SQLite cannot open', () => {
  const lo32 = (a: number, b: number): number => a + b * 2 ** 32;
  // Block 1, the superblock: the right magic, version and block size, but 2^20 blocks.
  const damage = new Map([
    [128, lo32(0x66367678, 1)],
    [129, lo32(1024, 1 << 20)],
  ]);
  assert.throws(
    () =>
      runYcsb(SKYLAKE, {
        kernel: 'Zircon',
        transport: 'native',
        workload: 'c',
        records: 10,
        operations: 10,
        damage,
      }),
    (x: unknown) =>
      x instanceof YcsbError &&
      x.rc === 14 &&
      x.fsError === 'superblock size out of range: image of 1048576 blocks on a device of 16384',
  );
});

test('power fails during the run phase: after a restart the FS replays its log, SQLite rolls its journal back, and the database is intact with every record', () => {
  const c = {
    kernel: 'seL4' as const,
    transport: 'skybridge' as const,
    workload: 'a' as const,
    records: 30,
    operations: 20,
  };
  const clean = runYcsb(SKYLAKE, c);
  assert.ok(clean.diskWrites > clean.diskWritesAtLoad);
  for (const f of [0.1, 0.5, 0.97]) {
    const at = Math.floor(clean.diskWritesAtLoad + f * (clean.diskWrites - clean.diskWritesAtLoad));
    const r = runYcsb(SKYLAKE, { ...c, crashAfter: at }).restart!;
    assert.ok(r.lostWrites > 0, `the crash at block write ${at} lost writes`);
    assert.deepEqual([r.intact, r.rows], [true, 30], `crash at block write ${at}`);
  }
});
