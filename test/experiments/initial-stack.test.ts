// The initial process stack (psABI §3.4.1) read back word by word.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AT_NULL,
  AT_PAGESZ,
  AT_RANDOM,
  atRandomBytes,
  buildInitialStack,
} from '../../src/experiments/initial-stack.ts';

const TOP = 0x7fff_0000_0000;

function read(s: ReturnType<typeof buildInitialStack>) {
  const v = new DataView(s.bytes.buffer, s.bytes.byteOffset, s.bytes.length);
  const word = (la: number): number => Number(v.getBigUint64(la - s.base, true));
  const str = (la: number): string => {
    const at = la - s.base;
    return new TextDecoder().decode(s.bytes.subarray(at, s.bytes.indexOf(0, at)));
  };
  return { word, str };
}

test('argc, argv, an empty envp and the auxiliary vector, RSP 16-byte aligned', () => {
  const s = buildInitialStack(TOP, ['/bin/prog', 'a b', '', 'é'], 1, 60_000);
  assert.equal(s.rsp % 16, 0);
  assert.equal(s.base, s.rsp);
  assert.equal(s.base + s.bytes.length, TOP);
  const { word, str } = read(s);
  assert.equal(word(s.rsp), 4);
  const argv = [1, 2, 3, 4].map((i) => word(s.rsp + i * 8));
  assert.deepEqual(argv.map(str), ['/bin/prog', 'a b', '', 'é']);
  assert.equal(argv.at(-1)! + 'é'.length + 2, TOP); // 'é' is two bytes, then its NUL
  let at = s.rsp + 5 * 8;
  assert.equal(word(at), 0); // argv[argc]
  assert.equal(word((at += 8)), 0); // envp[0]: no environment
  const aux: number[] = [];
  for (at += 8; ; at += 16) {
    aux.push(word(at), word(at + 8));
    if (word(at) === AT_NULL) break;
  }
  const random = aux[3]!;
  assert.deepEqual(aux, [AT_PAGESZ, 4096, AT_RANDOM, random, AT_NULL, 0]);
  assert.ok(random >= at + 16 && random + 16 <= argv[0]!);
  const r = s.bytes.subarray(random - s.base, random - s.base + 16);
  assert.deepEqual(r, atRandomBytes(1));
  assert.notDeepEqual(atRandomBytes(2), atRandomBytes(1));
});

test('no arguments at all: argc 0 and still aligned', () => {
  const s = buildInitialStack(TOP, [], 1, 60_000);
  assert.equal(s.rsp % 16, 0);
  assert.equal(read(s).word(s.rsp), 0);
});

test('arguments beyond the limit are E2BIG', () => {
  assert.throws(() => buildInitialStack(TOP, ['x'.repeat(1000)], 1, 1000), /E2BIG/);
});
