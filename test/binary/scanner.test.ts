// Every class of occurrence is found and placed in the right instruction field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rewriteElf } from '../../src/binary/rewriter.ts';
import { scanCode, scanElf } from '../../src/binary/scanner.ts';
import {
  describeOccurrence,
  possiblyDataReason,
  type Occurrence,
} from '../../src/binary/occurrence.ts';
import { fixture, fixtureBytes, tempDir, type FixtureName } from './fixtures.ts';

function only(name: FixtureName): Occurrence {
  const r = scanElf(fixtureBytes(name));
  assert.equal(r.kind, 'found');
  if (r.kind !== 'found') throw new Error('unreachable');
  assert.equal(r.scan.occurrences.length, 1);
  return r.scan.occurrences[0];
}

function fields(o: Occurrence): string[][] {
  if (o.kind === 'spanning') return o.instructions.map((i) => i.fields);
  if (o.kind === 'vmfunc' || o.kind === 'in-instruction') return [o.instruction.fields];
  return [];
}

test('a real vmfunc instruction', () => {
  const o = only('vmfunc');
  assert.equal(o.kind, 'vmfunc');
  assert.deepEqual(fields(o), [['opcode', 'modrm']]);
  assert.match(o.symbol ?? '', /^switch_ept\+0x/);
});

test('inside an immediate', () => {
  const o = only('immediate');
  assert.equal(o.kind, 'in-instruction');
  assert.deepEqual(fields(o), [['immediate']]);
});

test('inside a displacement', () => {
  const o = only('displacement');
  assert.equal(o.kind, 'in-instruction');
  assert.deepEqual(fields(o), [['displacement']]);
});

test('inside a call rel32', () => {
  const o = only('callrel');
  assert.equal(o.kind, 'in-instruction');
  assert.deepEqual(fields(o), [['rel-offset']]);
  assert.equal(o.symbol, 'via_call+0x1');
});

test('inside a RIP-relative displacement', () => {
  const o = only('riprel');
  assert.deepEqual(fields(o), [['rip-displacement']]);
});

test('across two instructions', () => {
  const o = only('spanning');
  assert.equal(o.kind, 'spanning');
  assert.deepEqual(fields(o), [['immediate'], ['opcode', 'modrm']]);
});

test('data object inside .text is data, not code', () => {
  const o = only('data-in-text');
  assert.equal(o.kind, 'data');
  assert.equal(o.section, '.text');
  if (o.kind === 'data') assert.equal(o.reason, 'inside data object magic_table');
});

test('scanCode on a raw buffer: prefix+immediate and a span', () => {
  // mov rax, 0xd4010f00_00000000 (48 B8 imm64); then 0F 01 D4 as VMFUNC itself
  const code = Uint8Array.of(0x48, 0xb8, 0, 0, 0, 0, 0, 0x0f, 0x01, 0xd4, 0x0f, 0x01, 0xd4, 0xc3);
  const occ = scanCode(code, 0x400000n);
  assert.deepEqual(
    occ.map((o) => [o.kind, o.address]),
    [
      ['in-instruction', 0x400007n],
      ['vmfunc', 0x40000an],
    ],
  );
  assert.deepEqual(fields(occ[0]), [['immediate']]);
});

test('scanCode: clean buffer', () => {
  assert.deepEqual(scanCode(Uint8Array.of(0x90, 0xc3), 0n), []);
});

test('no function symbol covers it: possibly data (stripped file); strict rewrite refuses', () => {
  const stripped = join(tempDir(), 'immediate.stripped');
  execFileSync('strip', ['-o', stripped, fixture('immediate')]);
  const bytes = readFileSync(stripped);
  const r = scanElf(bytes);
  assert.equal(r.kind, 'found');
  if (r.kind !== 'found') return;
  const [o] = r.scan.occurrences;
  assert.equal(o.kind, 'in-instruction');
  if (o.kind === 'in-instruction') assert.equal(o.possiblyData, 'no function symbol covers it');
  assert.match(describeOccurrence(o), /\(possibly data: no function symbol covers it\)$/);
  const loose = rewriteElf(bytes);
  assert.equal(loose.kind, 'rewritten');
  if (loose.kind === 'rewritten')
    assert.deepEqual(
      loose.changes.map((c) => c.possiblyData),
      ['no function symbol covers it'],
    );
  const strict = rewriteElf(bytes, undefined, { strict: true });
  assert.equal(strict.kind, 'refused');
  if (strict.kind === 'refused')
    assert.equal(
      strict.reason,
      '1 occurrence(s) may be data (strict mode rewrites only what is known to be code)',
    );
});

test('symbols present: fixture occurrences are not marked possibly data', () => {
  for (const name of ['immediate', 'callrel', 'alu-imm', 'nopshift'] as const) {
    const r = scanElf(fixtureBytes(name));
    if (r.kind !== 'found') throw new Error(name);
    assert.deepEqual(
      r.scan.occurrences.map((o) => possiblyDataReason(o)),
      r.scan.occurrences.map(() => undefined),
    );
  }
});

test('undecodable bytes earlier in the sweep: possibly data', () => {
  // 06 is invalid in 64-bit mode (PUSH ES); then mov rax, imm64 holding 0F 01 D4.
  const code = Uint8Array.of(0x06, 0x48, 0xb8, 0x90, 0x0f, 0x01, 0xd4, 0, 0, 0, 0, 0xc3);
  const [o] = scanCode(code, 0x1000n);
  assert.equal(o.kind, 'in-instruction');
  assert.equal(
    possiblyDataReason(o),
    'the linear sweep from 0x1000 met undecodable bytes at 0x1000 before it, so instruction boundaries here may be misplaced',
  );
});
