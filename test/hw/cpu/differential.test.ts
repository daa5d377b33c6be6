// Differential testing of the interpreter against the host CPU (x86-64), in the manner of
// Martignoni et al., "Testing CPU emulators" (ISSTA 2009) and Linaro's risu: random
// instruction sequences run natively (native.ts) and in the interpreter from the same state,
// and every register, the defined flags, the XMM registers and the data area must agree — or
// both must fault at the same instruction. A few thousand cases here; `npm run bench`
// (bench/differential.bench.ts) runs 100 000.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareBatch } from './compare.ts';
import { nativeUnavailable } from './native.ts';
import { INSN_CLASSES } from './random-code.ts';
import { Simulator } from './simulate.ts';

const skip = nativeUnavailable();

describe('interpreter against the host CPU', { skip }, () => {
  const sim = new Simulator();
  for (const cls of INSN_CLASSES) {
    it(`${cls}: 400 random sequences agree with the host`, () => {
      const failures = compareBatch(sim, [cls], 400, 0x5eed + cls.length);
      assert.equal(
        failures.length,
        0,
        `${failures.length} differ; first:\n  ${failures.slice(0, 3).join('\n  ')}`,
      );
    });
  }
  it('all classes mixed: 800 random sequences agree with the host', () => {
    const failures = compareBatch(sim, INSN_CLASSES, 800, 0xd1ff);
    assert.equal(
      failures.length,
      0,
      `${failures.length} differ; first:\n  ${failures.slice(0, 3).join('\n  ')}`,
    );
  });
});
