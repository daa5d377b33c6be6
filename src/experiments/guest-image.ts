// Guest programs for experiments: the ELF files guest/build.mjs makes with gcc (built on
// first use, cached), their symbols, and 64-bit values read back from a process's memory.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readElf } from '../binary/elf-reader.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import { pokeUser, resolveUser, type InProcess } from '../kernel/user-memory.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = join(ROOT, 'guest', 'build.mjs');
const OUT = join(ROOT, 'build', 'guest');

export interface GuestImage {
  bytes: Uint8Array;
  /** Symbol name → address. */
  symbols: Map<string, number>;
}

const cache = new Map<string, GuestImage>();
/** The built program `name`. The first use in a process runs the guest build for it, which
 *  rebuilds only what changed (a fraction of a second when nothing did). */
export function guestImage(name: string): GuestImage {
  let g = cache.get(name);
  if (g !== undefined) return g;
  execFileSync(process.execPath, [BUILD, '--quiet', '--only', name], { stdio: 'inherit' });
  const path = join(OUT, name);
  if (!existsSync(path)) throw new Error(`guest program ${name} was not built (${path})`);
  const bytes = new Uint8Array(readFileSync(path));
  const symbols = new Map(readElf(bytes).symbols.map((s) => [s.name, Number(s.value)]));
  g = { bytes, symbols };
  cache.set(name, g);
  return g;
}

export function symbol(g: GuestImage, name: string): number {
  const a = g.symbols.get(name);
  if (a === undefined) throw new Error(`guest program has no symbol ${name}`);
  return a;
}

/** `n` 64-bit words at user address `la` in `t`'s process, read from memory directly. */
export function readWords(k: Subkernel, t: InProcess, la: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const gpa = resolveUser(k, t, la + i * 8, false);
    if (gpa === null) throw new Error(`user address ${(la + i * 8).toString(16)} is not mapped`);
    out.push(Number(k.machine.mem.read64(gpa)));
  }
  return out;
}

/** Writes a 64-bit word at user address `la` of `t`'s process (a parameter the harness sets
 *  before the program runs), directly in memory. */
export function writeWord(k: Subkernel, t: InProcess, la: number, v: number): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  pokeUser(k, t, la, b);
}
