// guest/ycsb, YCSB's core workload generators in C: built with the host gcc (ycsb-driver.c
// beside this file) and checked against YCSB's rules written again here in TypeScript.
// Determinism (pinned SplitMix64 outputs and stream digests; the same output in the
// simulator), key names and values, each workload's mix, and chi-square tests of every
// request distribution against its exact distribution under YCSB's formulas.
//
// Chi-square tests use significance level ALPHA = 0.001 each: a correct generator on a fresh
// seed would fail one about once in a thousand runs. The seeds are fixed, so a run's outcome
// never changes; a failure means the generator's distribution moved, not bad luck.

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test, type TestContext } from 'node:test';
import { CFLAGS } from '../../guest/build.mjs';
import { runProgram } from '../../src/experiments/run-program.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const YCSB_DIR = join(ROOT, 'guest', 'ycsb');
const LIBC_DIR = join(ROOT, 'guest', 'libc');
const DRIVER = join(import.meta.dirname, 'ycsb-driver.c');
const ALPHA = 0.001;
const THETA = 0.99; // ZipfianGenerator.ZIPFIAN_CONSTANT

let dir = '';
let hostBin = '';
let guestBin = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ycsb-test-'));
  hostBin = join(dir, 'ycsb-host');
  guestBin = join(dir, 'ycsb-guest');
  const gcc = promisify(execFile);
  const libc = readdirSync(LIBC_DIR)
    .filter((f) => /\.(c|S)$/.test(f))
    .sort()
    .map((f) => join(LIBC_DIR, f));
  await Promise.all([
    // The host build: glibc and libm (the math is compared with glibc's).
    gcc('gcc', [
      '-O2',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-ffp-contract=off',
      '-I',
      YCSB_DIR,
      '-o',
      hostBin,
      DRIVER,
      join(YCSB_DIR, 'libycsb.c'),
      '-lm',
    ]),
    // The guest build: the guests' own flags and libc, as guest/build.mjs links a program.
    gcc('gcc', [
      ...CFLAGS,
      '-DYCSB_GUEST',
      '-I',
      LIBC_DIR,
      '-I',
      YCSB_DIR,
      '-o',
      guestBin,
      DRIVER,
      join(YCSB_DIR, 'libycsb.c'),
      ...libc,
    ]),
  ]);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The host driver's output for one mode. */
function drive(...args: (string | number | bigint)[]): string {
  return execFileSync(
    hostBin,
    args.map((a) => String(a)),
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
}

const countsOf = (line: string): number[] => line.trim().split(' ').map(Number);

// ---- YCSB's rules in TypeScript -----------------------------------------------------------

const M64 = (1n << 64n) - 1n;

/** SplitMix64's first n outputs from seed. */
function splitmix64(seed: bigint, n: number): bigint[] {
  let s = seed;
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    s = (s + 0x9e3779b97f4a7c15n) & M64;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    out.push(z ^ (z >> 31n));
  }
  return out;
}

/** Utils.fnvhash64: FNV-1a over the 8 bytes, then Java's Math.abs on the signed result. */
function fnvhash64(v: bigint): bigint {
  let h = 0xcbf29ce484222325n;
  let x = BigInt.asUintN(64, v);
  for (let i = 0; i < 8; i++) {
    h = ((h ^ (x & 0xffn)) * 1099511628211n) & M64;
    x >>= 8n;
  }
  const s = BigInt.asIntN(64, h);
  return s < 0n ? BigInt.asIntN(64, -s) : s;
}

/** CoreWorkload.buildKeyName. */
function keyName(keynum: bigint, zeropadding = 1, ordered = false): string {
  const value = (ordered ? keynum : fnvhash64(keynum)).toString();
  return 'user' + '0'.repeat(Math.max(0, zeropadding - value.length)) + value;
}

/** Java's String.hashCode, for ASCII. */
function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** CoreWorkload.buildDeterministicValue(key, "field" + field) at size len. */
function deterministicValue(key: string, field: number, len: number): string {
  let s = `${key}:field${field}`;
  while (s.length < len) {
    s += ':';
    s += String(javaHash(s));
  }
  return s.slice(0, len);
}

/** ZipfianGenerator.zetastatic(st, n, theta, initialsum). */
function zeta(st: number, n: number, theta: number, initial: number): number {
  let sum = initial;
  for (let i = st; i < n; i++) sum += 1 / Math.pow(i + 1, theta);
  return sum;
}

/** The exact distribution of ZipfianGenerator.nextLong(itemcount) for a generator built over
 *  `items` items, with zetan summed over max(items, itemcount) items (or given), as a
 *  probability function of the returned item. u is uniform in [0, 1): item 0 when
 *  u zetan < 1, item 1 when u zetan < 1 + 0.5^theta, otherwise
 *  floor(itemcount (eta u - eta + 1)^alpha), which is below k exactly when u < t(k) =
 *  1 - (1 - (k / itemcount)^(1 / alpha)) / eta. eta uses `items` (YCSB's quirk). */
function grayPmf(items: number, itemcount: number, zetan?: number): (k: number) => number {
  const zn = zetan ?? zeta(0, Math.max(items, itemcount), THETA, 0);
  const zeta2 = zeta(0, 2, THETA, 0);
  const eta = (1 - Math.pow(2 / items, 1 - THETA)) / (1 - zeta2 / zn);
  const alpha = 1 / (1 - THETA);
  const c1 = Math.min(1, 1 / zn);
  const c2 = Math.min(1, (1 + Math.pow(0.5, THETA)) / zn);
  const t = (k: number): number => 1 - (1 - Math.pow(k / itemcount, 1 / alpha)) / eta;
  return (k) => {
    let p = Math.max(0, Math.min(1, t(k + 1)) - Math.max(c2, t(k)));
    if (k === 0) p += c1;
    if (k === 1) p += c2 - c1;
    return p;
  };
}

// ---- Chi-square -------------------------------------------------------------------------

/** ln Γ(x) for x > 0: Stirling's series after shifting x above 15 by Γ(x+1) = x Γ(x). */
function logGamma(x: number): number {
  let shift = 0;
  while (x < 15) shift += Math.log(x++);
  const x2 = x * x;
  const series = (1 / 12 - (1 / 360 - (1 / 1260 - 1 / (1680 * x2)) / x2) / x2) / x;
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + series - shift;
}

/** The regularised upper incomplete gamma Q(a, x): a power series for P below a + 1, a
 *  continued fraction (modified Lentz) above. */
function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(a * Math.log(x) - x - logGamma(a));
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 100_000 && term > sum * 1e-16; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - sum * front;
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 100_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return front * h;
}

interface ChiSquare {
  stat: number;
  df: number;
  p: number;
}

/** Pearson's test of observed counts against bin probabilities. Bins of probability 0 must
 *  be empty (asserted) and are dropped; neighbouring bins are merged until each group
 *  expects at least 5 (a short last group joins the one before). */
function chiSquare(observed: number[], probs: number[]): ChiSquare {
  assert.equal(observed.length, probs.length);
  const n = observed.reduce((a, b) => a + b, 0);
  const groups: { o: number; e: number }[] = [];
  let o = 0;
  let e = 0;
  for (let i = 0; i < observed.length; i++) {
    if (probs[i] === 0) {
      assert.equal(observed[i], 0, `bin ${i} has probability 0 but ${observed[i]} samples`);
      continue;
    }
    o += observed[i];
    e += probs[i] * n;
    if (e >= 5) {
      groups.push({ o, e });
      o = 0;
      e = 0;
    }
  }
  if (e > 0 || o > 0) {
    const last = groups.pop() ?? { o: 0, e: 0 };
    groups.push({ o: last.o + o, e: last.e + e });
  }
  const stat = groups.reduce((s, g) => s + (g.o - g.e) ** 2 / g.e, 0);
  const df = groups.length - 1;
  return { stat, df, p: gammaQ(df / 2, stat / 2) };
}

function assertFits(t: TestContext, what: string, observed: number[], probs: number[]): void {
  const total = probs.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1) < 1e-9, `${what}: probabilities sum to ${total}`);
  const r = chiSquare(observed, probs);
  t.diagnostic(`${what}: chi2 = ${r.stat.toFixed(1)}, df = ${r.df}, p = ${r.p.toFixed(4)}`);
  assert.ok(r.p > ALPHA, `${what}: chi2 = ${r.stat}, df = ${r.df}, p = ${r.p} <= ${ALPHA}`);
}

test('the chi-square helper: known quantiles of the distribution', () => {
  // 99.9th percentiles (df 1, 10, 100) and the median of df 2 (2 ln 2).
  assert.ok(Math.abs(gammaQ(0.5, 10.828 / 2) - 0.001) < 2e-6);
  assert.ok(Math.abs(gammaQ(5, 29.588 / 2) - 0.001) < 2e-6);
  assert.ok(Math.abs(gammaQ(50, 149.449 / 2) - 0.001) < 2e-6);
  assert.ok(Math.abs(gammaQ(1, Math.LN2) - 0.5) < 1e-12);
  assert.ok(Math.abs(logGamma(5) - Math.log(24)) < 1e-12);
});

// ---- Determinism ------------------------------------------------------------------------

test('SplitMix64: the published outputs for seed 0, and our TypeScript rendering', () => {
  const lines = (seed: bigint): bigint[] =>
    drive('rng', seed, 5)
      .trim()
      .split('\n')
      .map((h) => BigInt(`0x${h}`));
  // Vigna's splitmix64.c from state 0.
  assert.deepEqual(lines(0n).slice(0, 3), [
    0xe220a8397b1dcdafn,
    0x6e789e6aa1b965f4n,
    0x06c45d188009454fn,
  ]);
  for (const seed of [0n, 1n, 42n, 123456789012345n])
    assert.deepEqual(lines(seed), splitmix64(seed, 5));
});

test('one seed gives one stream; another seed another', () => {
  for (const w of 'abcdef') {
    const a = drive('trace', w, 1000, 3000, 1);
    assert.equal(drive('trace', w, 1000, 3000, 1), a, `workload ${w}`);
    assert.notEqual(drive('trace', w, 1000, 3000, 2), a, `workload ${w}`);
    assert.equal(a.trim().split('\n').length, 3000);
  }
});

// Digests (FNV-1a of every operation's type, key number, scan length, field and key text)
// of each workload's stream with 1000 records, 10000 operations, seed 1. They change only
// if the library's stream does; the lead's published numbers depend on it staying put.
const PINNED_DIGESTS: Record<string, string> = {
  a: 'c5d2fcc566f02d74',
  b: '1171b8fb7d656c83',
  c: '38532e65d89f21f0',
  d: '8a53a3026c741dea',
  e: 'd49e2e0e6275ad76',
  f: 'e7652730afad7820',
};

test('pinned stream digests', () => {
  for (const w of 'abcdef') {
    const digest = /^digest (\S+)$/m.exec(drive('mix', w, 1000, 10_000, 1))?.[1];
    assert.equal(digest, PINNED_DIGESTS[w], `workload ${w}`);
  }
});

test('in the simulator: the same output as on the host', (t: TestContext) => {
  const started = performance.now();
  const r = runProgram(readFileSync(guestBin), { kernel: 'sel4', args: ['ycsb', 'guest'] });
  t.diagnostic(
    `${r.instructions.user} user instructions in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  assert.deepEqual(r.exit, { kind: 'exited', status: 0 });
  assert.deepEqual(r.warnings, []);
  const host = drive('guest');
  assert.ok(host.includes('workload f\n'));
  assert.equal(Buffer.from(r.stdout).toString('latin1'), host);
});

// ---- Keys and values --------------------------------------------------------------------

test('keys: buildKeyName, hashed by default, ordered and zero-padded on request', () => {
  const hashed = drive('keys', 0, 1, 0, 200).trim().split('\n');
  assert.deepEqual(
    hashed,
    Array.from({ length: 200 }, (_, i) => keyName(BigInt(i))),
  );
  assert.equal(new Set(hashed).size, 200);
  const big = drive('keys', 0, 1, 2_147_483_000, 3).trim().split('\n');
  assert.deepEqual(
    big,
    [0n, 1n, 2n].map((i) => keyName(2_147_483_000n + i)),
  );
  assert.deepEqual(drive('keys', 1, 12, 5, 2).trim().split('\n'), [
    'user000000000005',
    'user000000000006',
  ]);
  assert.deepEqual(drive('keys', 1, 1, 99, 2).trim().split('\n'), ['user99', 'user100']);
});

test('values: buildDeterministicValue at any length', () => {
  for (const [key, field] of [
    ['user123', 3],
    [keyName(0n), 0],
    [keyName(999n), 9],
  ] as const)
    for (const len of [0, 1, 5, 14, 15, 16, 100, 1000]) {
      const out = drive('value', key, field, len);
      assert.equal(out, `${deterministicValue(key, field, len)}\n`, `${key} ${field} ${len}`);
    }
});

test('random values: RandomByteIterator printable bytes, one stream per seed', () => {
  const masks = [31, 63, 95, 31, 63, 95];
  const a = drive('rvalue', 5, 1000).replace(/\n$/, '');
  assert.equal(a.length, 1000);
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i) - 32;
    assert.ok(c >= 0 && (c & ~masks[i % 6]) === 0, `byte ${i}: ${c + 32}`);
  }
  assert.equal(drive('rvalue', 5, 1000), `${a}\n`);
  assert.notEqual(drive('rvalue', 6, 1000), `${a}\n`);
  assert.equal(drive('rvalue', 5, 7), `${a.slice(0, 7)}\n`);
});

// ---- Workloads --------------------------------------------------------------------------

// workloads/workloada..f: read, update, insert, scan, read-modify-write proportions.
const MIX: Record<string, number[]> = {
  a: [0.5, 0.5, 0, 0, 0],
  b: [0.95, 0.05, 0, 0, 0],
  c: [1, 0, 0, 0, 0],
  d: [0.95, 0, 0.05, 0, 0],
  e: [0, 0, 0.05, 0.95, 0],
  f: [0.5, 0, 0, 0, 0.5],
};

test('each workload: its operation mix, written fields and scan lengths', (t: TestContext) => {
  const records = 1000;
  const ops = 100_000;
  for (const w of 'abcdef') {
    const out = drive('mix', w, records, ops, 3);
    const line = (name: string): number[] =>
      countsOf(new RegExp(`^${name} (.*)$`, 'm').exec(out)?.[1] ?? '');
    assert.deepEqual(line('ops'), [ops]);
    const types = line('types');
    assertFits(t, `workload ${w} operations`, types, MIX[w]);
    // Every key read was inserted before; inserts number on from recordcount; key texts.
    assert.deepEqual(line('checks'), [0, 0, 0], `workload ${w}`);
    const [minkey, maxkey, last] = line('keys');
    assert.equal(last, records - 1 + types[2]);
    assert.ok(minkey >= 0 && maxkey <= last);
    if (w === 'd') assert.ok(minkey >= 1, 'latest never picks record 0');
    const writes = types[1] + types[4];
    const fields = line('fields');
    assert.equal(fields.length, 10);
    if (writes > 0) assertFits(t, `workload ${w} fields`, fields, Array(10).fill(0.1));
    else assert.deepEqual(fields, Array(10).fill(0));
    const scan = line('scanlen');
    if (w === 'e') {
      // scanlength: UniformLongGenerator(1, maxscanlength = 100).
      assert.equal(scan.length, 101);
      assertFits(t, 'workload e scan lengths', scan, [0, ...Array(100).fill(0.01)]);
    } else {
      assert.ok(scan.every((c) => c === 0));
    }
  }
});

test('bad arguments are refused', () => {
  // ycsb_init returns -1: the driver exits 2.
  for (const args of [
    ['g', 1000, 10],
    ['a', 0, 10],
    ['d', 1, 10],
    ['a', 2 ** 31, 10],
  ])
    assert.throws(() => drive('mix', ...args), /status 2|Command failed/);
});

// ---- Distributions ----------------------------------------------------------------------

const SAMPLES = 200_000;

test('uniform: UniformLongGenerator over 1000 values', (t: TestContext) => {
  const counts = countsOf(drive('uniform', 0, 999, SAMPLES, 11));
  assertFits(t, 'uniform 0..999', counts, Array(1000).fill(1 / 1000));
  const small = countsOf(drive('uniform', 5, 7, 30_000, 12));
  assertFits(t, 'uniform 5..7', small, Array(3).fill(1 / 3));
});

test('zipfian: ZipfianGenerator(1000), and one extended from 500 to 1000 items', (t: TestContext) => {
  for (const [items, itemcount] of [
    [1000, 1000],
    [500, 1000],
    [10, 10],
  ]) {
    const [head, body] = drive('zipf', items, itemcount, SAMPLES, 13).split('\n');
    const counts = countsOf(body);
    const pmf = grayPmf(items, itemcount);
    const probs = Array.from({ length: itemcount }, (_, k) => pmf(k));
    assertFits(t, `zipfian ${items} -> ${itemcount}`, counts, probs);
    // zetan, incrementally extended in C, is the full sum; eta from `items`.
    const [zetan, eta] = head.split(' ').map((h) => {
      const v = new DataView(new ArrayBuffer(8));
      v.setBigUint64(0, BigInt(`0x${h}`));
      return v.getFloat64(0);
    });
    const zn = zeta(0, itemcount, THETA, 0);
    assert.ok(Math.abs(zetan / zn - 1) < 1e-13, `zetan ${zetan} vs ${zn}`);
    const et = (1 - Math.pow(2 / items, 1 - THETA)) / (1 - zeta(0, 2, THETA, 0) / zn);
    assert.ok(Math.abs(eta / et - 1) < 1e-12, `eta ${eta} vs ${et}`);
  }
});

test("Gray's method stays close to the true zipfian law", () => {
  // Not a test of our code: how far YCSB's generator is from P(k) = (k+1)^-theta / zeta(n).
  // Gray's method is exact for items 0 and 1 and approximate after (item 2: 0.051 against
  // 0.044 for n = 1000): about 1.6 % in total variation, which 200000 samples would show, so
  // the tests above compare with the method's own exact distribution.
  const n = 1000;
  const pmf = grayPmf(n, n);
  const zn = zeta(0, n, THETA, 0);
  let tv = 0;
  for (let k = 0; k < n; k++) tv += Math.abs(pmf(k) - 1 / Math.pow(k + 1, THETA) / zn) / 2;
  assert.ok(tv < 0.02, `total variation ${tv}`);
  assert.equal(pmf(0), 1 / zn);
});

test('scrambled zipfian: fnvhash64 of a zipfian over 10^10 + 1 items, mod 1000', (t: TestContext) => {
  const n = 1000;
  const counts = countsOf(drive('scrambled', n, SAMPLES, 17));
  // The zipfian's first 100000 values exactly, each to fnvhash64(v) % n; the remaining mass,
  // spread over ten billion values of at most 5e-7 each, is uniform over the keys to well
  // under 1 % of each key's expectation.
  const pmf = grayPmf(10_000_000_001, 10_000_000_001, 26.46902820178302);
  const probs = Array(n).fill(0);
  let head = 0;
  for (let v = 0; v < 100_000; v++) {
    const p = pmf(v);
    probs[Number(fnvhash64(BigInt(v)) % BigInt(n))] += p;
    head += p;
  }
  for (let k = 0; k < n; k++) probs[k] += (1 - head) / n;
  assertFits(t, 'scrambled zipfian over 1000 keys', counts, probs);
});

test('latest: SkewedLatestGenerator over 1000 records, and after 500 inserts', (t: TestContext) => {
  const records = 1000;
  for (const inserts of [0, 500]) {
    const counts = countsOf(drive('latest', records, inserts, SAMPLES, 19));
    const last = records - 1 + inserts;
    assert.equal(counts.length, last + 1);
    // last - zipfian(last), the zipfian built over records - 1 items (lastValue at
    // construction) and extended to last items.
    const pmf = grayPmf(records - 1, last);
    const probs = Array.from({ length: last + 1 }, (_, v) => (v === 0 ? 0 : pmf(last - v)));
    assertFits(t, `latest, ${inserts} inserts`, counts, probs);
  }
});

test('our log, exp and pow: within 2^-51 of glibc', (t: TestContext) => {
  const out = drive('math');
  t.diagnostic(out.trim().replace(/\n/g, ', '));
  for (const line of out.trim().split('\n')) {
    const [name, err] = line.split(' ');
    assert.ok(Number(err) < 2, `${name}: ${err} x 2^-52 relative`);
  }
});
