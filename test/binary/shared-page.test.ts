// Code and data with 0F 01 D4 on one page (fixtures/shared-page.c, gcc without
// -z separate-code): the rewrite moves that page's code to a new segment, re-points every way
// into it, and the page loses execute. The result runs as before; what cannot be shown safe is
// refused, naming why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findVmfuncBytes } from '../../src/binary/byte-search.ts';
import { readElf } from '../../src/binary/elf-reader.ts';
import { PF_X, PT_LOAD } from '../../src/binary/elf-types.ts';
import { rewriteElf } from '../../src/binary/rewriter.ts';
import { scanElf } from '../../src/binary/scanner.ts';
import { evacuated } from './evacuation-check.ts';
import { fixture, fixtureBytes, run, tempDir } from './fixtures.ts';

const PAGE = 0x1000n;
const pageOf = (a: bigint): bigint => a - (a % PAGE);

/** File offsets of 0F 01 D4 in the pages the loader maps executable (whole pages). */
function executableHits(bytes: Uint8Array): number[] {
  const elf = readElf(bytes);
  const hits: number[] = [];
  for (const p of elf.programHeaders) {
    if (p.type !== PT_LOAD || (p.flags & PF_X) === 0 || p.filesz === 0n) continue;
    const from = Number(pageOf(p.offset));
    const to = Math.min(bytes.length, Number(pageOf(p.offset + p.filesz + PAGE - 1n)));
    hits.push(...findVmfuncBytes(bytes, from, to));
  }
  return hits;
}

test('shared-page: the page with code and data loses execute, its code runs from the copy', () => {
  const input = fixtureBytes('shared-page');
  const elf = readElf(input);
  const sym = (n: string): bigint => elf.symbols.find((s) => s.name === n)!.value;
  const fini = elf.sections.find((s) => s.name === '.fini')!;
  const s = scanElf(input);
  if (s.kind !== 'found') throw new Error(s.kind);
  assert.deepEqual(
    s.scan.occurrences.map((o) => [o.kind, o.section, o.symbol]),
    [
      ['in-instruction', '.text', 'magic+0x2'],
      ['data', '.rodata', undefined],
    ],
  );
  assert.equal(s.scan.occurrences[1].address, sym('table'));
  // The fixture does what it is for: the table's page also holds code, and filler starts on
  // the page before it.
  const page = pageOf(sym('table'));
  assert.equal(pageOf(sym('on_page_direct')), page);
  assert.ok(sym('filler') < page);
  assert.ok(executableHits(input).length > 0);

  const kept = Uint8Array.from(input);
  const r = rewriteElf(input);
  if (r.kind !== 'rewritten') throw new Error(r.kind === 'refused' ? r.reason : r.kind);
  assert.ok(Buffer.from(kept).equals(input), 'the input is not modified');
  // magic()'s MOV moves to the new segment, after the copy.
  assert.deepEqual(
    r.changes.map((c) => [c.strategy, c.address]),
    [['relocated', sym('magic')]],
  );
  const ev = r.evacuated!;
  // Whole functions from filler to the end of .fini; page-congruent copy.
  assert.equal(ev.start, sym('filler'));
  assert.equal(ev.end, fini.addr + fini.size);
  assert.equal(ev.movedTo % PAGE, ev.start % PAGE);
  assert.deepEqual(ev.pages, [page]);
  // main's calls to filler and on_page_direct, its LEAs of on_page_thread and on_page_direct.
  assert.equal(ev.codeReferences, 4);
  // .dynsym (filler, on_page_direct, on_page_exported), RELATIVE (pointers[0], pointers[1],
  // .init_array), DT_FINI.
  assert.equal(ev.loaderReferences, 7);
  // One FDE per function but _fini (crti.o has none).
  assert.equal(ev.unwindEntries, 6);
  assert.deepEqual(
    r.nonExecutable.map((n) => [n.start, n.occurrences]),
    [[page, [sym('table')]]],
  );

  // The output's program headers: no executable page holds 0F 01 D4; the scan agrees.
  assert.deepEqual(executableHits(r.bytes), []);
  assert.equal(scanElf(r.bytes).kind, 'clean');
  const out = join(tempDir(), 'shared-page.rewritten');
  writeFileSync(out, r.bytes);
  chmodSync(out, 0o755);
  execFileSync('readelf', ['-lSW', out], { stdio: 'pipe' });
  const before = run(fixture('shared-page'));
  assert.deepEqual(before, {
    stdout:
      'table 0x538fb467 0xd4010f90\ndirect 13\npointer 26\nexported 33\ncleanup ran (42)\nthread exited\n',
    status: 5,
  });
  assert.deepEqual(run(out), before);
  // What the loader did: the table's page is not executable; on_page_direct, as main sees it,
  // is now on another page, which is.
  assert.equal(run(fixture('shared-page'), ['perms']).stdout, 'r-xp\nr-xp\none page: 1\n');
  assert.equal(run(out, ['perms']).stdout, 'r--p\nr-xp\none page: 0\n');
  // objdump sees the same instructions in the copy (targets outside it unchanged).
  const dis = (file: string, lo: bigint, hi: bigint): string[] =>
    execFileSync('objdump', [
      '-d',
      '--no-show-raw-insn',
      `--start-address=0x${lo.toString(16)}`,
      `--stop-address=0x${hi.toString(16)}`,
      file,
    ])
      .toString()
      .split('\n')
      .filter((l) => /^\s+[0-9a-f]+:\t/.test(l))
      .map((l) => l.split('\t').slice(1).join(' ').replace(/<.*>/, '').trim());
  const f = sym('on_page_direct');
  const moved = f - ev.start + ev.movedTo;
  const orig = dis(fixture('shared-page'), f, f + 23n);
  const copy = dis(out, moved, moved + 23n);
  assert.equal(copy.length, orig.length);
  assert.ok(orig.some((l) => l.startsWith('call')));
  assert.deepEqual(copy, orig);
});

test('without the new unwind table, unwinding through the copy would stop (the test sees it)', () => {
  const r = rewriteElf(fixtureBytes('shared-page'));
  if (r.kind !== 'rewritten') throw new Error(r.kind);
  // Point PT_GNU_EH_FRAME back at the original .eh_frame_hdr.
  const input = readElf(fixtureBytes('shared-page'));
  const old = input.programHeaders.find((p) => p.type === 0x6474e550)!;
  const out = readElf(r.bytes);
  const ph = out.programHeaders.find((p) => p.type === 0x6474e550)!;
  const bytes = Uint8Array.from(r.bytes);
  const v = new DataView(bytes.buffer);
  const at = Number(out.header.phoff) + ph.index * 56;
  for (const [o, x] of [
    [8, old.offset],
    [16, old.vaddr],
    [24, old.paddr],
    [32, old.filesz],
    [40, old.memsz],
  ] as const)
    // prettier-ignore
    v.setBigUint64(at + o, x, true);
  const path = join(tempDir(), 'shared-page.no-unwind');
  writeFileSync(path, bytes);
  chmodSync(path, 0o755);
  // backtrace() stops at the copy's frame and pthread_exit's unwind skips the cleanup.
  assert.deepEqual(run(path), {
    stdout: 'table 0x538fb467 0xd4010f90\ndirect 9\npointer 26\nexported 33\nthread exited\n',
    status: 5,
  });
});

test('shared-page-switch: the jump table in code that would move gets a copy; same output', () => {
  const r = rewriteElf(fixtureBytes('shared-page-switch'));
  if (r.kind !== 'rewritten') throw new Error(r.kind === 'refused' ? r.reason : r.kind);
  assert.equal(r.evacuated!.jumpTables, 1);
  const out = join(tempDir(), 'shared-page-switch.rewritten');
  writeFileSync(out, r.bytes);
  chmodSync(out, 0o755);
  assert.deepEqual(run(out), run(fixture('shared-page-switch')));
});

test('refused without function symbols (stripped) or with a stray pointer (position-dependent)', () => {
  const stripped = join(tempDir(), 'shared-page.stripped');
  execFileSync('strip', ['-o', stripped, fixture('shared-page')]);
  const r = rewriteElf(readFileSync(stripped));
  assert.equal(r.kind, 'refused');
  if (r.kind === 'refused')
    assert.match(
      r.reason,
      /code at 0x[0-9a-f]+ \(\.fini\) starts at no function symbol: its entry points are unknown/,
    );
  const exec = join(tempDir(), 'shared-page.no-pie');
  execFileSync('gcc', [
    '-O1',
    '-no-pie',
    '-fno-toplevel-reorder',
    '-Wl,-z,noseparate-code',
    '-o',
    exec,
    join(import.meta.dirname, 'fixtures', 'shared-page.c'),
  ]);
  const e = rewriteElf(readFileSync(exec));
  assert.equal(e.kind, 'refused');
  if (e.kind === 'refused')
    assert.match(
      e.reason,
      /the address of on_page_pointer \(0x[0-9a-f]+\), which would move, is stored at 0x[0-9a-f]+: in a position-dependent executable that may be a pointer without relocation, which could not be re-pointed/,
    );
});

test('the check of a moved page catches a way in left unchanged, and a bad copy', () => {
  const r = evacuated('shared-page');
  const { input, ev, check } = r;
  assert.deepEqual(check(r.bytes), []);
  // main's call to on_page_direct, as it was.
  const call = ev.incoming[1];
  const undone = Uint8Array.from(r.bytes);
  undone.set(input.subarray(call.fileOffset, call.fileOffset + 5), call.fileOffset);
  assert.deepEqual(check(undone), [
    `0x${call.ip.toString(16)} still refers to 0x${call.target.toString(16)}`,
    `0x${call.ip.toString(16)} is not re-pointed by delta`,
  ]);
  // One byte of the copy changed.
  const bad = Uint8Array.from(r.bytes);
  const at = readElf(bad).sections.find((x) => x.name === '.skybridge.text')!;
  const o = Number(at.offset + (r.movedTo - at.addr)) + 1;
  bad[o] ^= 0x40;
  assert.match(check(bad)[0], /^the copy of 0x[0-9a-f]+ is not the same instruction$/);
});
