// CPUID from machine code under each kernel: a VM exit the Rootkernel emulates (its own
// leaves, src/rootkernel/cpuid.ts), after which the thread goes on at the next instruction.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { runProgram, RUN_KERNELS, type RunKernel } from '../../src/experiments/run-program.ts';
import { buildGuests, guestPath } from '../../guest/build.mjs';

let file: Uint8Array;
before(async () => {
  await buildGuests({ quiet: true });
  file = readFileSync(guestPath('cpuid'));
});

for (const kernel of Object.keys(RUN_KERNELS) as RunKernel[]) {
  test(`CPUID on ${kernel}: three VM exits, emulated, and the program runs on`, () => {
    const r = runProgram(file, { kernel, args: ['cpuid'] });
    assert.deepEqual(r.exit, { kind: 'exited', status: 0 });
    assert.equal(
      new TextDecoder().decode(r.stdout),
      'vendor GenuineIntel\nhypervisor bit 1\nhypervisor SkyBridgeVM\n',
    );
    assert.equal(r.counters.find((c) => c.name === 'vmexit.cpuid')?.value, 3);
  });
}
