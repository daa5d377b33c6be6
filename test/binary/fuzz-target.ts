// The fuzz target over reader, scanner and rewriter, shared by test/binary/fuzz.test.ts (a few
// thousand mutants) and bench/binary.bench.ts (100 k and more). A mutant is a valid fixture
// with 1-3 mutations: an ELF, program or section header field or a symbol field set to an
// absurd or boundary value, random bytes in the header tables or in the dynamic, relocation
// and unwind tables, a truncation. The properties:
// - nothing throws except our typed errors (src/binary/errors.ts), and only where documented;
// - a streamed scan (headers and segments read range by range, as scanFile does) finds
//   exactly what the in-memory scan finds;
// - every rewritten output parses, re-scans clean, keeps its new segments page-congruent and
//   does not grow with .bss or address gaps; readelf accepts it when it accepted the input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ByteSource } from '../../src/binary/byte-source.ts';
import { readElf, readElfHeaders, readScanSymbols } from '../../src/binary/elf-reader.ts';
import { PT_LOAD, SHT_DYNSYM, SHT_SYMTAB, type ElfFile } from '../../src/binary/elf-types.ts';
import { ElfFormatError, isBinaryToolError } from '../../src/binary/errors.ts';
import { rewriteElf } from '../../src/binary/rewriter.ts';
import { scanElf, scanSegments } from '../../src/binary/scanner.ts';
import { toJson } from '../../src/binary/json.ts';
import { scanFile } from '../../src/binary/scan-file.ts';

/** mulberry32: small, fast and deterministic for a given seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Small fixtures only: nopshift and callrel are 2.8 MB of code each (far branch targets),
// which a rewrite sweeps whole.
export const FUZZ_BASES = [
  'spanning',
  'immediate',
  'callmid',
  'vmfunc',
  'riprel',
  'store-disp',
  'data-in-text',
  'noseparate',
  'shared-page',
  'switch-page-nopie',
] as const;

type Field = [offset: number, width: 1 | 2 | 4 | 8];

/** Every header, program header, section header and symbol field of a base file. */
function fieldsOf(elf: ElfFile): Field[] {
  const out: Field[] = [
    [4, 1], [5, 1], [16, 2], [24, 8], [32, 8], [40, 8], [54, 2], [56, 2], [58, 2], [60, 2], [62, 2],
  ]; // prettier-ignore
  const ph = Number(elf.header.phoff);
  for (let i = 0; i < elf.header.phnum; i++)
    for (const [o, w] of [
      [0, 4],
      [4, 4],
      [8, 8],
      [16, 8],
      [32, 8],
      [40, 8],
      [48, 8],
    ] as const)
      // prettier-ignore
      out.push([ph + i * 56 + o, w]);
  const sh = Number(elf.header.shoff);
  for (let i = 0; i < elf.header.shnum; i++)
    for (const [o, w] of [
      [0, 4],
      [4, 4],
      [8, 8],
      [16, 8],
      [24, 8],
      [32, 8],
      [40, 4],
      [56, 8],
    ] as const)
      // prettier-ignore
      out.push([sh + i * 64 + o, w]);
  for (const s of elf.sections) {
    if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
    for (let k = 1; k < Number(s.size) / 24; k++)
      for (const [o, w] of [
        [0, 4],
        [4, 1],
        [6, 2],
        [8, 8],
        [16, 8],
      ] as const)
        // prettier-ignore
        out.push([Number(s.offset) + k * 24 + o, w]);
  }
  return out;
}

export interface Base {
  name: string;
  bytes: Uint8Array;
  fields: Field[];
  /**
   * End of the ELF header and program header table, the section header table's range, and
   * the tables moving code off a page reads (evacuate.ts): dynamic section, relocations,
   * .dynsym, unwind tables, jump tables in .rodata and the code using them.
   */
  regions: [number, number][];
}

const READ_TABLES = new Set([
  '.dynamic',
  '.rela.dyn',
  '.dynsym',
  '.eh_frame_hdr',
  '.eh_frame',
  '.gcc_except_table',
  // Jump tables, and the code reading them (jump-tables.ts).
  '.rodata',
  '.text',
]);

export function base(name: string, bytes: Uint8Array): Base {
  const elf = readElf(bytes);
  const ph = Number(elf.header.phoff);
  const sh = Number(elf.header.shoff);
  return {
    name,
    bytes,
    fields: fieldsOf(elf),
    regions: [
      [0, ph + elf.header.phnum * 56],
      [sh, sh + elf.header.shnum * 64],
      ...elf.sections
        .filter((s) => READ_TABLES.has(s.name) && s.size > 0n)
        .map((s): [number, number] => [Number(s.offset), Number(s.offset + s.size)]),
    ],
  };
}

function interesting(r: () => number, old: bigint, width: number, size: number): bigint {
  const bits = BigInt(width * 8);
  const max = (1n << bits) - 1n;
  const pick = [
    0n, 1n, max, max - 1n, 1n << (bits - 1n), 0x1000n, 0xffffn, 0x7fffffffn, 0xffffffffn,
    1n << 32n, 1n << 47n, (1n << 47n) - 0x1000n, 1n << 56n, 1n << 60n, 0x7fff000000000000n,
    BigInt(size), BigInt(size) - 1n, BigInt(size) + 1n, BigInt(size) * 4n, 256n << 20n,
    old + 1n, old - 1n, old + 0x1000n, old * 2n, old + BigInt(Math.floor(r() * 64)),
    BigInt(Math.floor(r() * size)), BigInt(Math.floor(r() * 2 ** 32)),
  ]; // prettier-ignore
  return pick[Math.floor(r() * pick.length)] & max;
}

function get(v: DataView, o: number, w: number): bigint {
  if (w === 1) return BigInt(v.getUint8(o));
  if (w === 2) return BigInt(v.getUint16(o, true));
  if (w === 4) return BigInt(v.getUint32(o, true));
  return v.getBigUint64(o, true);
}

function set(v: DataView, o: number, w: number, x: bigint): void {
  if (w === 1) v.setUint8(o, Number(x));
  else if (w === 2) v.setUint16(o, Number(x), true);
  else if (w === 4) v.setUint32(o, Number(x), true);
  else v.setBigUint64(o, x, true);
}

/** A mutant of `b` and a short description of what was changed. */
export function mutate(b: Base, r: () => number): { bytes: Uint8Array; what: string } {
  let bytes = Uint8Array.from(b.bytes);
  const what: string[] = [];
  const n = 1 + Math.floor(r() * 3);
  for (let k = 0; k < n; k++) {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const p = r();
    if (p < 0.7) {
      const [o, w] = b.fields[Math.floor(r() * b.fields.length)];
      if (o + w > bytes.length) continue;
      const x = interesting(r, get(v, o, w), w, bytes.length);
      set(v, o, w, x);
      what.push(`field@${o}/${w}=0x${x.toString(16)}`);
    } else if (p < 0.9) {
      const [lo, hi] = b.regions[Math.floor(r() * b.regions.length)];
      const o = lo + Math.floor(r() * (hi - lo));
      if (o >= bytes.length) continue;
      bytes[o] = Math.floor(r() * 256);
      what.push(`byte@${o}=${bytes[o]}`);
    } else {
      const len = Math.floor(r() * bytes.length);
      bytes = bytes.subarray(0, len);
      what.push(`truncate@${len}`);
    }
  }
  return { bytes, what: what.join(' ') };
}

/** A source that copies, as a file source does, so that no view of the whole file is used. */
function copyingSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: (o, n, into) => {
      const out = into ? into.subarray(0, n) : new Uint8Array(n);
      out.set(bytes.subarray(o, o + n));
      return out;
    },
  };
}

function streamedScan(bytes: Uint8Array): string {
  const src = copyingSource(bytes);
  try {
    const h = readElfHeaders(src, { symbols: 'none' });
    const buf = new Uint8Array(bytes.length);
    const s = scanSegments(
      h,
      (seg) => ({
        bytes: src.read(Number(seg.offset), Number(seg.filesz), buf),
        base: Number(seg.offset),
      }),
      undefined,
      () => readScanSymbols(src, h),
    );
    return toJson(s.occurrences);
  } catch (err) {
    if (err instanceof ElfFormatError) return `invalid: ${err.message}`;
    throw err;
  }
}

/** 'split': rewritten, and some pages of data lost execute permission (nx-pages.ts). */
export type Outcome = 'invalid' | 'unchanged' | 'refused' | 'rewritten' | 'split';

export interface Checks {
  /** Directory for readelf's input files; readelf runs only when given. */
  readelfDir?: string;
  /** Directory for a file that scanFile (the real streamed path) then scans. */
  scanFileDir?: string;
}

function readelfOk(path: string): boolean {
  const r = spawnSync('readelf', ['-hlSsW', path], { encoding: 'utf8' });
  return r.status === 0 && r.stderr === '';
}

/** Runs every property on one mutant; throws (an AssertionError or the bug) if one fails. */
export function fuzzOne(bytes: Uint8Array, checks: Checks = {}): Outcome {
  const s = scanElf(bytes);
  const memory = s.kind === 'invalid' ? `invalid: ${s.message}` : toJson(s.scan.occurrences);
  assert.equal(streamedScan(bytes), memory, 'streamed scan differs from the in-memory scan');
  if (checks.scanFileDir) {
    const path = join(checks.scanFileDir, 'mutant');
    writeFileSync(path, bytes);
    const f = scanFile(path);
    const got = f.kind === 'invalid' ? `invalid: ${f.message}` : toJson(f.scan.occurrences);
    assert.equal(got, memory, 'scanFile differs from the in-memory scan');
  }
  const r = rewriteElf(bytes);
  if (r.kind !== 'rewritten') return r.kind;
  const out = readElf(r.bytes); // throws ElfFormatError if unparseable: a failure here
  assert.equal(scanElf(r.bytes).kind, 'clean', 'rewritten output does not re-scan clean');
  const before = readElf(bytes).programHeaders.length;
  for (const p of out.programHeaders.slice(before))
    if (p.type === PT_LOAD) assert.equal(p.offset % 4096n, p.vaddr % 4096n, 'not page-congruent');
  // Packed after the contents, or at most 1 MiB further (elf-writer.ts, CONGRUENT_SLACK).
  assert.ok(r.bytes.length <= bytes.length + (1 << 20) + 0x10000, 'output grew with .bss or gaps');
  if (checks.readelfDir) {
    const inPath = join(checks.readelfDir, 'in');
    const outPath = join(checks.readelfDir, 'out');
    writeFileSync(inPath, bytes);
    writeFileSync(outPath, r.bytes);
    if (readelfOk(inPath)) assert.ok(readelfOk(outPath), 'readelf rejects the rewritten output');
  }
  return r.nonExecutable.length > 0 ? 'split' : 'rewritten';
}

export interface FuzzReport {
  mutants: number;
  outcomes: Record<Outcome, number>;
  readelfChecked: number;
  scanFileChecked: number;
  failures: { base: string; what: string; error: string }[];
}

export interface FuzzOptions {
  count: number;
  seed: number;
  /** Run readelf on about one rewritten output in this many (0: never). */
  readelfEvery?: number;
  /** Scan one mutant in this many through a real file with scanFile (0: never). */
  scanFileEvery?: number;
  /** Where those files go. */
  dir?: string;
}

/** Runs `count` mutants over the bases, round robin. */
export function fuzz(bases: Base[], o: FuzzOptions): FuzzReport {
  const { count, seed, readelfEvery = 0, scanFileEvery = 0, dir = '' } = o;
  const r = rng(seed);
  const rep: FuzzReport = {
    mutants: 0,
    outcomes: { invalid: 0, unchanged: 0, refused: 0, rewritten: 0, split: 0 },
    readelfChecked: 0,
    scanFileChecked: 0,
    failures: [],
  };
  for (let i = 0; i < count; i++) {
    const b = bases[i % bases.length];
    const m = mutate(b, r);
    const check =
      readelfEvery > 0 &&
      rep.readelfChecked <= (rep.outcomes.rewritten + rep.outcomes.split) / readelfEvery;
    const file = scanFileEvery > 0 && i % scanFileEvery === 0;
    try {
      const o = fuzzOne(m.bytes, {
        readelfDir: check ? dir : undefined,
        scanFileDir: file ? dir : undefined,
      });
      rep.outcomes[o]++;
      if (check && (o === 'rewritten' || o === 'split')) rep.readelfChecked++;
      if (file) rep.scanFileChecked++;
    } catch (err) {
      // Typed errors are failures too: every entry point here is documented not to throw.
      const typed = isBinaryToolError(err) ? ' (typed)' : '';
      rep.failures.push({ base: b.name, what: m.what, error: `${String(err)}${typed}` });
    }
    rep.mutants++;
  }
  return rep;
}
