// Cases in worker threads (parallel.ts) compute exactly what they compute in this thread.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { TaskPool } from '../../src/experiments/parallel.ts';
import { runTask } from '../../src/experiments/parallel-tasks.ts';
import type { YcsbCase } from '../../src/experiments/sqlite-ycsb.ts';

test('a YCSB case in a worker thread gives the result it gives here', async () => {
  const tiny: YcsbCase = {
    kernel: 'seL4',
    transport: 'native',
    workload: 'c',
    records: 2,
    operations: 2,
  };
  // One case, so one worker starts (each loads the whole simulator: a test's worth of time).
  const args = [{ profile: SKYLAKE, c: { ...tiny, transport: 'skybridge' as const } }];
  const pool = new TaskPool({ threads: 2 });
  let done = 0;
  try {
    const there = await pool.all('ycsb', args, () => done++);
    assert.equal(done, 1);
    assert.deepEqual(
      there,
      args.map((a) => runTask('ycsb', a)),
    );
  } finally {
    await pool.close();
  }
  assert.throws(() => new TaskPool({ threads: 0 }), /at least 1/);
});
