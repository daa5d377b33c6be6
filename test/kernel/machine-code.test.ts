// Machine-code threads under each kernel: preemption by the timer between any two
// instructions preserves every register (the kernels save and restore the whole user
// context), and threads on two cores interleave at instruction granularity — a plain
// read-modify-write of a shared counter loses updates, a LOCK ADD never does — in the same
// order on every run.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { readElf } from '../../src/binary/elf-reader.ts';
import { CounterSnapshot } from '../../src/hw/counters.ts';
import { Machine } from '../../src/hw/machine.ts';
import { R } from '../../src/hw/core.ts';
import { KERNELS, bootKernel, type KernelName } from '../../src/experiments/kernels.ts';
import { loadElf } from '../../src/kernel/elf-loader.ts';
import { LinuxAbi } from '../../src/kernel/linux/abi.ts';
import { machineCodeBody } from '../../src/kernel/machine-code.ts';
import { resolveUser } from '../../src/kernel/user-memory.ts';
import type { Thread } from '../../src/kernel/thread.ts';
import { buildGuests, guestPath } from '../../guest/build.mjs';

let file: Uint8Array;
let symbols: Map<string, number>;

before(async () => {
  await buildGuests({ quiet: true });
  file = readFileSync(guestPath('threads'));
  symbols = new Map(readElf(file).symbols.map((s) => [s.name, Number(s.value)]));
});

interface Run {
  threads: Thread[];
  read64(name: string, index?: number): bigint;
  interrupts: number;
  cycles: number;
}

/** Starts one thread per `entries` item (core, entry symbol, RDI) and runs to the end. */
function run(
  kernel: KernelName,
  cores: number,
  tickCycles: number,
  entries: { core: number; entry: string; rdi?: number }[],
): Run {
  const m = new Machine({ cores });
  const abi = new LinuxAbi({ seed: 1, frequencyGHz: m.profile.frequencyGHz });
  const k = bootKernel(kernel, m, { tickCycles }, [abi]);
  const { process, image } = loadElf(k, 'threads', file);
  abi.attach(process, image.end);
  const rdiSlot = k.personality.tcb.saved.find((s) => s.reg === R.RDI)!.offset;
  const threads = entries.map((e, i) => {
    const t = k.createThread(process, `t${i}`, machineCodeBody(m), {
      core: e.core,
      entry: symbols.get(e.entry)!,
      machineCode: true,
    });
    m.mem.write64n(t.tcbGpa + rdiSlot, e.rdi ?? 0);
    return t;
  });
  while (k.run(100_000) === 100_000);
  const snap = CounterSnapshot.take(
    m.cores.map((c) => c.counters),
    m.owners,
  );
  return {
    threads,
    read64(name, index = 0) {
      const gpa = resolveUser(k, threads[0]!, symbols.get(name)! + index * 8, false)!;
      return m.mem.read64(gpa);
    },
    interrupts: snap.get('interrupts'),
    cycles: Math.max(...m.cores.map((c) => c.cycles)),
  };
}

/** mixer(i) as the host computes it: from the program's own output on the host. */
function hostMixers(): bigint[] {
  const out = spawnSync(guestPath('threads'), { encoding: 'utf8' }).stdout;
  return [...out.matchAll(/mixer\(\d\) ([0-9a-f]+)/g)].map((x) => BigInt(`0x${x[1]}`));
}

for (const kernel of KERNELS) {
  describe(`machine-code threads on ${kernel}`, () => {
    it('four threads preempted by the timer every 3,000 cycles keep every register', () => {
      const r = run(
        kernel,
        1,
        3000,
        [0, 1, 2, 3].map((i) => ({ core: 0, entry: 'mixer_thread', rdi: i })),
      );
      for (const t of r.threads)
        assert.equal(t.exitReason, 'exit(0)', `${t.name}: ${t.exitReason}`);
      assert.ok(r.interrupts > 20, `only ${r.interrupts} interrupts: the test would not preempt`);
      assert.deepEqual(
        [0, 1, 2, 3].map((i) => r.read64('checksum', i)),
        hostMixers(),
      );
    });

    it('LOCK ADD from two cores: no update lost', () => {
      const r = run(kernel, 2, 0, [
        { core: 0, entry: 'racer_locked_thread' },
        { core: 1, entry: 'racer_locked_thread' },
      ]);
      assert.equal(r.read64('counter'), 40000n);
    });

    it('a plain read-modify-write from two cores loses updates, identically every run', () => {
      const threads = [
        { core: 0, entry: 'racer_plain_thread' },
        { core: 1, entry: 'racer_plain_thread' },
      ];
      const a = run(kernel, 2, 0, threads);
      const b = run(kernel, 2, 0, threads);
      const n = a.read64('counter');
      assert.ok(n < 40000n && n >= 20000n, `counter ${n}`);
      assert.equal(b.read64('counter'), n);
      assert.equal(b.cycles, a.cycles);
    });
  });
}
