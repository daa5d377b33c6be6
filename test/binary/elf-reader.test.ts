// The ELF reader agrees with binutils' readelf on headers, segments, sections and symbols.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readElf } from '../../src/binary/elf-reader.ts';
import { PT_LOAD, STT_FUNC } from '../../src/binary/elf-types.ts';
import { fixture, fixtureBytes } from './fixtures.ts';

function readelf(args: string[], file: string): string {
  return execFileSync('readelf', [...args, file], { encoding: 'utf8' });
}

test('header fields match readelf -h', () => {
  const file = fixture('immediate');
  const elf = readElf(fixtureBytes('immediate'));
  const out = readelf(['-hW'], file);
  const field = (name: string): string => new RegExp(`${name}:\\s+(\\S+)`).exec(out)![1];
  assert.equal(`0x${elf.header.entry.toString(16)}`, field('Entry point address'));
  assert.equal(elf.header.phnum, Number(field('Number of program headers')));
  assert.equal(elf.header.shnum, Number(field('Number of section headers')));
  assert.equal(Number(elf.header.shoff), Number(field('Start of section headers')));
});

test('program headers match readelf -l', () => {
  const file = fixture('callrel');
  const elf = readElf(fixtureBytes('callrel'));
  const rows = readelf(['-lW'], file)
    .split('\n')
    .filter((l) => /^\s+LOAD\s/.test(l))
    .map((l) => l.trim().split(/\s+/));
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
  assert.equal(loads.length, rows.length);
  loads.forEach((p, i) => {
    const [, off, vaddr, , filesz, memsz] = rows[i];
    assert.equal(p.offset, BigInt(off));
    assert.equal(p.vaddr, BigInt(vaddr));
    assert.equal(p.filesz, BigInt(filesz));
    assert.equal(p.memsz, BigInt(memsz));
  });
});

test('section headers match readelf -S', () => {
  const file = fixture('riprel');
  const elf = readElf(fixtureBytes('riprel'));
  const rows = readelf(['-SW'], file)
    .split('\n')
    .map((l) =>
      /^\s+\[\s*(\d+)\]\s+(\S+)\s+\S+\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(l),
    )
    .filter((m) => m !== null);
  assert.equal(rows.length, elf.sections.length - 1); // readelf's [0] has no name column
  for (const m of rows) {
    const s = elf.sections[Number(m[1])];
    assert.equal(s.name, m[2]);
    assert.equal(s.addr, BigInt(`0x${m[3]}`));
    assert.equal(s.offset, BigInt(`0x${m[4]}`));
    assert.equal(s.size, BigInt(`0x${m[5]}`));
  }
});

test('symbols match readelf -s', () => {
  const file = fixture('callrel');
  const elf = readElf(fixtureBytes('callrel'));
  const line = readelf(['-sW'], file)
    .split('\n')
    .find((l) => / via_call$/.test(l))!;
  const [, value, size, type] = line.trim().split(/\s+/);
  const sym = elf.symbols.find((s) => s.name === 'via_call' && s.table === '.symtab')!;
  assert.equal(sym.value, BigInt(`0x${value}`));
  assert.equal(sym.size, BigInt(size));
  assert.equal(type, 'FUNC');
  assert.equal(sym.type, STT_FUNC);
});
