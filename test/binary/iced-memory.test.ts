// iced-x86 objects live in WebAssembly memory and must be freed by hand. Instruction.create*
// takes ownership of a MemoryOperand (its JS wrapper is emptied and WebAssembly drops it; a
// later .free() would throw "null pointer passed to rust"), so the rewriter frees the
// instructions it creates, never their memory operands. This checks that no iced object is
// left alive after scanning and rewriting every fixture, whichever way each ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Code, Instruction, MemoryOperand, Register } from '../../src/binary/iced.ts';
import { rewriteElf } from '../../src/binary/rewriter.ts';
import { scanElf } from '../../src/binary/scanner.ts';
import { FIXTURES, fixtureBytes } from './fixtures.ts';
import { liveIcedObjects, trackIcedObjects } from './iced-live.ts';

trackIcedObjects();

test('the tracker sees ownership pass from a MemoryOperand to Instruction.create*', () => {
  const m = MemoryOperand.createBaseDispl(Register.RSP, -128n);
  assert.deepEqual([...liveIcedObjects()], [['MemoryOperand', 1]]);
  const i = Instruction.createRegMem(Code.Lea_r64_m, Register.RSP, m);
  assert.deepEqual([...liveIcedObjects()], [['Instruction', 1]]);
  assert.throws(() => m.free(), /null pointer passed to rust/);
  i.free();
  assert.deepEqual([...liveIcedObjects()], []);
});

for (const name of FIXTURES) {
  test(`${name}: scan and rewrite leave no iced object alive`, () => {
    const bytes = fixtureBytes(name);
    scanElf(bytes);
    rewriteElf(bytes);
    rewriteElf(bytes, undefined, { strict: true });
    assert.deepEqual([...liveIcedObjects()], []);
  });
}
