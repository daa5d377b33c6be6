// The scanner's speed and memory, and the fuzz target at 100 k mutants.
// - Speed: scans the node binary (process.execPath, clean) and /usr/bin/cmake (stripped, a hit
//   in code, so its whole .text is one chunk decoded up to the hit) as `skybridge scan` does
//   (streamed) and compares with `objdump -d` on the same file; also times a full linear-sweep
//   decode of every code byte of node, the scanner's worst case (a hit in every chunk).
// - Memory: peak RSS of a child process scanning a file, minus that of a child scanning a
//   16 KiB file (same modules loaded), for the streamed scan and for reading the whole file
//   first; on node and, when present, on a large file (BINARY_BENCH_BIG, default the 707 MB
//   Go binary of issue 15).
// - Fuzz: 100,000 mutants (test/binary/fuzz-target.ts), readelf on 1 rewritten output in 50.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { knownTargets } from '../src/binary/branch-targets.ts';
import { fileSource } from '../src/binary/byte-source.ts';
import { isExecutableLoad } from '../src/binary/elf-types.ts';
import { readElf, readElfHeaders } from '../src/binary/elf-reader.ts';
import { openInput } from '../src/binary/file-io.ts';
import { scanFile } from '../src/binary/scan-file.ts';
import { scanParsedElf } from '../src/binary/scanner.ts';
import { FUZZ_BASES, base, fuzz } from '../test/binary/fuzz-target.ts';
import { fixture, fixtureBytes, tempDir } from '../test/binary/fixtures.ts';

const BIG =
  process.env.BINARY_BENCH_BIG ??
  '/opt/tf-plugins/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws_v5.100.0_x5';
const CMAKE = '/usr/bin/cmake';
const FUZZ_MUTANTS = 100_000;

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function mbps(bytes: number, ms: number): string {
  return `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
}

function objdumpMs(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const p = spawn('objdump', ['-d', file], { stdio: ['ignore', 'ignore', 'ignore'] });
    p.on('error', reject);
    p.on('close', () => resolve(performance.now() - t));
  });
}

const CHILD = `
const [file, how] = process.argv.slice(1);
const { scanFile } = await import(${JSON.stringify(new URL('../src/binary/scan-file.ts', import.meta.url).href)});
const { scanElf } = await import(${JSON.stringify(new URL('../src/binary/scanner.ts', import.meta.url).href)});
const { readFileSync } = await import('node:fs');
const t = performance.now();
const r = how === 'whole' ? scanElf(readFileSync(file)) : scanFile(file);
const ms = performance.now() - t;
console.log(JSON.stringify({ kind: r.kind, ms, maxRss: process.resourceUsage().maxRSS * 1024 }));
`;

/** Peak RSS (bytes) and time of a fresh process scanning `file`. */
function child(file: string, how: 'streamed' | 'whole'): { maxRss: number; ms: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', CHILD, file, how], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`memory child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { maxRss: number; ms: number };
}

function largestExec(file: string): number {
  const f = openInput(file);
  try {
    const h = readElfHeaders(fileSource(f.fd, f.size, file));
    return Math.max(...h.programHeaders.filter(isExecutableLoad).map((p) => Number(p.filesz)));
  } finally {
    closeSync(f.fd);
  }
}

function memory(file: string, baseline: number): void {
  const seg = largestExec(file);
  const s = child(file, 'streamed');
  const line = `  ${file} (${mb(statSync(file).size)}; largest executable segment ${mb(seg)})`;
  console.log(line);
  console.log(
    `    streamed scan: peak RSS ${mb(s.maxRss)}, ${mb(s.maxRss - baseline)} above baseline (${((s.maxRss - baseline) / seg).toFixed(2)}x the segment), ${s.ms.toFixed(0)} ms`,
  );
  const w = child(file, 'whole');
  console.log(
    `    whole file read first (as before): peak RSS ${mb(w.maxRss)}, ${mb(w.maxRss - baseline)} above baseline, ${w.ms.toFixed(0)} ms`,
  );
}

/** Scan time against `objdump -d` on one file. */
async function speed(file: string): Promise<void> {
  const size = statSync(file).size;
  const t0 = performance.now();
  const r = scanFile(file);
  const scanMs = performance.now() - t0;
  if (r.kind === 'invalid') throw new Error(r.message);
  const exec = r.scan.bytesScanned;
  console.log(`file: ${file} (${mb(size)}, ${mb(exec)} in executable segments)`);
  console.log(
    `skybridge scan (streamed: open + headers + search + classify): ${scanMs.toFixed(0)} ms, ${mbps(size, scanMs)} of file; ${r.scan.occurrences.length} occurrence(s)`,
  );
  const objMs = await objdumpMs(file);
  console.log(
    `objdump -d (output discarded): ${objMs.toFixed(0)} ms, ${mbps(size, objMs)} of file`,
  );
  console.log(`scan is ${(objMs / scanMs).toFixed(1)}x faster than objdump -d`);
}

export async function bench(): Promise<void> {
  const file = realpathSync(process.execPath);
  await speed(file);
  // A stripped file with a hit in code: its chunk (all of .text) is decoded up to the hit.
  if (existsSync(CMAKE)) await speed(CMAKE);
  const elf = readElf(readFileSync(file));
  const { maps, bytesScanned } = scanParsedElf(elf);
  const t1 = performance.now();
  const targets = knownTargets(elf, maps);
  const decodeMs = performance.now() - t1;
  console.log(
    `${file}: full linear-sweep decode of all code (the worst case, a hit in every chunk): ${decodeMs.toFixed(0)} ms, ${mbps(bytesScanned, decodeMs)} (${targets.size} branch targets)`,
  );

  const baseline = child(fixture('immediate'), 'streamed').maxRss;
  console.log(`peak memory (maxRSS above a child scanning a 16 KiB file: ${mb(baseline)}):`);
  memory(file, baseline);
  if (existsSync(BIG)) memory(BIG, baseline);

  const bases = FUZZ_BASES.map((n) => base(n, fixtureBytes(n)));
  const t2 = performance.now();
  const rep = fuzz(bases, {
    count: FUZZ_MUTANTS,
    seed: 2019,
    readelfEvery: 50,
    scanFileEvery: 50,
    dir: tempDir(),
  });
  const o = rep.outcomes;
  console.log(
    `fuzz: ${rep.mutants} mutants in ${((performance.now() - t2) / 1000).toFixed(0)} s: ${o.invalid} invalid, ${o.unchanged} unchanged, ${o.refused} refused, ${o.rewritten + o.split} rewritten (${o.split} with data pages made non-executable; all re-scanned clean, layout checked); readelf on ${rep.readelfChecked}, scanFile on ${rep.scanFileChecked}; ${rep.failures.length} failure(s)`,
  );
  for (const f of rep.failures.slice(0, 5)) console.log(`  ${f.base} ${f.what}: ${f.error}`);
}
