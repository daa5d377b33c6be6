// Builds the guest programs (guest/linux/*.c with our libc in guest/libc) into
// build/guest/<name> with the machine's gcc. A program is rebuilt only when the hash of its
// inputs (its sources, all libc files, the flags and `gcc --version`) differs from the one in
// build/guest/manifest.json. Programs that link SQLite (guest/sqlite) also need its
// amalgamation: fetched once from npm into build/sqlite/, compiled once per hash of its
// inputs (see SQLite below). CLI: node guest/build.mjs [--quiet] [--force] [--only NAME,...]
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
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
export const SQLITE_CACHE_DIR = resolve(GUEST_DIR, '..', 'build', 'sqlite');

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
  ok(
    'sqlite-demo',
    'the SQLite amalgamation on our in-memory VFS: 600 rows in a transaction, then COUNT, SUM, ORDER BY/LIMIT, a JOIN, an index lookup, UPDATE, DELETE, GROUP BY with REAL arithmetic',
    { dir: 'sqlite', sqlite: true, sse: true },
  ),
  ok(
    'sqlite-vfs',
    'our SQLite OS layer checked: the in-memory file store, then rollback, cache spill, close and reopen, VACUUM, journal modes, a temp table',
    { dir: 'sqlite', sqlite: true, sse: true },
  ),
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
  {
    name: 'sb-trampoline',
    dir: 'skybridge',
    description:
      "SkyBridge's trampoline (assembly): the client half, the two VMFUNCs, the server half; mapped by the kernel in every client and server",
    hostComparable: false,
    trampoline: true,
  },
  {
    name: 'sb-ipcbench',
    dir: 'skybridge',
    description:
      "SkyBridge's IPC benchmark as machine code: client_main calls server_handler (or chain_handler, then server_handler) with sb_call",
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'sb-hostile',
    dir: 'skybridge',
    description:
      'SkyBridge clients, servers and attacks as machine code: handlers, callers, and entries that jump into the trampoline, guess keys, forge thread blocks, race shared buffers',
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'storage',
    dir: 'storage',
    includes: ['sel4', 'fiasco', 'zircon', 'skybridge', 'fs'],
    extra: ['fs/libxv6fs.c'],
    description:
      'the storage stack: a RAM-disk server and clients, over SkyBridge or each kernel’s own IPC (rpc.h)',
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'ycsb-sqlite',
    dir: 'storage',
    includes: ['sel4', 'fiasco', 'zircon', 'skybridge', 'sqlite', 'ycsb'],
    extra: ['sqlite/libsqlite-os.c', 'storage/fsclient.c', 'ycsb/libycsb.c'],
    description:
      'YCSB on SQLite over the file-system server (the storage stack’s client): load, run, integrity check',
    hostComparable: false,
    kernelProgram: true,
    sqlite: true,
    sse: true,
  },
  fault('jump-data', 'calls into a non-executable .data array: #PF on fetch', '#PF', 'SIGSEGV'),
  fault('ud2', 'executes UD2 (0f 0b), the defined invalid opcode: #UD', '#UD', 'SIGILL'),
  fault('garbage', 'executes byte 0x06, no instruction in 64-bit mode: #UD', '#UD', 'SIGILL'),
  fault('divzero', '64-bit idiv by a volatile zero: #DE', '#DE', 'SIGFPE'),
  fault('forever', 'prints one line, then spins without syscalls: needs a budget', 'hang'),
  {
    name: 'echo-server',
    dir: 'examples',
    includes: ['skybridge'],
    description:
      'scenario example: a SkyBridge server whose echo_handler adds one, or upper-cases bytes copied in from the shared buffer',
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'echo-client',
    dir: 'examples',
    includes: ['skybridge'],
    description:
      'scenario example: calls the echo server (argv[1]: its id) with numbers, then a message through the shared buffer',
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'relay-server',
    dir: 'examples',
    includes: ['skybridge'],
    description:
      'scenario example: the middle of a chain; relay_handler calls the server next_server names and adds one',
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'hostile-client',
    dir: 'examples',
    includes: ['skybridge'],
    description:
      'scenario example: a client that forges landings, guesses keys, then jumps into the trampoline, VMFUNCs to a view it lacks, or writes its binding record',
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'sb-temporal',
    dir: 'skybridge',
    description:
      'temporal isolation under SkyBridge as machine code: a handler doing a chosen amount of work, clients recording each call with RDTSC, a bystander recording when it did not run',
    hostComparable: false,
    kernelProgram: true,
  },
  // The trampoline with speculation hardening (docs/mitigations.md): the same file, assembled
  // with the -D flags that turn it on.
  ...[
    ['sb-trampoline-rsb', ['SB_RSB_FILL'], 'fills the RSB after each VMFUNC'],
    ['sb-trampoline-verw', ['SB_VERW'], 'clears CPU buffers (VERW) before each VMFUNC'],
    ['sb-trampoline-hardened', ['SB_RSB_FILL', 'SB_VERW'], 'does both'],
  ].map(([name, defines, what]) => ({
    name,
    dir: 'skybridge',
    source: 'sb-trampoline.S',
    defines,
    description: `SkyBridge's trampoline built so that it ${what}`,
    hostComparable: false,
    trampoline: true,
  })),
  {
    name: 'indirect',
    dir: 'indirect',
    includes: ['sel4', 'fiasco', 'zircon', 'skybridge'],
    description:
      'experiment indirect: a client touching a working set between empty IPCs (each kernel’s own, or SkyBridge) and the server that replies at once',
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'mc-echo',
    dir: 'storage',
    includes: ['sel4', 'fiasco', 'zircon', 'skybridge'],
    description:
      'an echo server and clients timing each call with RDTSC, over SkyBridge or each kernel’s own IPC (rpc.h): experiment multicore',
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'mc-storage',
    dir: 'storage',
    source: 'storage.c',
    defines: ['STORAGE_MANY_THREADS'],
    includes: ['sel4', 'fiasco', 'zircon', 'skybridge', 'fs'],
    extra: ['fs/libxv6fs.c'],
    description:
      'the storage servers with a lock around each request and entries for many serving threads: experiment multicore-sqlite',
    hostComparable: false,
    kernelProgram: true,
  },
  {
    name: 'mc-ycsb-sqlite',
    dir: 'storage',
    source: 'ycsb-sqlite.c',
    defines: ['YCSB_MANY_CLIENTS'],
    includes: ['sel4', 'fiasco', 'zircon', 'skybridge', 'sqlite', 'ycsb'],
    extra: ['sqlite/libsqlite-os.c', 'storage/fsclient.c', 'ycsb/libycsb.c'],
    description:
      'YCSB on SQLite as one of many clients (its own database, a common start, each operation timed): experiment multicore-sqlite',
    hostComparable: false,
    kernelProgram: true,
    sqlite: true,
    sse: true,
  },
];

/** Where the kernel maps SkyBridge's trampoline (guest/skybridge/skybridge-layout.h). */
const TRAMPOLINE_VA = '0x7ff000000000';

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
  // A folder's headers and its lib* sources are shared by its programs; the trampoline is
  // assembly alone, with no C library.
  const shared = readdirSync(dir)
    .filter((f) => (f.startsWith('lib') && /\.[chS]$/.test(f)) || f.endsWith('.h'))
    .sort()
    .map((f) => join(dir, f));
  // `source`: another program's file, built with `defines` (the trampoline's variants).
  const source = GUESTS.find((g) => g.name === name)?.source;
  const own = join(dir, source ?? `${name}.${exists(join(dir, `${name}.S`)) ? 'S' : 'c'}`);
  // Headers of other folders a program includes (`includes`: folder names).
  for (const other of GUESTS.find((g) => g.name === name)?.includes ?? [])
    for (const f of readdirSync(join(GUEST_DIR, other))
      .filter((x) => x.endsWith('.h'))
      .sort())
      shared.push(join(GUEST_DIR, other, f));
  if (GUESTS.find((g) => g.name === name)?.trampoline)
    return { own: [own], libc: shared.filter((f) => f.endsWith('.h')) };
  // Sources of other folders a program links (`extra`: paths under guest/).
  const extra = (GUESTS.find((g) => g.name === name)?.extra ?? []).map((f) => join(GUEST_DIR, f));
  return { own: [own, ...extra], libc: [...libc, ...shared] };
}

function inputHash(name, version) {
  const { own, libc } = sourcesOf(name);
  const h = createHash('sha256');
  const defines = GUESTS.find((g) => g.name === name)?.defines;
  h.update(JSON.stringify(defines ? { CFLAGS, version, defines } : { CFLAGS, version }));
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

// ---- SQLite ------------------------------------------------------------------------------
// The amalgamation (sqlite3.c, sqlite3.h) is the one better-sqlite3 ships in deps/sqlite3.
// `npm pack` fetches the package's tarball into build/sqlite/ (it is never installed: its
// native addon is not wanted) and tar takes the two files out of it. Nothing of SQLite is
// kept in the repository. The version is pinned, so every machine compiles the same SQLite;
// to move to another release change both fields (npm view better-sqlite3@12 dist.integrity).
export const SQLITE_PACKAGE = {
  name: 'better-sqlite3',
  version: '12.11.1', // SQLite 3.53.2
  integrity:
    'sha512-dq9AtApgg5PGFtBzPFSBl3HZQjHok5gaQCM6zh2Yk0aSmDCs1CbnVI8/HgASQkNKsWFpseIO9beg5xxpYhbIfA==',
};

// Our OS layer (guest/sqlite/libsqlite-os.c) in place of SQLite's, no threads, no extension
// loading or WAL (no dlopen, no shared memory), temporary tables and journals in memory, and
// memsys5 as the only allocator (ZERO_MALLOC: no malloc()/free(); the heap is given at run
// time). LONGDOUBLE_TYPE=double: the interpreter has no x87, and SQLites that use long double
// then keep to doubles (3.53 uses none either way; gcc emits SSE2 for doubles, and the test
// checks that no x87 instruction is left). OMIT_LOCALTIME: no localtime() here.
export const SQLITE_DEFINES = [
  '-DSQLITE_OS_OTHER=1',
  '-DSQLITE_THREADSAFE=0',
  '-DSQLITE_OMIT_LOAD_EXTENSION',
  '-DSQLITE_OMIT_WAL',
  '-DSQLITE_TEMP_STORE=3',
  '-DSQLITE_DEFAULT_MEMSTATUS=0',
  '-DSQLITE_ENABLE_MEMSYS5',
  '-DSQLITE_ZERO_MALLOC',
  '-DLONGDOUBLE_TYPE=double',
  '-DSQLITE_OMIT_LOCALTIME',
];
// The guests' flags less -Werror: a warning a newer gcc finds in SQLite's code is not ours to
// fix and should not stop the build (gcc 12 gives none).
const SQLITE_CFLAGS = [...CFLAGS.filter((f) => f !== '-Werror'), ...SQLITE_DEFINES];

const sha256 = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

/** Runs a command; resolves to { code, stdout, stderr } (code null if it could not start). */
function run(cmd, args, opts = {}) {
  return new Promise((done) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => done({ code: null, stdout, stderr: e.message }));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Moves a finished temporary file or folder into place; another process may have got
 *  there first with the same content, which is as good. */
function install(tmp, path) {
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!exists(path) && !isDir(path)) throw e;
  }
}

function isDir(path) {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** npm's summary of why `npm pack --json` failed. */
function npmError(r) {
  try {
    const e = JSON.parse(r.stdout).error;
    if (e?.summary) return e.summary;
  } catch {
    // not JSON: fall back to stderr
  }
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  return (lines.find((l) => /npm error (?!code|errno|syscall)/.test(l)) ?? lines[0] ?? '')
    .replace(/^npm error /, '')
    .trim();
}

/**
 * The amalgamation's folder (sqlite3.c and sqlite3.h), fetched and unpacked on first use.
 * Rejects with a message that says what to do when the package cannot be fetched.
 * `env` adds to npm's environment (tests point npm_config_registry elsewhere).
 */
export async function sqliteAmalgamation({
  cacheDir = SQLITE_CACHE_DIR,
  log = () => {},
  env,
} = {}) {
  const { name, version, integrity } = SQLITE_PACKAGE;
  const spec = `${name}@${version}`;
  const dir = join(cacheDir, `${name}-${version}`);
  if (exists(join(dir, 'sqlite3.c')) && exists(join(dir, 'sqlite3.h'))) return dir;
  mkdirSync(cacheDir, { recursive: true });
  const tgz = join(cacheDir, `${name}-${version}.tgz`);
  const integrityOf = (f) =>
    `sha512-${createHash('sha512').update(readFileSync(f)).digest('base64')}`;
  if (!exists(tgz) || integrityOf(tgz) !== integrity) {
    log(`guest: fetching SQLite's amalgamation: npm pack ${spec}`);
    const tmp = mkdtempSync(join(cacheDir, 'pack-'));
    try {
      const r = await run(
        'npm',
        ['pack', spec, '--json', '--ignore-scripts', '--pack-destination', tmp],
        { cwd: tmp, env: { ...process.env, ...env } },
      );
      if (r.code !== 0) {
        throw new Error(
          `cannot fetch SQLite: \`npm pack ${spec}\` ${r.code === null ? `could not run (${r.stderr})` : `failed: ${npmError(r)}`}.\n` +
            `The SQLite guest programs are built from the amalgamation in that npm package, ` +
            `fetched at build time. Check that the npm registry can be reached, or put ` +
            `${name}-${version}.tgz in ${cacheDir}.`,
        );
      }
      const got = join(tmp, `${name}-${version}.tgz`);
      if (!exists(got)) throw new Error(`npm pack ${spec} made no ${name}-${version}.tgz`);
      if (integrityOf(got) !== integrity) {
        throw new Error(`${spec}: the tarball's hash is not the pinned one (${integrity})`);
      }
      install(got, tgz);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const tmp = mkdtempSync(join(cacheDir, 'unpack-'));
  const inside = ['sqlite3.c', 'sqlite3.h'].map((f) => `package/deps/sqlite3/${f}`);
  const r = await run('tar', ['-xzf', tgz, '-C', tmp, ...inside]);
  if (r.code !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`cannot unpack ${inside.join(' and ')} from ${tgz}: ${r.stderr.trim()}`);
  }
  install(join(tmp, 'package', 'deps', 'sqlite3'), dir);
  rmSync(tmp, { recursive: true, force: true });
  return dir;
}

/** SQLite's version, as its header says (e.g. "3.53.2"). */
export function sqliteVersion(dir) {
  const m = /#define SQLITE_VERSION\s+"([^"]+)"/.exec(readFileSync(join(dir, 'sqlite3.h'), 'utf8'));
  return m ? m[1] : 'unknown';
}

/**
 * Where sqlite3.c compiled is cached: build/sqlite/sqlite3-<hash>.o, where the hash covers
 * the amalgamation, our libc headers (sqlite3.c includes string.h and math.h from there), the
 * flags and `gcc --version`. The hash is also part of each SQLite program's own.
 */
function sqliteObjectOf(dir, version) {
  const headers = readdirSync(LIBC_DIR)
    .filter((f) => f.endsWith('.h'))
    .sort()
    .map((f) => `\0${f}\0${readFileSync(join(LIBC_DIR, f), 'utf8')}`);
  const hash = sha256(
    JSON.stringify({ SQLITE_CFLAGS, version }),
    readFileSync(join(dir, 'sqlite3.c')),
    readFileSync(join(dir, 'sqlite3.h')),
    ...headers,
  );
  return { dir, hash, object: join(SQLITE_CACHE_DIR, `sqlite3-${hash.slice(0, 16)}.o`) };
}

/** Compiles sqlite3.c unless its object is cached; resolves to null or an error message. */
async function compileSqlite({ dir, object }, log) {
  if (exists(object)) return null;
  log(`guest: compiling SQLite ${sqliteVersion(dir)} (about 30 s)`);
  const started = Date.now();
  const tmp = `${object}.tmp-${process.pid}`;
  const args = [...SQLITE_CFLAGS, '-I', LIBC_DIR, '-c', '-o', tmp, join(dir, 'sqlite3.c')];
  const r = await run('gcc', args);
  if (r.code !== 0) {
    rmSync(tmp, { force: true });
    return `gcc could not compile ${join(dir, 'sqlite3.c')}:\n${r.stderr.trimEnd()}`;
  }
  install(tmp, object);
  // Objects of earlier inputs are of no further use.
  for (const f of readdirSync(SQLITE_CACHE_DIR))
    if (/^sqlite3-[0-9a-f]{16}\.o$/.test(f) && join(SQLITE_CACHE_DIR, f) !== object)
      rmSync(join(SQLITE_CACHE_DIR, f), { force: true });
  log(`guest: compiled SQLite in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return null;
}

/** Runs gcc for one program; resolves to null on success or to an error message. A SQLite
 *  program also gets the amalgamation's header folder and its compiled object. */
function compile(name, sqlite) {
  const { own, libc } = sourcesOf(name);
  const inputs = [...own, ...libc.filter((f) => /\.(c|S)$/.test(f))];
  const out = guestPath(name);
  // Unique temporary name, renamed into place: parallel test processes may build at once.
  const tmp = `${out}.tmp-${process.pid}`;
  const args = [...CFLAGS, '-I', LIBC_DIR, '-I', dirOf(name)];
  for (const other of GUESTS.find((g) => g.name === name)?.includes ?? [])
    args.push('-I', join(GUEST_DIR, other));
  // The trampoline is linked at the address the kernel maps it at in every process.
  if (GUESTS.find((g) => g.name === name)?.trampoline)
    args.push(`-Wl,-Ttext=${TRAMPOLINE_VA}`, '-Wl,-e,sb_call');
  for (const d of GUESTS.find((g) => g.name === name)?.defines ?? []) args.push(`-D${d}`);
  if (sqlite) args.push('-I', sqlite.dir);
  args.push('-o', tmp, ...inputs);
  if (sqlite) args.push(sqlite.object);
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
export async function buildGuests({ quiet = false, force = false, only = null } = {}) {
  const log = quiet ? () => {} : (s) => process.stderr.write(`${s}\n`);
  // `only`: the names to build (an experiment needing one program should not have to fetch
  // and compile SQLite); the manifest keeps every other program's entry.
  if (only) for (const n of only) guestPath(n);
  const GUESTS_ALL = GUESTS;
  const GUESTS_SEL = only ? GUESTS.filter((g) => only.includes(g.name)) : GUESTS;
  const version = gccVersion();
  mkdirSync(OUT_DIR, { recursive: true });
  const manifest = readManifest();
  // SQLite's amalgamation (fetched on first use) is an input of the programs that link it.
  let sqlite = null;
  let sqliteFailure = null;
  if (GUESTS_SEL.some((g) => g.sqlite)) {
    try {
      sqlite = sqliteObjectOf(await sqliteAmalgamation({ log }), version);
    } catch (e) {
      sqliteFailure = e.message;
    }
  }
  const hashes = new Map(
    GUESTS_SEL.map((g) => [
      g.name,
      g.sqlite
        ? sha256(inputHash(g.name, version), sqlite?.hash ?? 'no SQLite')
        : inputHash(g.name, version),
    ]),
  );
  const stale = GUESTS_SEL.map((g) => g.name).filter(
    (n) => force || manifest[n]?.hash !== hashes.get(n) || !exists(guestPath(n)),
  );
  if (stale.length === 0) {
    log(`guest: ${GUESTS_SEL.length} programs up to date in ${OUT_DIR}`);
    return;
  }
  const started = Date.now();
  const failures = [];
  const usesSqlite = (n) => GUESTS.find((g) => g.name === n)?.sqlite === true;
  // SQLite compiles (if it must) while the other programs build; its programs go last.
  const sqliteReady =
    sqlite && stale.some(usesSqlite) ? compileSqlite(sqlite, log) : Promise.resolve(null);
  const queue = stale.filter((n) => !usesSqlite(n));
  if (sqliteFailure) {
    const names = stale.filter(usesSqlite);
    failures.push(`guest programs ${names.join(', ')} cannot be built: ${sqliteFailure}`);
  } else {
    queue.push(...stale.filter(usesSqlite));
  }
  const worker = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      if (usesSqlite(n) && (await sqliteReady)) continue; // reported below, once
      const err = await compile(n, usesSqlite(n) ? sqlite : null);
      if (err) failures.push(`guest program "${n}" failed to build: ${err}`);
      else manifest[n] = { hash: hashes.get(n) };
    }
  };
  await Promise.all(Array.from({ length: Math.min(availableParallelism(), stale.length) }, worker));
  const sqliteError = await sqliteReady;
  if (sqliteError) failures.push(`SQLite failed to build: ${sqliteError}`);
  const sorted = Object.fromEntries(
    GUESTS_ALL.map((g) => g.name)
      .filter((n) => manifest[n])
      .map((n) => [n, manifest[n]]),
  );
  const tmp = `${MANIFEST}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(sorted, null, 2)}\n`);
  renameSync(tmp, MANIFEST);
  if (failures.length) throw new Error(failures.join('\n\n'));
  log(`guest: built ${stale.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const argv = process.argv.slice(2);
  const onlyAt = argv.indexOf('--only');
  const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? '').split(',').filter(Boolean) : null;
  const rest = onlyAt >= 0 ? argv.filter((_, i) => i !== onlyAt && i !== onlyAt + 1) : argv;
  const unknown = rest.filter((a) => a !== '--quiet' && a !== '--force');
  if (unknown.length || (only !== null && only.length === 0)) {
    process.stderr.write(
      `usage: node guest/build.mjs [--quiet] [--force] [--only NAME[,NAME...]]\n`,
    );
    process.exit(2);
  }
  buildGuests({ quiet: rest.includes('--quiet'), force: rest.includes('--force'), only }).catch(
    (e) => {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    },
  );
}
