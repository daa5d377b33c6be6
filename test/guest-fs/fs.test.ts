// guest/fs: the xv6-style file system (libxv6fs.c), built with the host gcc into a driver
// (driver.c beside this file) over a RAM block device that can crash, fail a write, or be
// damaged byte by byte. Each test is a transcript: a command the driver reads on stdin and
// the one line it must print. File contents are patterns named by a seed (seed 0: zeros);
// `verify` checks them byte for byte, `read` prints a count and an FNV-1a hash.
//
// Also: the library compiled with the guests' flags (freestanding, -Werror) needs nothing
// from a C library but mem*; the crash-consistency run crashes a scripted workload after
// every one of its block writes; and smoke.c runs as a guest in the simulator, printing
// what it prints on the host.

import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { CFLAGS } from '../../guest/build.mjs';
import { runProgram } from '../../src/experiments/run-program.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const FS_DIR = join(ROOT, 'guest', 'fs');
const LIBC_DIR = join(ROOT, 'guest', 'libc');
const LIB = join(FS_DIR, 'libxv6fs.c');
const DRIVER = join(import.meta.dirname, 'driver.c');
const SMOKE = join(import.meta.dirname, 'smoke.c');
// smoke.c's cache and log: small, so that a 13000-byte write takes two transactions.
const SMOKE_SIZES = ['-DFS_NBUF=24', '-DFS_LOGSIZE=16'];
const HOST_FLAGS = ['-O2', '-Wall', '-Wextra', '-Werror', '-I', FS_DIR];

let dir = '';
let driver = '';
type Run = { stdout: string; stderr: string; code: number | null };
let crashRun: Promise<Run>;
let randomRun: Promise<Run>;
// Random workloads: seed, operations, every how many block writes to crash, disk blocks
// (200 and 300 fill up).
const RANDOM = [
  [1, 120, 3, 4096],
  [2, 120, 3, 4096],
  [3, 120, 3, 300],
  [4, 120, 3, 200],
] as const;

/** Runs the driver with a script on stdin, without blocking (the crash run is long). */
function driveAsync(script: string) {
  return new Promise<Run>((done) => {
    const child = spawn(driver, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ stdout, stderr, code }));
    child.on('error', (e) => done({ stdout, stderr: String(e), code: null }));
    child.stdin.end(script);
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skybridge-fs-'));
  driver = join(dir, 'driver');
  const gcc = promisify(execFile);
  const libc = readdirSync(LIBC_DIR)
    .filter((f) => /\.(c|S)$/.test(f))
    .sort()
    .map((f) => join(LIBC_DIR, f));
  await Promise.all([
    gcc('gcc', [...HOST_FLAGS, '-o', driver, DRIVER, LIB]),
    gcc('gcc', [...CFLAGS, '-c', '-o', join(dir, 'libxv6fs.o'), LIB]),
    gcc('gcc', [...HOST_FLAGS, ...SMOKE_SIZES, '-o', join(dir, 'smoke-host'), SMOKE, LIB]),
    gcc('gcc', [
      ...CFLAGS,
      ...SMOKE_SIZES,
      '-DFS_GUEST',
      '-I',
      LIBC_DIR,
      '-I',
      FS_DIR,
      '-o',
      join(dir, 'smoke-guest'),
      SMOKE,
      LIB,
      ...libc,
    ]),
  ]);
  // About two seconds on its own: it runs while the transcripts and the simulator do.
  crashRun = driveAsync('crashtest 1024 64\n');
  randomRun = driveAsync(RANDOM.map((r) => `randomtest ${r.join(' ')}\n`).join(''));
});

after(async () => {
  await Promise.all([crashRun, randomRun]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs a transcript: each line is `command | the line it prints` (no `|`: it prints `ok`);
 *  blank lines and lines starting with '#' are skipped. */
function transcript(text: string): void {
  const steps = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const bar = l.indexOf(' | ');
      return bar < 0
        ? { cmd: l, want: 'ok' }
        : { cmd: l.slice(0, bar).trim(), want: l.slice(bar + 3) };
    });
  const out = execFileSync(driver, [], {
    input: steps.map((s) => s.cmd).join('\n') + '\n',
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const got = out.split('\n').slice(0, -1);
  assert.equal(got.length, steps.length, `one line per command:\n${out}`);
  assert.deepEqual(
    steps.map((s, i) => `${s.cmd} | ${got[i]}`),
    steps.map((s) => `${s.cmd} | ${s.want}`),
  );
}

test('compiled with the guests flags, the library needs only memcpy, memset and memcmp', () => {
  const undefinedSymbols = execFileSync('nm', ['-u', join(dir, 'libxv6fs.o')], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s+/).pop())
    .filter((s) => s);
  assert.deepEqual(undefinedSymbols, ['memcmp', 'memcpy', 'memset']);
});

test('files: create, write, read back, overwrite, extend past a hole, O_TRUNC', () => {
  // 1024 blocks: boot, superblock, a log of 1 + 30 blocks, 5 inode blocks, 1 bitmap block.
  transcript(`
    mkfs 1024 64
    mount
    sb                     | size=1024 nblocks=985 ninodes=80 nlog=31 logstart=2 inodestart=33 bmapstart=38 datastart=39
    fsck                   | ok files=0 dirs=1 orphans=0 used=1 free=984
    open /a c              | 2
    close 2
    write /a 0 3000 1      | 3000
    verify /a 0 3000 1     | ok
    read /a 0 5000         | 3000 75788ac2
    read /a 3000 10        | 0 811c9dc5
    read /a 2990 100       | 10 e26692fc
    stat /a                | inum=2 type=file size=3000 nlink=1
    write /a 1000 5000 3   | 5000
    verify /a 0 1000 1     | ok
    verify /a 1000 5000 3  | ok
    stat /a                | inum=2 type=file size=6000 nlink=1
    # a write past the end leaves a hole that reads as zeros
    write /a 20000 100 5   | 100
    stat /a                | inum=2 type=file size=20100 nlink=1
    verify /a 6000 14000 0 | ok
    verify /a 20000 100 5  | ok
    write /a 20100 0 6     | 0
    stat /a                | inum=2 type=file size=20100 nlink=1
    open /a ct             | 2
    close 2
    stat /a                | inum=2 type=file size=0 nlink=1
    read /a 0 10           | 0 811c9dc5
    mkdir /d               | 3
    open /d/b cx           | 4
    close 4
    write /d/b 0 20000 2   | 20000
    verify /d/b 0 20000 2  | ok
    ls /d                  | . .. b
    fsck                   | ok files=2 dirs=2 orphans=0 used=23 free=962
    counters               | commits=8 logged=51 aborts=0
  `);
});

test('directories and paths: nesting, . and .., long names, the errors each call gives', () => {
  transcript(`
    mkfs 256 32
    mount
    open a c                  | EINVAL
    open / -                  | 1
    close 1
    open / cx                 | EEXIST
    open / t                  | EISDIR
    open / c                  | EISDIR
    mkdir /                   | EEXIST
    mkdir /d                  | 2
    mkdir /d                  | EEXIST
    mkdir /d/e                | 3
    mkdir /d/e/f              | 4
    mkdir /x/y                | ENOENT
    open /d/e/f/g cx          | 5
    close 5
    open //d///e/./f/../f/g - | 5
    close 5
    open /d/e/f/g/h c         | ENOTDIR
    # FS_NAME_MAX is 59
    open /0123456789012345678901234567890123456789012345678901234567 c | 6
    close 6
    open /01234567890123456789012345678901234567890123456789012345678 c | 7
    close 7
    open /012345678901234567890123456789012345678901234567890123456789 c | ENAMETOOLONG
    ls /                      | . .. d 0123456789012345678901234567890123456789012345678901234567 01234567890123456789012345678901234567890123456789012345678
    ls /d                     | . .. e
    ls /d/e/f                 | . .. g
    ls /d/e/f/g               | ENOTDIR
    # a directory's nlink is 1 + its subdirectories
    stat /                    | inum=1 type=dir size=320 nlink=2
    stat /d                   | inum=2 type=dir size=192 nlink=2
    stat /d/e/f               | inum=4 type=dir size=192 nlink=1
    stat /d/e/f/g             | inum=5 type=file size=0 nlink=1
    write /d 0 10 1           | EISDIR
    read /d 0 10              | EISDIR
    truncate /d 0             | EISDIR
    open /d t                 | EISDIR
    open /d c                 | EISDIR
    unlink /                  | EINVAL
    unlink /d/.               | EINVAL
    unlink /d/..              | EINVAL
    unlink /d/e               | ENOTEMPTY
    unlink /nope              | ENOENT
    unlink /d/e/f/g           | ok
    unlink /d/e/f             | ok
    stat /d/e                 | inum=3 type=dir size=192 nlink=1
    unlink /d/e               | ok
    stat /d                   | inum=2 type=dir size=192 nlink=1
    ls /d                     | . ..
    close 5                   | EBADF
    close 99                  | EBADF
    fsck                      | ok files=2 dirs=2 orphans=0 used=2 free=217
  `);
});

test('a 64 MiB file: every direct, indirect and double-indirect block, then FS_EFBIG', () => {
  // FS_MAXFILE = (12 + 256 + 256 * 256) blocks = 67383296 bytes, written in one call (one
  // transaction per log's worth), using 65804 data blocks and 257 indirect ones.
  transcript(`
    mkfs 66200 32
    mount
    open /big c                 | 2
    close 2
    write /big 0 67383296 7     | 67383296
    stat /big                   | inum=2 type=file size=67383296 nlink=1
    verify /big 0 67383296 7    | ok
    fsck                        | ok files=1 dirs=1 orphans=0 used=66063 free=92
    statfs                      | free_blocks=92 free_inodes=45 datablocks=66155 inodes=47
    write /big 67383296 1 7     | EFBIG
    write /big 67383286 11 8    | EFBIG
    write /big 67383286 10 8    | 10
    verify /big 67383286 10 8   | ok
    verify /big 0 67383286 7    | ok
    truncate /big 67383297      | EFBIG
    truncate /big 1000          | ok
    fsck                        | ok files=1 dirs=1 orphans=0 used=2 free=66153
    verify /big 0 1000 7        | ok
    read /big 1000 10           | 0 811c9dc5
    # grown back by truncate: a hole of zeros
    truncate /big 67383296      | ok
    stat /big                   | inum=2 type=file size=67383296 nlink=1
    verify /big 1000 2000 0     | ok
    read /big 67382296 5000     | 1000 31e4eae5
    fsck                        | ok files=1 dirs=1 orphans=0 used=2 free=66153
    # one block in the middle of the hole: the double-indirect block, one of its blocks, data
    write /big 30000000 5 9     | 5
    verify /big 29999000 1000 0 | ok
    verify /big 30000000 5 9    | ok
    fsck                        | ok files=1 dirs=1 orphans=0 used=5 free=66150
    unlink /big                 | ok
    fsck                        | ok files=0 dirs=1 orphans=0 used=1 free=66154
    statfs                      | free_blocks=66154 free_inodes=46 datablocks=66155 inodes=47
  `);
});

test('truncate and unlink free every block, and the space is used again', () => {
  transcript(`
    mkfs 2048 32
    mount
    statfs                | free_blocks=2010 free_inodes=46 datablocks=2011 inodes=47
    open /t c             | 2
    close 2
    # 391 data blocks, the indirect block, the double-indirect block and one of its blocks
    write /t 0 400000 3   | 400000
    fsck                  | ok files=1 dirs=1 orphans=0 used=395 free=1616
    truncate /t 300000    | ok
    verify /t 0 300000 3  | ok
    stat /t               | inum=2 type=file size=300000 nlink=1
    fsck                  | ok files=1 dirs=1 orphans=0 used=297 free=1714
    truncate /t 12300     | ok
    verify /t 0 12300 3   | ok
    fsck                  | ok files=1 dirs=1 orphans=0 used=15 free=1996
    truncate /t 5000      | ok
    verify /t 0 5000 3    | ok
    # growing again reads zeros where the old bytes were
    truncate /t 9000      | ok
    verify /t 0 5000 3    | ok
    verify /t 5000 4000 0 | ok
    fsck                  | ok files=1 dirs=1 orphans=0 used=6 free=2005
    truncate /t 0         | ok
    stat /t               | inum=2 type=file size=0 nlink=1
    fsck                  | ok files=1 dirs=1 orphans=0 used=1 free=2010
    statfs                | free_blocks=2010 free_inodes=45 datablocks=2011 inodes=47
    write /t 0 1500000 4  | 1500000
    fsck                  | ok files=1 dirs=1 orphans=0 used=1473 free=538
    unlink /t             | ok
    statfs                | free_blocks=2010 free_inodes=46 datablocks=2011 inodes=47
    open /u c             | 2
    close 2
    write /u 0 1500000 5  | 1500000
    verify /u 0 1500000 5 | ok
    unlink /u             | ok
    fsck                  | ok files=0 dirs=1 orphans=0 used=1 free=2010
    statfs                | free_blocks=2010 free_inodes=46 datablocks=2011 inodes=47
  `);
});

test('a full disk: FS_ENOSPC, what was committed is intact, fsck is clean', () => {
  transcript(`
    mkfs 200 16
    mount
    statfs                 | free_blocks=163 free_inodes=30 datablocks=164 inodes=31
    open /keep c           | 2
    close 2
    write /keep 0 20000 1  | 20000
    open /big c            | 3
    close 3
    # 8 KiB appends: the last one is short (what fitted), the next gives ENOSPC
    fill /big 2 8192       | 144384 then ENOSPC
    fsck                   | ok files=2 dirs=1 orphans=0 used=164 free=0
    verify /keep 0 20000 1 | ok
    stat /big              | inum=3 type=file size=144384 nlink=1
    verify /big 0 144384 2 | ok
    # mkdir takes an inode, then finds no block: the transaction is rolled back
    mkdir /x               | ENOSPC
    open /y c              | 5
    close 5
    write /y 0 10 3        | ENOSPC
    write /big 144384 1 2  | ENOSPC
    statfs                 | free_blocks=0 free_inodes=27 datablocks=164 inodes=31
    fsck                   | ok files=3 dirs=1 orphans=0 used=164 free=0
    counters               | commits=22 logged=223 aborts=1
    unlink /big            | ok
    statfs                 | free_blocks=142 free_inodes=28 datablocks=164 inodes=31
    write /y 0 10 3        | 10
    verify /y 0 10 3       | ok
    verify /keep 0 20000 1 | ok
    fsck                   | ok files=2 dirs=1 orphans=0 used=23 free=141
  `);
  // Out of inodes: 1 asked for, rounded up to the 15 of one inode block (with the root).
  const creates = Array.from(
    { length: 14 },
    (_, i) => `open /f${i + 1} c | ${i + 2}\nclose ${i + 2}`,
  );
  transcript(`
    mkfs 100 1
    mount
    statfs                 | free_blocks=64 free_inodes=14 datablocks=65 inodes=15
    ${creates.join('\n')}
    open /f15 c            | ENOSPC
    mkdir /f15             | ENOSPC
    fsck                   | ok files=14 dirs=1 orphans=0 used=1 free=64
    unlink /f1             | ok
    open /f15 c            | 2
    close 2
    fsck                   | ok files=14 dirs=1 orphans=0 used=1 free=64
  `);
});

test('an unlinked file lives while open; a crash leaves it to the next mount to free', () => {
  transcript(`
    mkfs 512 32
    mount
    open /tmp c          | 2
    write /tmp 0 50000 1 | 50000
    unlink /tmp          | ok
    open /tmp -          | ENOENT
    fsck                 | ok files=1 dirs=1 orphans=1 used=51 free=424
    statfs               | free_blocks=424 free_inodes=45 datablocks=475 inodes=47
    open /tmp cx         | 3
    close 3
    close 2
    fsck                 | ok files=1 dirs=1 orphans=0 used=1 free=474
    statfs               | free_blocks=474 free_inodes=45 datablocks=475 inodes=47
    # two opens, two closes
    open /o c            | 2
    open /o -            | 2
    unlink /o            | ok
    close 2
    fsck                 | ok files=2 dirs=1 orphans=1 used=1 free=474
    close 2
    fsck                 | ok files=1 dirs=1 orphans=0 used=1 free=474
    # still open when the machine stops: mount frees it
    open /p c            | 2
    write /p 0 30000 2   | 30000
    unlink /p            | ok
    mount
    fsck                 | ok files=1 dirs=1 orphans=0 used=1 free=474
    statfs               | free_blocks=474 free_inodes=45 datablocks=475 inodes=47
  `);
});

test('a crash: the log is replayed if its header was written, and dropped if not', () => {
  // Overwriting 5 blocks logs 5 blocks: writes 1-5 fill the log, write 6 is the header
  // (the commit point). mkdir logs 4 blocks: its header is write 5.
  transcript(`
    mkfs 1024 64
    mount
    open /a c              | 2
    close 2
    write /a 0 20000 1     | 20000
    crash 5                | armed
    write /a 0 5000 4      | 5000
    reboot                 | dropped=1
    mount
    verify /a 0 20000 1    | ok
    crash 6                | armed
    write /a 0 5000 4      | 5000
    reboot                 | dropped=1
    mount
    verify /a 0 5000 4     | ok
    verify /a 5000 15000 1 | ok
    crash 4                | armed
    mkdir /d               | 3
    reboot                 | dropped=1
    mount
    ls /                   | . .. a
    fsck                   | ok files=1 dirs=1 orphans=0 used=22 free=963
    crash 5                | armed
    mkdir /d               | 3
    reboot                 | dropped=1
    mount
    ls /                   | . .. a d
    fsck                   | ok files=1 dirs=2 orphans=0 used=23 free=962
  `);
});

test('a device error during a commit stops the file system until it is mounted again', () => {
  transcript(`
    mkfs 1024 64
    mount
    open /a c              | 2
    close 2
    write /a 0 20000 1     | 20000
    failwrite 3            | armed
    write /a 0 5000 4      | EIO
    read /a 0 10           | EIO
    fsck                   | EIO
    mkdir /x               | EIO
    reboot                 | dropped=0
    mount
    verify /a 0 20000 1    | ok
    fsck                   | ok files=1 dirs=1 orphans=0 used=22 free=963
  `);
});

interface CrashResult {
  ops: number;
  multi: number;
  enospc: number;
  writes: number;
  points: number;
  before: number;
  after: number;
  intermediate: number;
  failures: number;
}

/** The result lines of the driver's crash runs (one per workload). */
function crashResults(r: Run): CrashResult[] {
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  return lines.map((line) => {
    const m =
      /^crashtest ops=(\d+) multi=(\d+) enospc=(\d+) writes=(\d+) points=(\d+) before=(\d+) after=(\d+) intermediate=(\d+) failures=(\d+)$/.exec(
        line,
      );
    assert.ok(m, r.stdout); // a failure prints its crash point first
    const [ops, multi, enospc, writes, points, before, after, intermediate, failures] = m
      .slice(1)
      .map(Number);
    return { ops, multi, enospc, writes, points, before, after, intermediate, failures };
  });
}

test('crash consistency: a workload crashed after each of its block writes recovers', async (t) => {
  // The workload (driver.c, build_workload): 90 operations: creates, writes (one of 300000
  // bytes, several transactions), truncates (one of a sparse file over 40 double-indirect
  // blocks, several transactions), unlinks, mkdir and rmdir, a root directory growing past
  // one block. First without a crash: after each operation fsck passes and every file is as
  // a model of the operations has it. Then for every N the disk keeps only the first N
  // block writes, and the power fails again after 0 to 4 of the next mount's writes (during
  // recovery). The mount after that must succeed and fsck must pass; every file but the
  // interrupted operation's must be as after the operations before it, and that one's as
  // before it, as after it, or (an operation of several transactions) a committed prefix
  // of it; a new file can be written and fsck passes again.
  const [c] = crashResults(await crashRun);
  t.diagnostic(
    `${c.points} crash points over ${c.ops} operations (${c.multi} of several transactions): ` +
      `${c.before} before, ${c.after} after, ${c.intermediate} a committed prefix`,
  );
  assert.equal(c.failures, 0);
  assert.equal(c.ops, 90);
  assert.equal(c.enospc, 0);
  assert.equal(c.points, c.writes + 1);
  assert.ok(c.writes > 1500, `${c.writes} block writes`);
  assert.ok(c.multi >= 4);
  assert.equal(c.before + c.after + c.intermediate, c.points);
  assert.ok(c.before > 100 && c.after > 100 && c.intermediate > 100);
});

test('crash consistency on random workloads, two of them filling the disk', async (t) => {
  // driver.c, build_random: 120 valid operations on six files and a directory (writes at
  // random offsets, some past the end or in the double-indirect range, truncates, unlinks,
  // creates, mkdir and rmdir), checked as above; crashed after every third block write. On
  // the small disks some operations end in FS_ENOSPC or a short write, and the model takes
  // what the reference run returned.
  const results = crashResults(await randomRun);
  assert.equal(results.length, RANDOM.length);
  for (const [i, c] of results.entries()) {
    t.diagnostic(
      `seed ${RANDOM[i][0]} on ${RANDOM[i][3]} blocks: ${c.points} crash points, ` +
        `${c.multi} operations of several transactions, ${c.enospc} out of space`,
    );
    assert.equal(c.failures, 0);
    assert.equal(c.ops, 120);
    assert.equal(c.points, Math.ceil(c.writes / 3) + 1);
    assert.equal(c.before + c.after + c.intermediate, c.points);
  }
  assert.equal(results[0].enospc + results[1].enospc, 0);
  assert.ok(results[2].enospc > 0 && results[3].enospc > 10);
});

test('a damaged image: mount refuses it with an error naming what is wrong', () => {
  // The superblock (block 1): magic 0, version 4, bsize 8, size 12, nblocks 16, ninodes 20,
  // nlog 24, logstart 28, inodestart 32, bmapstart 36, datastart 40, checksum 44. The log
  // header is block 2, inode 1 (the root) is at block 33 + 64, inode 2 at 33 + 128 (type 0,
  // nlink 2, size 4, addrs 8), the bitmap is block 38.
  transcript(`
    mkfs 1024 64
    mount
    open /a c               | 2
    close 2
    write /a 0 20000 1      | 20000
    mkdir /d                | 3
    fsck                    | ok files=1 dirs=2 orphans=0 used=23 free=962
    save
    put32 1 0 0
    mount                   | EBADMAGIC: magic number is 0x0, not 0x66367678 (xv6f)
    restore
    put32 1 4 2
    mount                   | EBADMAGIC: version 2 (this library reads 1)
    restore
    put32 1 8 4096
    mount                   | EBADMAGIC: block size 4096 (this library reads 1024)
    restore
    put32 1 12 5000
    mount                   | EBADSIZE: image of 5000 blocks on a device of 1024
    restore
    put32 1 20 70
    mount                   | EBADSIZE: inode count 70 out of range (a multiple of 16 up to 2^20)
    restore
    put32 1 24 8
    mount                   | EBADSIZE: log of 8 blocks; this build handles up to 31
    restore
    put32 1 32 34
    mount                   | EBADLAYOUT: inode table starts at block 34, not 33
    restore
    put32 1 40 50
    mount                   | EBADLAYOUT: data area starts at block 50, not 39
    restore
    put32 1 44 12345
    mount                   | EBADSUM: checksum is 0x3039, the fields give 0x8800cdf3
    # two fields changed so that the layout still adds up
    restore
    put32 1 12 1000
    put32 1 16 961
    mount                   | EBADSUM: checksum is 0x8800cdf3, the fields give 0xe0baff42
    restore
    put32 2 0 999
    mount                   | EBADLOG: log header lists 999 blocks, the log holds 30
    restore
    put32 2 0 1
    put32 2 4 1
    mount                   | EBADLOG: log entry 0 names block 1 outside the inode, bitmap and data areas
    restore
    put32 33 64 0
    mount                   | EBADROOT: root inode has type 0, not a directory
    restore
    poke 33 64 2
    mount                   | EBADROOT: root inode has type 2, not a directory
    restore
    poke 33 128 9
    mount                   | EBADINODE: inode 2 has type 9
    restore
    put32 33 132 0x7fffffff
    mount                   | EBADINODE: inode 2 has size 2147483647
    restore
    put32 33 136 5
    mount                   | EBADINODE: inode 2 points to block 5 outside the data area
    restore
    put32 33 136 5000
    mount                   | EBADINODE: inode 2 points to block 5000 outside the data area
    restore
    poke 38 5 0
    mount                   | EBADBITMAP: block 40 of inode 2 is free in the bitmap
    restore
    poke 38 0 0
    mount                   | EBADBITMAP: metadata block 0 is free in the bitmap
    restore
    mount
    fsck                    | ok files=1 dirs=2 orphans=0 used=23 free=962
  `);
});

test('damage mount does not look for: operations and fsck report it, nothing is changed', () => {
  // /a's blocks: 40-51 direct, 52 the indirect block, 53-60 through it.
  transcript(`
    mkfs 1024 64
    mount
    open /a c           | 2
    close 2
    write /a 0 20000 1  | 20000
    save
    put32 52 0 5
    mount
    read /a 12288 10    | ECORRUPT: inode 2: indirect entry points to block 5 outside the data area
    read /a 0 10        | 10 ec0d192b
    write /a 12288 10 3 | ECORRUPT: inode 2: indirect entry points to block 5 outside the data area
    fsck                | ECORRUPT: inode 2 points to block 5 outside the data area
    restore
    put32 52 4 40
    mount
    verify /a 0 12288 1 | ok
    fsck                | ECORRUPT: block 40 is referenced twice (the second time by inode 2)
    truncate /a 0       | ECORRUPT: freeing block 40 which is already free
    fsck                | ECORRUPT: block 40 is referenced twice (the second time by inode 2)
    restore
    poke 38 100 1
    mount
    fsck                | ECORRUPT: block 800 is used in the bitmap but referenced by no inode
    restore
    mount
    fsck                | ok files=1 dirs=1 orphans=0 used=22 free=963
  `);
});

test('as a guest program in the simulator it prints what it prints on the host', (t) => {
  const host = execFileSync(join(dir, 'smoke-host'), { encoding: 'latin1' });
  assert.match(host, /10240 bytes new, then 2760 as before/);
  assert.match(host, /mount a damaged image: not an xv6fs image/);
  const started = performance.now();
  const r = runProgram(readFileSync(join(dir, 'smoke-guest')), {
    kernel: 'sel4',
    args: ['smoke'],
  });
  t.diagnostic(
    `${r.instructions.user} user instructions in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  assert.deepEqual(r.exit, { kind: 'exited', status: 0 });
  assert.deepEqual(r.warnings, []);
  assert.equal(Buffer.from(r.stdout).toString('latin1'), host);
});
