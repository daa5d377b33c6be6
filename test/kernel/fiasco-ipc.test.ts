// Fiasco.OC IPC: messages UTCB to UTCB through an IPC gate, the gate's label with the
// caller's rights, the implicit reply, and the benchmark's one-way cost against L4Re's
// published figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Machine } from '../../src/hw/machine.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { Subkernel, DEFAULT_CONFIG, type SubkernelConfig } from '../../src/kernel/subkernel.ts';
import { Fiasco } from '../../src/kernel/fiasco/fiasco.ts';
import { FiascoLib, type FiascoMsg } from '../../src/kernel/fiasco/libfiasco.ts';
import { MAX_WORDS, Rights } from '../../src/kernel/fiasco/objects.ts';
import { ThreadState } from '../../src/kernel/thread.ts';
import { runFiascoBench } from '../../src/experiments/fiasco-bench.ts';

function boot(cfg: Partial<SubkernelConfig> = {}) {
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile: SKYLAKE });
  const fiasco = new Fiasco();
  const k = new Subkernel(m, fiasco, { ...DEFAULT_CONFIG, ...cfg });
  fiasco.attach(k);
  const proc = (name: string) => {
    let lib!: FiascoLib;
    const p = k.createProcess(name, (t) => (lib = FiascoLib.layout(t)));
    return { p, lib };
  };
  return { m, k, fiasco, proc };
}

/** A server that echoes each message transformed by `f`; a client that sends `msgs`. */
function echo(msgs: number[][], f: (w: number[]) => number[], cfg: Partial<SubkernelConfig> = {}) {
  const { k, fiasco, proc } = boot(cfg);
  const c = proc('client');
  const s = proc('server');
  const got: FiascoMsg[] = [];
  const replies: FiascoMsg[] = [];
  const srv = k.createThread(
    s.p,
    'srv',
    (u) =>
      (function* () {
        let m = yield* s.lib.wait(u);
        for (let i = 0; i < msgs.length; i++) {
          got.push(m);
          m = yield* s.lib.replyAndWait(u, f(m.words));
        }
      })(),
    { priority: 100 },
  );
  fiasco.putCap(c.p, 5, fiasco.newGate(srv, 0x40), Rights.CW);
  const cli = k.createThread(
    c.p,
    'cli',
    (u) =>
      (function* () {
        for (const w of msgs) replies.push(yield* c.lib.call(u, 5, w));
      })(),
    { priority: 90 },
  );
  k.run(100_000);
  return { got, replies, cli, srv };
}

test('Fiasco l4_ipc_call / l4_ipc_reply_and_wait between two tasks: words arrive in the receiver UTCB, the gate label | the capability rights, and the reply comes back', () => {
  const r = echo(
    [
      [1, 2, 3],
      [7, 8],
      [9, 10, 11, 12],
    ],
    (w) => w.map((x) => x * 10),
  );
  assert.deepEqual(
    r.got.map((m) => m.words),
    [
      [1, 2, 3],
      [7, 8],
      [9, 10, 11, 12],
    ],
  );
  assert.deepEqual(
    r.got.map((m) => m.label),
    [0x41, 0x41, 0x41],
  );
  assert.deepEqual(
    r.replies.map((m) => m.words),
    [
      [10, 20, 30],
      [70, 80],
      [90, 100, 110, 120],
    ],
  );
  assert.ok(r.replies.every((m) => m.error === 0));
  assert.equal(r.cli.state, ThreadState.Exited);
});

test('Fiasco messages of 0..63 words are intact and in order both ways (fast-check), with and without KPTI', () => {
  const word = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  fc.assert(
    fc.property(
      fc.array(fc.array(word, { maxLength: MAX_WORDS }), { minLength: 1, maxLength: 3 }),
      fc.boolean(),
      (msgs, kpti) => {
        const r = echo(msgs, (w) => [...w].reverse(), { kpti });
        assert.deepEqual(
          r.got.map((m) => m.words),
          msgs,
        );
        assert.deepEqual(
          r.replies.map((m) => m.words),
          msgs.map((w) => [...w].reverse()),
        );
      },
    ),
    { numRuns: 25 },
  );
});

test("Fiasco one-way IPC against L4Re's published figures: kernel instructions as counted in the compiled kernel (579 call + 571 reply), totals within ±10 % of L4Re's (inter-AS 613 / 587, intra-AS 557 / 543); cycles still below L4Re's 934–1172", () => {
  const inter = runFiascoBench(SKYLAKE, { interAs: true, words: 0, kpti: false, pcid: true });
  const intra = runFiascoBench(SKYLAKE, { interAs: false, words: 0, kpti: false, pcid: true });
  // The walk of Fiasco's compiled IPC path (src/kernel/fiasco/paths.ts): 579 kernel
  // instructions for the call one way, 571 for the reply (was ~455 one way, estimated).
  assert.equal(inter.kernelInstructions, 579 + 571);
  // Intra-AS: Mem_space::switchin_context's 19 for another address space, each way.
  assert.equal(intra.kernelInstructions, 579 + 571 - 2 * 19);
  const near = (x: number, ref: number): boolean => Math.abs(x / ref - 1) <= 0.1;
  for (const ref of [613, 587]) {
    assert.ok(
      near(inter.instructions / 2, ref),
      `inter one way ${inter.instructions / 2} vs ${ref}`,
    );
  }
  for (const ref of [557, 543]) {
    assert.ok(
      near(intra.instructions / 2, ref),
      `intra one way ${intra.instructions / 2} vs ${ref}`,
    );
  }
  // Cycles (783 call, 786.75 reply; were 516.5 and 508.75): below L4Re's Xeon figures, the
  // gap in paths.ts and docs/calibration.md (CPI 0.5 for kernel code, the WRMSR estimate).
  assert.ok(inter.call < 934 && inter.reply < 934, `call ${inter.call}, reply ${inter.reply}`);
  assert.ok(inter.call > 700 && inter.reply > 700, `call ${inter.call}, reply ${inter.reply}`);
  // The round trip also holds the server's work between its two stamps (the arrival
  // stamp's store, the reply's message), which neither one-way figure does.
  assert.ok(inter.roundTrip > inter.call + inter.reply + 2 * inter.overhead);
});

test('Fiasco runs what switch_cpu and the reply capabilities execute: two WRMSRs (FS and GS base) each way at ops.wrmsrBase, the LOCK CMPXCHG of set_reply_cap on the call, the XCHG and LOCK CMPXCHG of the reply capability on the reply', () => {
  const c = { interAs: true, words: 0, kpti: false, pcid: true };
  const base = runFiascoBench(SKYLAKE, c);
  const without = (ops: Partial<typeof SKYLAKE.ops>) =>
    runFiascoBench({ ...SKYLAKE, ops: { ...SKYLAKE.ops, ...ops } }, c);
  const wr = without({ wrmsrBase: 0 });
  assert.equal(base.call - wr.call, 2 * SKYLAKE.ops.wrmsrBase);
  assert.equal(base.reply - wr.reply, 2 * SKYLAKE.ops.wrmsrBase);
  const lk = without({ lockRmw: 0 });
  assert.equal(base.call - lk.call, SKYLAKE.ops.lockRmw);
  assert.equal(base.reply - lk.reply, SKYLAKE.ops.lockRmw);
  const xc = without({ xchgMem: 0 });
  assert.equal(base.call - xc.call, 0);
  assert.equal(base.reply - xc.reply, SKYLAKE.ops.xchgMem);
});

test('Fiasco without PCID (Fiasco enables PCID only with kernel isolation, Kconfig IA32_PCID) pays a flushing CR3 write and the TLB refill each way', () => {
  const a = runFiascoBench(SKYLAKE, { interAs: true, words: 0, kpti: false, pcid: true });
  const b = runFiascoBench(SKYLAKE, { interAs: true, words: 0, kpti: false, pcid: false });
  const same = runFiascoBench(SKYLAKE, { interAs: false, words: 0, kpti: false, pcid: true });
  assert.ok(b.call > a.call + 60, `pcid off ${b.call} vs on ${a.call}`);
  assert.ok(same.call < a.call - 100, `same AS ${same.call} vs inter-AS ${a.call}`);
  // 63 words cost one load, one store and one rep iteration each way per word.
  const long = runFiascoBench(SKYLAKE, { interAs: true, words: 63, kpti: false, pcid: true });
  assert.ok(long.instructions - a.instructions >= 2 * 63 * 3);
});
