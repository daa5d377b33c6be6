import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSel4Bench } from '../../src/experiments/sel4bench.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';

const fast = runSel4Bench(SKYLAKE, { interAs: true, words: 0, kpti: false, pcid: true });

test('seL4 fastpath, inter-AS, 0 words, no KPTI: call and reply within 15 % of sel4bench on Skylake (375 / 382)', () => {
  assert.ok(Math.abs(fast.call - 375) / 375 <= 0.15, `call ${fast.call}`);
  assert.ok(Math.abs(fast.reply - 382) / 382 <= 0.15, `reply ${fast.reply}`);
  // The stamp overhead subtracted is RDTSC's own cost.
  assert.equal(fast.overhead, SKYLAKE.ops.rdtsc);
});

test('the IPC costs follow from the mechanism: same AS skips the CR3 write; PCID off and KPTI cost more; 10 words take the slowpath', () => {
  const intra = runSel4Bench(SKYLAKE, { interAs: false, words: 0, kpti: false, pcid: true });
  assert.equal(
    fast.call - intra.call,
    SKYLAKE.ops.movCr3NoFlush + 6 * SKYLAKE.cpi,
    'one no-flush CR3 write and its 6 setup instructions',
  );
  const noPcid = runSel4Bench(SKYLAKE, { interAs: true, words: 0, kpti: false, pcid: false });
  assert.ok(noPcid.call > fast.call + (SKYLAKE.ops.movCr3 - SKYLAKE.ops.movCr3NoFlush));
  const kpti = runSel4Bench(SKYLAKE, { interAs: true, words: 0, kpti: true, pcid: true });
  assert.ok(kpti.call > fast.call);
  const long = runSel4Bench(SKYLAKE, { interAs: true, words: 10, kpti: false, pcid: true });
  assert.ok(
    long.instructions > fast.instructions + 200,
    `slowpath retires more: ${long.instructions} vs ${fast.instructions}`,
  );
});

test('sel4bench runs are deterministic', () => {
  assert.deepEqual(
    runSel4Bench(SKYLAKE, { interAs: true, words: 0, kpti: false, pcid: true }),
    fast,
  );
});

test('cross-core IPC pays the IPI: the one-way call is at least the IPI latency', () => {
  const x = runSel4Bench(SKYLAKE, {
    interAs: true,
    words: 0,
    kpti: false,
    pcid: true,
    crossCore: true,
  });
  assert.ok(x.call >= SKYLAKE.ops.ipiLatency, `call ${x.call}`);
  assert.ok(x.reply >= SKYLAKE.ops.ipiLatency, `reply ${x.reply}`);
});
