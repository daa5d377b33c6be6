// Data in executable segments: a gcc program linked with -z noseparate-code holds the bytes
// in .rodata (inside its R+X segment) and in code. The rewrite splits the segment so that the
// pages holding only data lose execute, moves the code, and the result loads and runs; a page
// holding both code that cannot move (the PLT) and such data is refused (pages whose code can
// move: shared-page.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readElf } from '../../src/binary/elf-reader.ts';
import { PF_X, PT_LOAD } from '../../src/binary/elf-types.ts';
import { rewriteElf } from '../../src/binary/rewriter.ts';
import { scanElf } from '../../src/binary/scanner.ts';
import { fixture, fixtureBytes, run, tempDir } from './fixtures.ts';

const PAGE = 0x1000n;

test('noseparate: .rodata pages lose execute, the code is moved, the program runs the same', () => {
  const input = fixtureBytes('noseparate');
  const s = scanElf(input);
  if (s.kind !== 'found') throw new Error(s.kind);
  assert.deepEqual(
    s.scan.occurrences.map((o) => [o.kind, o.section]),
    [
      ['in-instruction', '.text'],
      ['data', '.rodata'],
    ],
  );
  const data = s.scan.occurrences[1].address;
  const r = rewriteElf(input);
  if (r.kind !== 'rewritten') throw new Error(r.kind === 'refused' ? r.reason : r.kind);
  assert.deepEqual(
    r.changes.map((c) => c.strategy),
    ['relocated'],
  );
  // Everything after the page holding the end of the code is data: one range, from a page.
  const [nx] = r.nonExecutable;
  assert.equal(r.nonExecutable.length, 1);
  assert.deepEqual(nx.occurrences, [data]);
  assert.equal(nx.start % PAGE, 0n);
  assert.ok(nx.start <= data && data + 3n <= nx.end);
  const text = readElf(input).sections.find((x) => x.name === '.fini')!;
  assert.ok(nx.start >= text.addr + text.size, 'no code in the non-executable range');

  // The first R+X load became R+X (code pages) then R (data pages), same file mapping.
  const before = readElf(input).programHeaders.filter((p) => p.type === PT_LOAD);
  const after = readElf(r.bytes).programHeaders.filter((p) => p.type === PT_LOAD);
  assert.equal(after.length, before.length + 3); // one more piece, the table, the new code
  assert.deepEqual(
    after.slice(0, 2).map((p) => [p.vaddr, p.vaddr + p.memsz, p.vaddr - p.offset, p.flags & PF_X]),
    [
      [before[0].vaddr, nx.start, before[0].vaddr - before[0].offset, PF_X],
      [nx.start, nx.end, before[0].vaddr - before[0].offset, 0],
    ],
  );
  assert.equal(scanElf(r.bytes).kind, 'clean');

  const out = join(tempDir(), 'noseparate.rewritten');
  writeFileSync(out, r.bytes);
  chmodSync(out, 0o755);
  execFileSync('readelf', ['-lSW', out], { stdio: 'pipe' });
  assert.deepEqual(run(out), run(fixture('noseparate')));
  // What the loader did: the table's page is mapped without execute, main's page with it.
  assert.equal(run(fixture('noseparate'), ['perms']).stdout, 'r-xp\nr-xp\n');
  assert.equal(run(out, ['perms']).stdout, 'r--p\nr-xp\n');
});

test('data on a page with code that cannot move (the PLT) is refused, naming the page and why', () => {
  const r = rewriteElf(fixtureBytes('data-in-text'));
  assert.equal(r.kind, 'refused');
  if (r.kind !== 'refused') return;
  assert.match(
    r.reason,
    /^the page\(s\) 0x1000 holding data at 0x[0-9a-f]+ also hold code, which cannot be moved out: PLT code at 0x[0-9a-f]+ \(\.plt\) would have to move \(lazy binding keeps the addresses of PLT entries in \.got\.plt without relocations\); data is never changed/,
  );
  assert.deepEqual(
    r.occurrences.map((o) => o.kind),
    ['data'],
  );
});
