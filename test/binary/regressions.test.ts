// Regression tests for the rewriter's bugs of issue 15: absurd headers threw a RangeError, the
// new segment was placed at file offset = address (the output grew with .bss), the output mode
// was forced to 0755, a FIFO or a directory as input was not refused before reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readElf } from '../../src/binary/elf-reader.ts';
import { PT_LOAD } from '../../src/binary/elf-types.ts';
import { BinaryIoError } from '../../src/binary/errors.ts';
import { openInput, writeOutputAtomically } from '../../src/binary/file-io.ts';
import { rewriteElf } from '../../src/binary/rewriter.ts';
import { scanElf } from '../../src/binary/scanner.ts';
import { getLoad, withLoad } from './elf-edit.ts';
import { fixture, fixtureBytes, run, tempDir } from './fixtures.ts';

function invalid(bytes: Uint8Array, message: RegExp): void {
  const r = rewriteElf(bytes);
  assert.equal(r.kind, 'invalid');
  if (r.kind === 'invalid') assert.match(r.message, message);
}

test('a p_memsz of 2^60 makes the file invalid (was: RangeError: Invalid typed array length)', () => {
  const bytes = withLoad(fixtureBytes('immediate'), -1, 'memsz', 1n << 60n);
  invalid(bytes, /^segment \d+: addresses 0x3dd0-0x1000000000003dd0 are not canonical/);
  assert.equal(scanElf(bytes).kind, 'invalid');
});

test('a p_vaddr of 0x7fff000000000000 makes the file invalid (was: RangeError)', () => {
  const bytes = withLoad(fixtureBytes('immediate'), -1, 'vaddr', 0x7fff_0000_0000_0000n);
  invalid(bytes, /^segment \d+: addresses 0x7fff000000000000-.* are not canonical/);
});

test('segments ending at the top of user space leave no room for a new one: invalid', () => {
  const top = (1n << 47n) - 0x2000n;
  const bytes = withLoad(fixtureBytes('immediate'), -1, 'vaddr', top + 0xdd0n);
  assert.equal(scanElf(bytes).kind, 'found');
  invalid(
    bytes,
    /^no room for a new segment: the segments end at 0x7ffffffff020, too close to 0x800000000000$/,
  );
});

/** The two PT_LOADs the rewriter adds: right after the last old one, the highest addresses. */
function newLoads(out: Uint8Array): { offset: bigint; vaddr: bigint }[] {
  return readElf(out)
    .programHeaders.filter((p) => p.type === PT_LOAD)
    .slice(-2);
}

test('a 256 MiB .bss does not grow the output: the new segments are packed after the file', () => {
  const input = fixtureBytes('bigbss');
  assert.ok(getLoad(input, -1, 'memsz') > 256n << 20n);
  const r = rewriteElf(input);
  assert.equal(r.kind, 'rewritten');
  if (r.kind !== 'rewritten') return;
  // Was 268,458,304 bytes for this 16 KiB program (offset = address).
  assert.ok(r.bytes.length < input.length + 0x4000, `${r.bytes.length} bytes`);
  const fileEnd = BigInt((input.length + 0xfff) & ~0xfff);
  const [phdr, code] = newLoads(r.bytes);
  assert.equal(phdr.offset, fileEnd);
  for (const p of [phdr, code]) assert.equal(p.offset % 0x1000n, p.vaddr % 0x1000n);
  assert.ok(phdr.vaddr >= getLoad(input, -1, 'vaddr') + getLoad(input, -1, 'memsz'));
  const out = join(tempDir(), 'bigbss.rewritten');
  writeFileSync(out, r.bytes);
  chmodSync(out, 0o755);
  assert.deepEqual(run(out), run(fixture('bigbss')));
  execFileSync('readelf', ['-lSW', out], { stdio: 'pipe' });
});

test('a small .bss keeps the first PT_LOAD congruence (vaddr - offset) for old loaders', () => {
  const input = fixtureBytes('immediate');
  const r = rewriteElf(input);
  if (r.kind !== 'rewritten') throw new Error(r.kind);
  const delta = getLoad(input, 0, 'vaddr') - getLoad(input, 0, 'offset');
  for (const p of newLoads(r.bytes)) assert.equal(p.vaddr - p.offset, delta);
});

test('a 1 GiB .bss is rewritten into a small file; a 64 TiB one leaves the block out of reach', () => {
  const input = withLoad(fixtureBytes('immediate'), -1, 'memsz', 1n << 30n);
  const r = rewriteElf(input);
  assert.equal(r.kind, 'rewritten');
  if (r.kind === 'rewritten') assert.ok(r.bytes.length < input.length + 0x4000);
  const far = rewriteElf(withLoad(input, -1, 'memsz', 1n << 46n));
  assert.equal(far.kind, 'refused');
  if (far.kind === 'refused') assert.match(far.reason, /out of reach of a jump \(more than 2 GiB/);
});

test('the output keeps the mode it is given (the input mode), not 0755', () => {
  const dir = join(tempDir(), 'modes');
  mkdirSync(dir, { recursive: true });
  for (const mode of [0o700, 0o750, 0o644]) {
    const out = join(dir, mode.toString(8));
    writeOutputAtomically(out, Uint8Array.of(1, 2, 3), mode);
    assert.equal(statSync(out).mode & 0o7777, mode);
  }
});

test('only regular files are read: a FIFO, /dev/zero and a directory are refused at once', () => {
  const fifo = join(tempDir(), 'fifo');
  execFileSync('mkfifo', [fifo]);
  const cases: [string, RegExp][] = [
    [fifo, /not a regular file \(a FIFO\)$/],
    ['/dev/zero', /not a regular file \(a character device\)$/],
    [tempDir(), /it is a directory$/],
  ];
  for (const [path, message] of cases) {
    assert.throws(
      () => openInput(path),
      (e: unknown) => e instanceof BinaryIoError && message.test(e.message),
    );
  }
});
