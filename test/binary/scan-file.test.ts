// The streamed scan (scan-file.ts) reads headers, symbols and executable segments range by
// range: it finds what the in-memory scan finds, and scans a file larger than any buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { BinaryIoError } from '../../src/binary/errors.ts';
import { readInput } from '../../src/binary/file-io.ts';
import { toJson } from '../../src/binary/json.ts';
import { scanFile } from '../../src/binary/scan-file.ts';
import { scanCode, scanElf } from '../../src/binary/scanner.ts';
import { FIXTURES, fixture, fixtureBytes, tempDir } from './fixtures.ts';

test('every fixture: the streamed scan equals the in-memory scan', () => {
  for (const name of FIXTURES) {
    const file = scanFile(fixture(name));
    const memory = scanElf(fixtureBytes(name));
    assert.equal(file.kind, memory.kind, name);
    if (file.kind === 'invalid' || memory.kind === 'invalid') continue;
    assert.equal(toJson(file.scan.occurrences), toJson(memory.scan.occurrences), name);
    assert.equal(file.scan.bytesScanned, memory.scan.bytesScanned, name);
    assert.deepEqual(file.scan.segments, memory.scan.segments, name);
  }
});

test('a 5 GiB file (sparse, larger than any Buffer) is scanned; only rewrite must load it', () => {
  const big = join(tempDir(), 'five-gib');
  copyFileSync(fixture('immediate'), big);
  try {
    truncateSync(big, 5 * 2 ** 30); // zeros after the section headers: still a valid ELF file
    const r = scanFile(big);
    assert.equal(r.kind, 'found');
    if (r.kind === 'found')
      assert.deepEqual(
        r.scan.occurrences.map((o) => o.address),
        [0x113bn],
      );
    assert.throws(
      () => readInput(big),
      (e: unknown) =>
        e instanceof BinaryIoError && /too large to load \(5368709120 bytes\)$/.test(e.message),
    );
  } finally {
    rmSync(big, { force: true });
  }
});

test('a hit 2.5 MiB into one chunk: decoded window by window, same boundaries as one pass', () => {
  // 11-byte NOPs, so instructions straddle every 1 MiB window edge; then mov $imm32,%eax.
  const nop11 = [0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0];
  const count = Math.floor((2.5 * 2 ** 20) / 11);
  const code = new Uint8Array(count * 11 + 6);
  for (let i = 0; i < count; i++) code.set(nop11, i * 11);
  code.set([0xb8, 0x90, 0x0f, 0x01, 0xd4, 0xc3], count * 11);
  const [o] = scanCode(code, 0x400000n);
  assert.equal(o.kind, 'in-instruction');
  if (o.kind === 'in-instruction') {
    assert.equal(o.instruction.address, 0x400000n + BigInt(count * 11));
    assert.deepEqual(o.instruction.fields, ['immediate']);
  }
});
