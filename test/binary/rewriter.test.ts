// Each fixture runs the same before and after rewriting, and the output scans clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rewriteElf, type Change } from '../../src/binary/rewriter.ts';
import { scanElf } from '../../src/binary/scanner.ts';
import { fixture, fixtureBytes, run, tempDir, type FixtureName } from './fixtures.ts';

const SCRATCH_IN = 'lea -0x80(%rsp),%rsp';
const SCRATCH_OUT = 'lea 0x80(%rsp),%rsp';

/** Rewrites a fixture, runs both, and returns the changes. */
function rewriteAndRun(name: FixtureName): Change[] {
  const r = rewriteElf(fixtureBytes(name));
  assert.equal(r.kind, 'rewritten', r.kind === 'refused' ? r.reason : r.kind);
  if (r.kind !== 'rewritten') return [];
  const out = join(tempDir(), `${name}.rewritten`);
  writeFileSync(out, r.bytes);
  chmodSync(out, 0o755);
  const before = run(fixture(name));
  assert.deepEqual(run(out), before);
  assert.equal(scanElf(r.bytes).kind, 'clean');
  // binutils accepts the output without complaint.
  const re = execFileSync('readelf', ['-lSW', out], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.equal(
    /\.skybridge\.text/.test(re),
    r.changes.some((c) => c.strategy === 'relocated'),
  );
  return r.changes;
}

const expected: [FixtureName, string][] = [
  ['vmfunc', 'vmfunc-to-ud2'],
  ['immediate', 'relocated'],
  ['displacement', 'relocated'],
  ['callrel', 'relocated'],
  ['riprel', 'relocated'],
  ['spanning', 'swap-operand-form'],
];

for (const [name, strategy] of expected) {
  test(`${name}: rewritten by ${strategy}, same output and status, scans clean`, () => {
    assert.deepEqual(
      rewriteAndRun(name).map((c) => c.strategy),
      [strategy],
    );
  });
}

test('call rel32 moves as push/lea/xchg/jmp so the return address stays the original', () => {
  const r = rewriteElf(fixtureBytes('callrel'));
  assert.equal(r.kind, 'rewritten');
  if (r.kind !== 'rewritten') return;
  assert.deepEqual(
    r.changes[0].after.map((t) => t.split(' ')[0]),
    ['push', 'lea', 'xchg', 'jmp'],
  );
});

test('alu-imm: immediates of cmp/add/adc/sub/and/or/xor/test/mov move through a scratch register, flags and red zone kept', () => {
  const changes = rewriteAndRun('alu-imm');
  assert.deepEqual(
    changes.map((c) => c.before.join('; ')),
    [
      'cmp $0xd4010f90,%edi',
      'add $0xffffffffffd4010f,%rdi',
      'adc $0xd4010f90,%edi',
      'subl $0xd4010f90,(%rsi)',
      'and $0xd4010f90,%edi',
      'or $0xd4010f,%edi',
      'xor $0xffffffffffd4010f,%rdi',
      'test $0xd4010f90,%eax',
      'movl $0xd4010f90,-0x10(%rsp)',
      'cmpq $0xffffffffffd4010f,(%rsp)',
      'movq $0xffffffffffd4010f,(%rsi)',
      'cmpw $0xd401,0xf(%rsi)',
      'cmpb $0xd4,0x10f0000(%rsi)',
    ],
  );
  for (const c of changes) {
    assert.equal(c.strategy, 'relocated');
    assert.equal(c.after[0], SCRATCH_IN);
    assert.equal(c.after[c.after.length - 2], SCRATCH_OUT);
  }
  // The operation itself, register form; RSP-relative operands shifted by 128 + 8.
  const ops = changes.map((c) => c.after[c.after.findIndex((t) => t.startsWith('pop')) - 1]);
  assert.deepEqual(ops, [
    'cmp %eax,%edi',
    'add %rax,%rdi',
    'adc %eax,%edi',
    'sub %eax,(%rsi)',
    'and %eax,%edi',
    'or %eax,%edi',
    'xor %rax,%rdi',
    'test %ecx,%eax', // EAX is used: RCX is the scratch
    'mov %eax,0x78(%rsp)',
    'cmp %rax,0x88(%rsp)',
    'mov %rax,(%rsi)',
    'cmp %cx,0x1010101(%rax)', // address and immediate: two scratch registers
    'cmp %cl,0x1010101(%rax)',
  ]);
});

test('store-disp: stores, read-modify-write, SSE and RSP-relative displacements move through an address register', () => {
  const changes = rewriteAndRun('store-disp');
  assert.deepEqual(
    changes.map((c) => [c.before.join('; '), c.after.find((t) => t.includes('0x1010101('))]),
    [
      ['mov %edi,-0x2bfef100(%rsi)', 'mov %edi,0x1010101(%rax)'],
      ['add %edi,-0x2bfef100(%rsi)', 'add %edi,0x1010101(%rax)'],
      ['incl -0x2bfef100(%rsi)', 'incl 0x1010101(%rax)'],
      ['cmp %edi,-0x2bfef100(%rsi)', 'cmp %edi,0x1010101(%rax)'],
      ['movl $0x5a5a,-0x2bfef100(%rsi)', 'movl $0x5a5a,0x1010101(%rax)'],
      ['mov -0x2bfef100(%rsi),%ax', 'mov 0x1010101(%rcx),%ax'],
      ['mov -0x2bfef100(%rsi),%esi', 'mov 0x1010101(%rsi),%esi'],
      ['movdqu %xmm0,-0x2bfef100(%rsi)', 'movdqu %xmm0,0x1010101(%rax)'],
      ['mov %edi,-0x2bfef1(%rsp)', 'mov %edi,0x1010101(%rax)'],
    ],
  );
  // Every form but the 32-bit load (its destination is the address register) saves a scratch.
  assert.deepEqual(
    changes.map((c) => c.after[0] === SCRATCH_IN),
    [true, true, true, true, true, true, false, true, true],
  );
  // RSP base: the address is computed after RSP went down by 136.
  assert.equal(changes[8].after[2], 'lea -0x12cff6a(%rsp),%rax');
});

test('callmid: a call in the middle of a moved run returns to its original address, which jumps on', () => {
  const changes = rewriteAndRun('callmid');
  const c = changes[0];
  assert.deepEqual(c.before, ['call 0xfd41273', 'add %edx,%esp', 'mov %rbx,%rsp']);
  assert.equal(c.segments?.length, 2);
  const [first, second] = c.segments!;
  assert.equal(first.to, second.from);
  assert.deepEqual(c.after.slice(0, 4), [
    'push %rax',
    `lea 0x${first.to.toString(16)},%rax`,
    'xchg %rax,(%rsp)',
    'jmp 0xfd41273',
  ]);
  assert.deepEqual(c.after.slice(4), [
    `[0x${second.from.toString(16)}: jmp 0x${second.movedTo.toString(16)}]`,
    'add %edx,%esp',
    'mov %rbx,%rsp',
    `jmp 0x${(second.from + 5n).toString(16)}`,
  ]);
});

test('nopshift: a jump, a jcc and a RIP-relative load trade place with a NOP, in place', () => {
  const changes = rewriteAndRun('nopshift');
  assert.deepEqual(
    changes.map((c) => [c.strategy, c.before.join('; '), c.after.join('; ')]),
    [
      ['nop-shift', 'nop; jmp 0x1149', 'jmp 0x1149; nop'],
      ['nop-shift', 'jne 0x1189; nopl (%rax)', 'nop; jne 0x1189; xchg %ax,%ax'],
      ['nop-shift', 'nop; mov 0x1001199,%eax', 'mov 0x1001199,%eax; nop'],
    ],
  );
});

// Data inside .text sharing a page with code: refused, see nx-pages.test.ts.

test('a clean file is left unchanged', () => {
  const once = rewriteElf(fixtureBytes('spanning'));
  if (once.kind !== 'rewritten') throw new Error('expected a rewrite');
  assert.equal(rewriteElf(once.bytes).kind, 'unchanged');
});

test('the input buffer is not modified', () => {
  const bytes = fixtureBytes('nopshift');
  const copy = Uint8Array.from(bytes);
  assert.equal(rewriteElf(bytes).kind, 'rewritten');
  assert.deepEqual(Uint8Array.from(bytes), copy);
});
