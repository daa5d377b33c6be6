// The speculative-execution mitigations (src/kernel/mitigations.ts, the Rootkernel's L1D
// flush, the trampoline's variants): each adds exactly its instructions' cost per occurrence
// on a path and nothing when off; the L1D flush runs on VM entries only; the trampolines that
// fill the RSB and clear CPU buffers still serve calls, at a cost in the phases where their
// code is; VERW runs in user mode; the experiment's rows are valid.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Stop } from '../../src/hw/cpu/interpreter.ts';
import { Machine } from '../../src/hw/machine.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import {
  RSB_FILL_INSTRUCTIONS,
  RSB_FILL_MIX,
  type MitigationConfig,
} from '../../src/kernel/mitigations.ts';
import { Hypercall } from '../../src/rootkernel/hypercalls.ts';
import { bootKernel, nativeIpc, type KernelName } from '../../src/experiments/kernels.ts';
import { mitigations } from '../../src/experiments/mitigations.ts';
import { runSkyBridgeBench } from '../../src/experiments/skybridge-bench.ts';
import { rowSchema } from '../../src/report/schema.ts';
import { Guest, USER_CODE, USER_DATA } from '../hw/guest.ts';
import { assertWithinTsc } from './tsc.ts';

const P = SKYLAKE;
const RUNS = 4;
const roundTrip = (k: KernelName, m: Partial<MitigationConfig> = {}, kpti = false): number =>
  nativeIpc(k, P, kpti, true, RUNS, m).roundTrip;
/** A WRMSR and the three register moves that load its operands (ALU at the table's cost). */
const msr = (cost: number): number => cost + 3 * P.insn.alu;
/** One RSB fill, instruction by instruction: 32 CALLs, 18 ALU operations, 15 taken branches
 *  and one not taken, a PUSH, a POP and the LFENCE (charged as a store, as fences are). */
const I = P.insn;
const RSB_FILL =
  32 * I.call + 18 * I.alu + 15 * I.branchTaken + I.branch + I.push + I.pop + I.store;

describe('kernel mitigations', () => {
  it('the RSB fill mix counts every instruction of the fill once', () => {
    assert.equal(RSB_FILL_MIX.counted, RSB_FILL_INSTRUCTIONS);
  });

  // Per round trip between two address spaces: seL4 and Fiasco.OC enter the kernel twice
  // and switch address spaces twice; Zircon enters four times (call; wait, read, write).
  const counts: Record<KernelName, { switches: number; entries: number }> = {
    seL4: { switches: 2, entries: 2 },
    'Fiasco.OC': { switches: 2, entries: 2 },
    Zircon: { switches: 2, entries: 4 },
  };

  for (const k of ['seL4', 'Fiasco.OC', 'Zircon'] as const) {
    it(`${k}: each flag adds exactly its instructions per occurrence, nothing when off`, () => {
      const base = roundTrip(k);
      const { switches, entries } = counts[k];
      assert.equal(roundTrip(k, {}), base);
      assert.equal(
        roundTrip(k, { ibpb: false, rsbFill: false, ibrs: 'off', verw: false, l1dFlush: false }),
        base,
      );
      assertWithinTsc(roundTrip(k, { verw: true }), base + entries * P.ops.verw);
      assertWithinTsc(roundTrip(k, { ibpb: true }), base + switches * msr(P.ops.ibpb));
      assertWithinTsc(roundTrip(k, { rsbFill: true }), base + switches * RSB_FILL);
      assertWithinTsc(roundTrip(k, { ibrs: 'entry' }), base + entries * msr(P.ops.wrmsrBase));
      assertWithinTsc(
        roundTrip(k, { ibrs: 'entry-exit' }),
        base + 2 * entries * msr(P.ops.wrmsrBase),
      );
      // With KPTI the sites run on the kernel's root, before its CR3 switch on the way out.
      const kpti = roundTrip(k, {}, true);
      assertWithinTsc(
        roundTrip(k, { verw: true, ibpb: true }, true),
        kpti + entries * P.ops.verw + switches * msr(P.ops.ibpb),
      );
    });
  }

  it('the L1D flush runs before VM entries only: a hypercall pays it, an IPC does not', () => {
    assertWithinTsc(roundTrip('seL4', { l1dFlush: true }), roundTrip('seL4'), 'L1D flush');
    const hypercall = (l1dFlush: boolean): number => {
      const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile: P });
      const k = bootKernel('seL4', m, { mitigations: { l1dFlush } });
      const core = m.core(0);
      k.hypercall(core, Hypercall.EptpValue, 0);
      const t0 = core.cycles;
      k.hypercall(core, Hypercall.EptpValue, 0);
      return core.cycles - t0;
    };
    const extra = hypercall(true) - hypercall(false);
    // The WRMSR and its setup, then the lines the flush invalidated miss (L2 hits).
    assert.ok(extra > msr(P.ops.l1dFlush), `${extra}`);
    assert.ok(extra < msr(P.ops.l1dFlush) + 100, `${extra}`);
  });
});

describe('trampoline variants', () => {
  const plain = runSkyBridgeBench(P, { bytes: 0, kpti: false, pcid: true, runs: RUNS });

  it('the RSB-filling trampoline serves calls; the fill costs the same on both sides', () => {
    // runSkyBridgeBench throws if any call of the client failed.
    const r = runSkyBridgeBench(P, {
      bytes: 0,
      kpti: false,
      pcid: true,
      runs: RUNS,
      trampoline: 'sb-trampoline-rsb',
    });
    const d = (phase: string): number => r.phases[phase]! - plain.phases[phase]!;
    const entry = d('server entry (tag, key check, stack)');
    const exit = d('client exit (checks, restore)');
    assert.ok(entry > 32, `${entry}`); // at least its 32 CALLs
    assert.equal(exit, entry);
    assert.equal(r.roundTrip, plain.roundTrip + entry + exit);
    // 16 iterations of CALL, CALL, DEC, JNZ, then MOV, LFENCE, ADD: on each side.
    assert.equal(r.instructions, plain.instructions + 2 * (16 * 4 + 3));
  });

  it('the VERW trampoline: one VERW and the store of its selector before each VMFUNC', () => {
    const r = runSkyBridgeBench(P, {
      bytes: 0,
      kpti: false,
      pcid: true,
      runs: RUNS,
      trampoline: 'sb-trampoline-verw',
    });
    assert.equal(r.roundTrip, plain.roundTrip + 2 * (P.ops.verw + P.insn.store));
    assert.equal(r.instructions, plain.instructions + 4);
  });

  it('kernel mitigations do not touch the VMFUNC path', () => {
    // Against the same configuration without the mitigations: the same instructions run. The
    // mitigations' kernel text moves where later frames land in physical memory, which moves
    // the mean of four calls by a quarter of a cycle (a cache set), not by any instruction.
    const base = runSkyBridgeBench(P, { bytes: 0, kpti: true, pcid: true, runs: RUNS });
    const r = runSkyBridgeBench(P, {
      bytes: 0,
      kpti: true,
      pcid: true,
      runs: RUNS,
      mitigations: { ibpb: true, rsbFill: true, ibrs: 'entry-exit', verw: true, l1dFlush: true },
    });
    assert.equal(r.instructions, base.instructions);
    assert.ok(Math.abs(r.roundTrip - base.roundTrip) < 1, `${r.roundTrip} vs ${base.roundTrip}`);
  });
});

describe('VERW in user mode', () => {
  const run = (g: Guest, code: number[]): void => {
    g.m.mem.writeBytes(g.resolve(USER_CODE), Uint8Array.from(code));
    g.core.cpl = 3;
    g.core.syncContext();
    g.core.rip = USER_CODE;
    assert.equal(g.m.cpus[0]!.run(Infinity, USER_CODE + code.length, 100), Stop.StopAt);
  };
  const ZF = 1 << 6;

  it('sets ZF for the user data selector only and costs ops.verw', () => {
    for (const [sel, zf] of [
      [0x2b, true],
      [0x28, true],
      [0x10, false],
      [0, false],
    ] as const) {
      const g = new Guest();
      g.core.regs.set(3, USER_DATA);
      // mov word [rbx], sel
      run(g, [0x66, 0xc7, 0x03, sel, 0]);
      const t0 = g.core.cycles;
      // verw word [rbx]
      run(g, [0x0f, 0x00, 0x2b]);
      assert.equal((g.core.rflags & ZF) !== 0, zf, `selector ${sel}`);
      assert.equal(g.core.cycles - t0, P.ops.verw, `selector ${sel}`);
    }
  });
});

describe('experiment mitigations', () => {
  it('runs (quick) and its rows are valid', () => {
    const r = mitigations.run({ profile: P, quick: true });
    assert.ok(r.rows.length > 0);
    for (const x of r.rows) rowSchema.parse(x);
    const ids = r.rows.map((x) => x.id);
    assert.equal(new Set(ids).size, ids.length);
    const sb = r.rows.find(
      (x) =>
        x.id ===
        'mitigations.skybridge.sel4.skybridge.overhead.kpti-on.pcid-on.mit-all.tramp-plain',
    );
    assertWithinTsc(sb?.value, 0, 'SkyBridge with every mitigation, over none');
  });
});
