// Scans the node binary (process.execPath) for 0F 01 D4 and compares with `objdump -d` on the
// same file. Also times a full linear-sweep decode of every code byte, the scanner's worst case
// (a hit in every chunk), to show what the byte-search-first design saves.
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { knownTargets } from '../src/binary/branch-targets.ts';
import { scanElf } from '../src/binary/scanner.ts';

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

export async function bench(): Promise<void> {
  const file = realpathSync(process.execPath);
  const t0 = performance.now();
  const bytes = readFileSync(file);
  const r = scanElf(bytes);
  const scanMs = performance.now() - t0;
  if (r.kind === 'invalid') throw new Error(r.message);
  const exec = r.scan.bytesScanned;
  console.log(
    `file: ${file} (${(bytes.length / 1e6).toFixed(1)} MB, ${(exec / 1e6).toFixed(1)} MB in executable segments)`,
  );
  console.log(
    `skybridge scan (read + parse + search + classify): ${scanMs.toFixed(0)} ms, ${mbps(bytes.length, scanMs)} of file; ${r.scan.occurrences.length} occurrence(s)`,
  );
  const t1 = performance.now();
  const targets = knownTargets(r.scan.elf, r.scan.maps);
  const decodeMs = performance.now() - t1;
  console.log(
    `full linear-sweep decode of all code (worst case): ${decodeMs.toFixed(0)} ms, ${mbps(exec, decodeMs)} (${targets.size} branch targets)`,
  );
  const objMs = await objdumpMs(file);
  console.log(
    `objdump -d (output discarded): ${objMs.toFixed(0)} ms, ${mbps(bytes.length, objMs)} of file`,
  );
  console.log(`scan is ${(objMs / scanMs).toFixed(1)}x faster than objdump -d`);
}
