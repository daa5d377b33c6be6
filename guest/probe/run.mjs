// Measures how valgrind's instruction count treats rep string instructions and syscalls by
// building rep-count.S with different parameters. Usage: node guest/probe/run.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { valgrindInstructionCount } from '../count.mjs';

const src = join(dirname(fileURLToPath(import.meta.url)), 'rep-count.S');
const dir = mkdtempSync(join(tmpdir(), 'skybridge-probe-'));
const count = (op, reps, calls) => {
  const out = join(dir, 'probe');
  const defs = [`-DOP=${op}`, `-DREPS=${reps}`, `-DCALLS=${calls}`];
  execFileSync('gcc', ['-static', '-nostdlib', '-no-pie', ...defs, '-o', out, src]);
  return valgrindInstructionCount(out);
};
try {
  for (const op of ['rep movsb', 'rep stosb', 'rep movsq', 'rep stosq', 'movsb', 'nop']) {
    const row = [0, 1, 2, 10, 1000].map((r) => `rcx=${r}: ${count(op, r, 0)}`);
    process.stdout.write(`${op.padEnd(10)} ${row.join('  ')}\n`);
  }
  const calls = [0, 1, 10].map((c) => `${c} getpid: ${count('nop', 0, c)}`);
  process.stdout.write(`syscalls   ${calls.join('  ')}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
