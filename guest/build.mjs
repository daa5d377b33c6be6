// Builds the guest programs (guest/linux/*.c with our libc in guest/libc) into
// build/guest/<name> with the machine's gcc. A program is rebuilt only when the hash of its
// inputs (its sources, all libc files, the flags and `gcc --version`) differs from the one in
// build/guest/manifest.json. CLI: node guest/build.mjs [--quiet] [--force]
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const GUEST_DIR = dirname(fileURLToPath(import.meta.url));
const LIBC_DIR = join(GUEST_DIR, 'libc');
export const OUT_DIR = resolve(GUEST_DIR, '..', 'build', 'guest');
const MANIFEST = join(OUT_DIR, 'manifest.json');

// Static, no C library, no PIE (linked at the default 0x400000), and none of the extras a
// distribution gcc adds by default (stack protector, CET endbr64, .eh_frame, build-id note).
export const CFLAGS = [
  '-O2',
  '-static',
  '-nostdlib',
  '-ffreestanding',
  '-fno-pie',
  '-no-pie',
  '-fno-stack-protector',
  '-fcf-protection=none',
  '-fno-asynchronous-unwind-tables',
  '-fno-builtin',
  '-Wall',
  '-Werror',
  '-Wl,--build-id=none',
  '-z',
  'noexecstack',
];

const ok = (name, description, extra = {}) => ({
  name,
  description,
  hostComparable: true,
  ...extra,
});
// hostSignal: how the same fault ends the program on Linux.
const fault = (name, description, expectFault, hostSignal) => ({
  name,
  description,
  hostComparable: false,
  expectFault,
  ...(hostSignal && { hostSignal }),
});

/** Every program; each is built from guest/<dir>/<name>.c (dir: 'linux' unless given). */
export const GUESTS = [
  ok('hello', 'raw write(2) to stdout and to stderr, exit status 3'),
  ok('primes', 'sieve of Eratosthenes below 100000: count, sum and last five primes'),
  ok('fib', 'iterative (wrapping) and recursive 64-bit Fibonacci'),
  ok('muldiv', '64/32-bit mul, imul, div, idiv, shifts, rotates, bswap, bit counts'),
  ok('strings', 'our mem*/str* functions, overlapping memmove, printf formatting'),
  ok('sort', 'xorshift64 array sorted by insertion sort, quicksort and heapsort'),
  ok('alloc', 'brk growth and shrink, anonymous mmap and munmap; prints sums, not addresses'),
  ok('vector', 'loops gcc -O2 auto-vectorises: the one program with SSE2 instructions', {
    sse: true,
  }),
  ok(
    'threads',
    'shared-counter racers and a register-heavy mixer: the kernel tests start threads at their *_thread entries; main runs each once',
  ),
  ok('rep', 'rep stosb/stosq/movsb/movsq in inline asm, a zero count, std + rep movsb'),
  ok('args', "prints argc and each argv string (argv[0] is the caller's choice)", {
    args: ['one', 'two words', ''],
  }),
  {
    name: 'syscalls',
    description: 'clock_gettime, getrandom, and getpid, which a simulator may answer ENOSYS',
    hostComparable: false,
  },
  {
    name: 'sel4-ipcbench',
    dir: 'sel4',
    description: "sel4bench's IPC benchmark as machine code (client_main, server_main entries)",
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'zircon-ipcbench',
    dir: 'zircon',
    description:
      'the IPC benchmark with zx_channel_call / zx_object_wait_one, zx_channel_read, zx_channel_write as machine code (client_main, server_main entries)',
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'fiasco-ipcbench',
    dir: 'fiasco',
    description:
      "sel4bench's IPC benchmark on Fiasco.OC as machine code (client_main, server_main entries)",
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'cpuid',
    description: 'CPUID leaves 0, 1 and 0x40000000 from user mode (a VM exit under the Rootkernel)',
    hostComparable: false,
  },
  fault('jump-data', 'calls into a non-executable .data array: #PF on fetch', '#PF', 'SIGSEGV'),
  fault('ud2', 'executes UD2 (0f 0b), the defined invalid opcode: #UD', '#UD', 'SIGILL'),
  fault('garbage', 'executes byte 0x06, no instruction in 64-bit mode: #UD', '#UD', 'SIGILL'),
  fault('divzero', '64-bit idiv by a volatile zero: #DE', '#DE', 'SIGFPE'),
  fault('forever', 'prints one line, then spins without syscalls: needs a budget', 'hang'),
];

/** Absolute path of a built guest program. */
export function guestPath(name) {
  if (!GUESTS.some((g) => g.name === name)) {
    throw new Error(
      `unknown guest program "${name}" (known: ${GUESTS.map((g) => g.name).join(', ')})`,
    );
  }
  return join(OUT_DIR, name);
}

function gccVersion() {
  const r = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (r.error) {
    throw new Error(
      `guest build: cannot run gcc (${r.error.message}); install gcc to build guests`,
    );
  }
  return r.stdout;
}

/** A program's folder: guest/linux for Linux-ABI programs, guest/<kernel> for programs that
 *  call a kernel personality's own system calls (their lib*.h headers are shared there). */
function dirOf(name) {
  return join(GUEST_DIR, GUESTS.find((g) => g.name === name)?.dir ?? 'linux');
}

function sourcesOf(name) {
  const dir = dirOf(name);
  const libc = readdirSync(LIBC_DIR)
    .sort()
    .map((f) => join(LIBC_DIR, f));
  const shared = readdirSync(dir)
    .filter((f) => f.startsWith('lib'))
    .sort()
    .map((f) => join(dir, f));
  return { own: [join(dir, `${name}.c`)], libc: [...libc, ...shared] };
}

function inputHash(name, version) {
  const { own, libc } = sourcesOf(name);
  const h = createHash('sha256');
  h.update(JSON.stringify({ CFLAGS, version }));
  for (const f of [...own, ...libc])
    h.update(`\0${f.slice(GUEST_DIR.length)}\0`).update(readFileSync(f));
  return h.digest('hex');
}

function readManifest() {
  try {
    return JSON.parse(readFileSync(MANIFEST, 'utf8'));
  } catch {
    return {};
  }
}

function exists(path) {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Runs gcc for one program; resolves to null on success or to an error message. */
function compile(name) {
  const { own, libc } = sourcesOf(name);
  const inputs = [...own, ...libc.filter((f) => /\.(c|S)$/.test(f))];
  const out = guestPath(name);
  // Unique temporary name, renamed into place: parallel test processes may build at once.
  const tmp = `${out}.tmp-${process.pid}`;
  const args = [...CFLAGS, '-I', LIBC_DIR, '-I', dirOf(name), '-o', tmp, ...inputs];
  return new Promise((done) => {
    const child = spawn('gcc', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => done(`cannot run gcc: ${e.message}`));
    child.on('close', (code) => {
      if (code !== 0) {
        rmSync(tmp, { force: true });
        return done(`gcc exited with status ${code}:\n${stderr.trimEnd()}`);
      }
      renameSync(tmp, out);
      done(null);
    });
  });
}

/** Builds every stale program; rejects with gcc's messages if any build fails. */
export async function buildGuests({ quiet = false, force = false } = {}) {
  const log = quiet ? () => {} : (s) => process.stderr.write(`${s}\n`);
  const version = gccVersion();
  mkdirSync(OUT_DIR, { recursive: true });
  const manifest = readManifest();
  const hashes = new Map(GUESTS.map((g) => [g.name, inputHash(g.name, version)]));
  const stale = GUESTS.map((g) => g.name).filter(
    (n) => force || manifest[n]?.hash !== hashes.get(n) || !exists(guestPath(n)),
  );
  if (stale.length === 0) {
    log(`guest: ${GUESTS.length} programs up to date in ${OUT_DIR}`);
    return;
  }
  const started = Date.now();
  const failures = [];
  const queue = [...stale];
  const worker = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      const err = await compile(n);
      if (err) failures.push(`guest program "${n}" failed to build: ${err}`);
      else manifest[n] = { hash: hashes.get(n) };
    }
  };
  await Promise.all(Array.from({ length: Math.min(availableParallelism(), stale.length) }, worker));
  const sorted = Object.fromEntries(
    [...hashes.keys()].filter((n) => manifest[n]).map((n) => [n, manifest[n]]),
  );
  const tmp = `${MANIFEST}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(sorted, null, 2)}\n`);
  renameSync(tmp, MANIFEST);
  if (failures.length) throw new Error(failures.join('\n\n'));
  log(`guest: built ${stale.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const argv = process.argv.slice(2);
  const unknown = argv.filter((a) => a !== '--quiet' && a !== '--force');
  if (unknown.length) {
    process.stderr.write(`usage: node guest/build.mjs [--quiet] [--force]\n`);
    process.exit(2);
  }
  buildGuests({ quiet: argv.includes('--quiet'), force: argv.includes('--force') }).catch((e) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
}
