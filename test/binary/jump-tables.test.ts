// Jump tables in code moved off a page holding data with 0F 01 D4 (fixtures/switch-page.c,
// gcc -O2 without -z separate-code): the tables are recognised with their bound, the moved
// code gets copies leading to the moved targets, the original tables stay as they are, and
// the rewritten program prints what the original prints, every case run, PIE and
// position-dependent. A computed goto is moved in a PIE (its label addresses have
// relocations) and refused position-dependent, naming why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sweepCode } from '../../src/binary/code-refs.ts';
import { readElf } from '../../src/binary/elf-reader.ts';
import { tablesOf } from '../../src/binary/evacuate-tables.ts';
import { Image } from '../../src/binary/image.ts';
import { rewriteElf } from '../../src/binary/rewriter.ts';
import { scanElf } from '../../src/binary/scanner.ts';
import { evacuated } from './evacuation-check.ts';
import { fixture, fixtureBytes, run, tempDir, type FixtureName } from './fixtures.ts';

const PAGE = 0x1000n;

function rewritten(name: FixtureName): { path: string; bytes: Uint8Array; tables: number } {
  const r = rewriteElf(fixtureBytes(name));
  if (r.kind !== 'rewritten') throw new Error(r.kind === 'refused' ? r.reason : r.kind);
  const path = join(tempDir(), `${name}.rewritten`);
  writeFileSync(path, r.bytes);
  chmodSync(path, 0o755);
  return { path, bytes: r.bytes, tables: r.evacuated!.jumpTables };
}

/** The tables of the functions named, as the rewrite sees them. */
function tables(name: FixtureName): Map<string, ReturnType<typeof tablesOf>[number]> {
  const s = scanElf(fixtureBytes(name));
  if (s.kind !== 'found') throw new Error(s.kind);
  const { elf, maps } = s.scan;
  const sweep = sweepCode(elf, maps, () => true);
  const chunks = maps.flatMap((m) => m.chunks).filter((c) => c.kind === 'code');
  const out = new Map<string, ReturnType<typeof tablesOf>[number]>();
  for (const c of chunks.filter((x) => SWITCHES.includes(x.symbol!)))
    for (const t of tablesOf(elf, maps, [c], sweep, 'test')) out.set(c.symbol!, t);
  return out;
}

const SWITCHES = ['classify', 'letter', 'interpret', 'with_cold', 'unbounded'];

const EXPECTED_RUN = {
  // 14 classify cases (-2..11), 8 letters, the interpreter, 10 with_cold cases with two
  // calls to the cold function, 6 unbounded cases: every case and default ran.
  lines: 1 + 14 + 8 + 1 + 10 + 2 + 6,
  status: 3,
};

for (const [name, kind] of [
  ['switch-page', 'relative'],
  ['switch-page-nopie', 'absolute'],
] as const)
  test(`${name}: five switches move with copies of their tables (${kind}); same output`, () => {
    const elf = readElf(fixtureBytes(name));
    const sym = (n: string): bigint => elf.symbols.find((s) => s.name === n)!.value;
    // The fixture does what it is for: the switches share the page of `table`.
    const page = sym('table') - (sym('table') % PAGE);
    for (const f of SWITCHES) assert.equal(sym(f) - (sym(f) % PAGE), page, f);
    const found = tables(name);
    // Bounds from `cmp $9; ja` (10 entries), `sub $0x61; cmp $0x19; ja` (26),
    // `cmpb $7, -1(%rdi); ja; movzbl -1(%rdi)` (8), `cmp $6; ja` (7); none for unbounded:
    // its entries are read while they lead into it (6, then words that do not).
    assert.deepEqual(
      [...found].map(([f, t]) => [f, t.kind, t.count, t.bounded]),
      [
        ['classify', kind, 10, true],
        ['letter', kind, 26, true],
        ['interpret', kind, 8, true],
        ['with_cold', kind, 7, true],
        ['unbounded', kind, 6, false],
      ],
    );
    // with_cold's calls to the cold function are in its .cold part: entries lead there.
    const cold = sym('with_cold.cold');
    assert.ok(found.get('with_cold')!.targets.some((t) => t >= cold && t < sym('with_cold')));
    // letter's default ('b'...) is the code after the jump; 'a' is entry 0.
    assert.equal(new Set(found.get('letter')!.targets).size, 8);

    const out = rewritten(name);
    assert.equal(out.tables, 5);
    assert.equal(scanElf(out.bytes).kind, 'clean');
    const before = run(fixture(name));
    assert.equal(before.stdout.split('\n').length - 1, EXPECTED_RUN.lines);
    assert.equal(before.status, EXPECTED_RUN.status);
    assert.match(before.stdout, /^with_cold\(5\) = 5002$/m);
    assert.deepEqual(run(out.path), before);
  });

test('the check of moved tables catches a wrong entry and a reference left on the old table', () => {
  const r = evacuated('switch-page');
  const { ev, delta, check } = r;
  assert.deepEqual(check(r.bytes), []);
  const t = ev.tables[0];
  const out = readElf(r.bytes);
  const img = new Image(out);
  // Where the copy of the first reference points: read its displacement in the output.
  const ref = t.refs[0];
  const at = img.offsetOf(ref.ip + delta, Number(ref.next - ref.ip))! + ref.field;
  const copy = ref.next + delta + BigInt(img.i32(at));
  assert.notEqual(copy, t.table);
  assert.ok(
    out.programHeaders.some((p) => p.flags === 4 && p.vaddr <= copy && copy < p.vaddr + p.memsz),
  );
  const wrong = Uint8Array.from(r.bytes);
  const e = img.offsetOf(copy, 4)! + 4;
  new DataView(wrong.buffer).setInt32(e, img.i32(e) + 6, true);
  assert.deepEqual(check(wrong), [
    `entry 1 of the copy of the jump table at 0x${t.table.toString(16)} leads elsewhere`,
  ]);
  const old = Uint8Array.from(r.bytes);
  new DataView(old.buffer).setInt32(at, Number(t.table - (ref.next + delta)), true);
  // The copy's lea reads the original table again: its entries lead to the old code.
  assert.deepEqual(check(old), [
    `entry 0 of the copy of the jump table at 0x${t.table.toString(16)} leads elsewhere`,
  ]);
});

test('switch-page-goto: a computed goto moves in a PIE (relocated label addresses)', () => {
  const out = rewritten('switch-page-goto');
  const before = run(fixture('switch-page-goto'));
  assert.match(before.stdout, /^computed\(0\) = 2\ncomputed\(1\) = -1\ncomputed\(2\) = 4$/m);
  assert.deepEqual(run(out.path), before);
});

test('switch-page-goto-nopie: a computed goto in a position-dependent file is refused', () => {
  const r = rewriteElf(fixtureBytes('switch-page-goto-nopie'));
  assert.equal(r.kind, 'refused');
  if (r.kind !== 'refused') return;
  assert.match(
    r.reason,
    /indirect jump `jmp qword ptr \[rsp-8\]` at 0x[0-9a-f]+ \(computed\) in code that would move: not a jump table that can be read \(a jump to an address read from memory addressed by a register \(not `jmp \*T\(,%index,8\)`\): in a position-dependent executable the addresses it may read have no relocations, so they cannot all be found\), so its targets cannot all be found/,
  );
});
