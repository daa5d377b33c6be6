// The number of user-mode instructions a program executes on this machine, measured by
// valgrind's lackey tool. For our static -nostdlib guests counting starts at _start, so no
// dynamic loader or libc start-up is included. guest/README.md says what one "instruction"
// means to valgrind (rep string instructions, syscall, faults).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs path under valgrind and returns its instruction count. argv[0] is path as given, which
 * matters to programs that read it (args). The exit status does not matter; a program killed
 * by a fault is counted up to and including the faulting instruction. (Lackey rather than
 * cachegrind: both agree on clean exits, but cachegrind loses the counts of the current block
 * when an instruction such as div faults in the middle of it.) --vex-guest-chase=no: by
 * default VEX chases a taken conditional branch into the following block and counts some
 * instructions on the path not taken (seen on muldiv's `a == MIN && b == -1` checks: 298
 * more than executed); without chasing, the count is what ran.
 */
export function valgrindInstructionCount(path, args = []) {
  const dir = mkdtempSync(join(tmpdir(), 'skybridge-lackey-'));
  const log = join(dir, 'lackey.log');
  try {
    const r = spawnSync(
      'valgrind',
      ['--tool=lackey', '--vex-guest-chase=no', `--log-file=${log}`, path, ...args],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'ignore', 'pipe'], // valgrind's own errors (bad path) go to stderr
        timeout: 120_000,
      },
    );
    if (r.error?.code === 'ENOENT') {
      throw new Error('valgrind not found on PATH: install valgrind to count instructions');
    }
    if (r.error) throw new Error(`valgrind on ${path} failed: ${r.error.message}`);
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      // reported below
    }
    const m = /guest instrs:\s+([\d,]+)/.exec(text);
    if (!m) {
      throw new Error(`valgrind reported no instruction count for ${path}:\n${text}${r.stderr}`);
    }
    return Number(m[1].replaceAll(',', ''));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
