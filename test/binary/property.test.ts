// Property: whatever header bytes of a valid fixture are changed to, scanning and rewriting
// either succeed or fail with one of our typed errors (never an unexplained exception), and an
// output file is either complete or absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isBinaryToolError } from '../../src/binary/errors.ts';
import { writeOutputAtomically } from '../../src/binary/file-io.ts';
import { rewriteElf } from '../../src/binary/rewriter.ts';
import { scanElf } from '../../src/binary/scanner.ts';
import { fixtureBytes, tempDir } from './fixtures.ts';

test('mutated headers never cause an unexplained exception or a partial file', () => {
  const base = fixtureBytes('spanning');
  const v = new DataView(base.buffer, base.byteOffset, base.byteLength);
  const phEnd = Number(v.getBigUint64(32, true)) + v.getUint16(56, true) * 56;
  const shoff = Number(v.getBigUint64(40, true));
  const shEnd = shoff + v.getUint16(60, true) * 64;
  // Offsets in the ELF header, the program header table or the section header table.
  const offset = fc.oneof(
    fc.integer({ min: 0, max: phEnd - 1 }),
    fc.integer({ min: shoff, max: shEnd - 1 }),
  );
  const edits = fc.array(fc.tuple(offset, fc.integer({ min: 0, max: 255 })), {
    minLength: 1,
    maxLength: 6,
  });
  fc.assert(
    fc.property(edits, (list) => {
      const bytes = new Uint8Array(base);
      for (const [o, b] of list) bytes[o] = b;
      const dir = mkdtempSync(join(tempDir(), 'prop-'));
      const out = join(dir, 'out');
      try {
        const s = scanElf(bytes);
        assert.ok(['clean', 'found', 'invalid'].includes(s.kind));
        const r = rewriteElf(bytes);
        if (r.kind === 'rewritten') {
          writeOutputAtomically(out, r.bytes, 0o755);
          assert.deepEqual(new Uint8Array(readFileSync(out)), r.bytes);
        } else {
          assert.ok(['unchanged', 'refused', 'invalid'].includes(r.kind));
        }
      } catch (err) {
        if (!isBinaryToolError(err)) throw err;
        assert.equal(existsSync(out), false);
      } finally {
        assert.deepEqual(
          readdirSync(dir).filter((f) => f !== 'out'),
          [],
        );
        rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 300, seed: 20190325 },
  );
});
