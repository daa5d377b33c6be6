import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSel4Bench } from '../../src/experiments/sel4bench.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { classCosts } from '../../src/hw/mix.ts';
import { COMMON_KERNEL } from '../../src/kernel/kernel-mixes.ts';
import { assertWithinTsc } from './tsc.ts';

const fast = runSel4Bench(SKYLAKE, { interAs: true, words: 0, kpti: false, pcid: true });

test('seL4 fastpath, inter-AS, 0 words, no KPTI: a call and a reply cost hundreds of cycles, and the stamps cost what RDTSC does', () => {
  // Not compared with sel4bench's 375 / 382: the kernel CPI was chosen with them in view, so
  // the rows are calibrated (labelled so in reproduce ipc), not a test of the model.
  assert.ok(fast.call > 200 && fast.call < 1000, `call ${fast.call}`);
  assert.ok(fast.reply > 200 && fast.reply < 1000, `reply ${fast.reply}`);
  // The stamp overhead subtracted is RDTSC's own cost and the compiler's moves around it.
  assert.ok(fast.overhead >= SKYLAKE.ops.rdtsc && fast.overhead <= SKYLAKE.ops.rdtsc + 2);
});

test('the IPC costs follow from the mechanism: same AS skips the CR3 write; PCID off and KPTI cost more; 10 words take the slowpath', () => {
  const intra = runSel4Bench(SKYLAKE, { interAs: false, words: 0, kpti: false, pcid: true });
  assertWithinTsc(
    fast.call - intra.call,
    SKYLAKE.ops.movCr3NoFlush + COMMON_KERNEL.cycles(6, classCosts(SKYLAKE.insn)),
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

test('SkyBridge is faster on every kernel, least on seL4 and most on Zircon, as the paper predicts from their IPC paths', async () => {
  const { KERNELS, nativeIpc } = await import('../../src/experiments/kernels.ts');
  const { runSkyBridgeBench } = await import('../../src/experiments/skybridge-bench.ts');
  const speedup: Record<string, number> = {};
  for (const k of KERNELS) {
    const n = nativeIpc(k, SKYLAKE, false, true);
    const s = runSkyBridgeBench(SKYLAKE, { kernel: k, bytes: 0, kpti: false, pcid: true });
    speedup[k] = n.roundTrip / s.roundTrip;
  }
  assert.ok(speedup['seL4']! > 1, JSON.stringify(speedup));
  assert.ok(speedup['seL4']! < speedup['Fiasco.OC']!, JSON.stringify(speedup));
  assert.ok(speedup['Fiasco.OC']! < speedup['Zircon']!, JSON.stringify(speedup));
});

test("SkyBridge's own round trip does not depend on the kernel under it, nor on KPTI (no kernel on its path)", async () => {
  const { runSkyBridgeBench } = await import('../../src/experiments/skybridge-bench.ts');
  const base = runSkyBridgeBench(SKYLAKE, { kernel: 'seL4', bytes: 0, kpti: false, pcid: true });
  for (const kernel of ['Fiasco.OC', 'Zircon'] as const) {
    const r = runSkyBridgeBench(SKYLAKE, { kernel, bytes: 0, kpti: false, pcid: true });
    assert.equal(r.instructions, base.instructions, kernel);
    assertWithinTsc(r.roundTrip, base.roundTrip, kernel);
  }
  const kpti = runSkyBridgeBench(SKYLAKE, { bytes: 0, kpti: true, pcid: true });
  assert.equal(kpti.instructions, base.instructions);
  assertWithinTsc(kpti.roundTrip, base.roundTrip, 'KPTI');
  // Two VMFUNCs are the bulk of it.
  assert.equal(base.phases['VMFUNC to the server'], SKYLAKE.ops.vmfunc);
  assert.equal(base.phases['VMFUNC back'], SKYLAKE.ops.vmfunc);
});
