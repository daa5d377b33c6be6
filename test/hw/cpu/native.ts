// Host side of the CPU differential tests: runs x86-64 snippets natively (test/hw/cpu/native/
// runner.c, built with gcc on demand) and returns the architectural state afterwards, for
// comparison with the interpreter. Wire protocol: see the header of runner.c.
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CpuState {
  /** RAX RCX RDX RBX RSP RBP RSI RDI R8..R15, each 0..2^64-1. */
  gpr: bigint[];
  /** Only CF PF AF ZF SF DF OF (ARITH_FLAGS) are inputs and outputs. */
  rflags: number;
  /** XMM0..15 as [low 64 bits, high 64 bits]. */
  xmm: [bigint, bigint][];
  /** The data area: DATA_BYTES bytes at DATA_BASE. */
  mem: Uint8Array;
}
export interface NativeCase {
  code: Uint8Array;
  in: CpuState;
}
export type NativeSignal = 'SIGFPE' | 'SIGSEGV' | 'SIGILL' | 'SIGBUS' | 'SIGTRAP';
export type NativeResult =
  { kind: 'ok'; out: CpuState } | { kind: 'signal'; signal: NativeSignal; rip: bigint };

export const CODE_BASE = 0x7000_0000n;
/** The code page; a case's code may use all of it but the 14-byte exit jump. */
export const CODE_BYTES = 4096;
export const CODE_MAX = CODE_BYTES - 14;
export const DATA_BASE = 0x6000_0000n;
export const DATA_BYTES = 8192;
// The pages just below and above the code and data areas are mapped PROT_NONE (guards):
// an access there is SIGSEGV.

export const FLAG = {
  CF: 0x1,
  PF: 0x4,
  AF: 0x10,
  ZF: 0x40,
  SF: 0x80,
  DF: 0x400,
  OF: 0x800,
} as const;
export const ARITH_FLAGS = 0xcd5;
export const GPR_NAMES = [
  'rax',
  'rcx',
  'rdx',
  'rbx',
  'rsp',
  'rbp',
  'rsi',
  'rdi',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
] as const;

// Linux x86-64 signal numbers.
const SIGNALS: Record<number, NativeSignal> = {
  4: 'SIGILL',
  5: 'SIGTRAP',
  7: 'SIGBUS',
  8: 'SIGFPE',
  11: 'SIGSEGV',
};

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, 'native', 'runner.c');
const ROOT = resolve(here, '..', '..', '..');
const RUNNER = join(ROOT, 'build', 'test', 'native-cpu-runner');
const hex = (n: bigint | number): string => `0x${n.toString(16)}ull`;
const GCC_ARGS = [
  '-O2',
  '-Wall',
  '-Wextra',
  `-DCODE_BASE=${hex(CODE_BASE)}`,
  `-DDATA_BASE=${hex(DATA_BASE)}`,
  `-DDATA_BYTES=${DATA_BYTES}`,
  `-DCODE_BYTES=${CODE_BYTES}`,
];

/** Why native runs are impossible here (undefined when they are possible). */
export function nativeUnavailable(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `host is ${process.platform}/${process.arch}, not linux/x64`;
  const r = spawnSync('gcc', ['--version'], { stdio: 'ignore' });
  return r.status === 0 ? undefined : 'gcc not found';
}

let runnerReady: string | undefined;

/** Builds the runner if its source or flags changed (SHA-256 stamp beside the binary). */
export function runnerPath(): string {
  if (runnerReady) return runnerReady;
  const hash = createHash('sha256')
    .update(readFileSync(SOURCE))
    .update(GCC_ARGS.join('\0'))
    .digest('hex');
  const stamp = `${RUNNER}.sha256`;
  if (!existsSync(RUNNER) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== hash) {
    mkdirSync(dirname(RUNNER), { recursive: true });
    // Build beside, then rename: test files run in parallel processes.
    const tmp = `${RUNNER}.${process.pid}.tmp`;
    execFileSync('gcc', [...GCC_ARGS, '-o', tmp, SOURCE], { stdio: 'pipe' });
    renameSync(tmp, RUNNER);
    writeFileSync(`${stamp}.${process.pid}.tmp`, hash);
    renameSync(`${stamp}.${process.pid}.tmp`, stamp);
  }
  runnerReady = RUNNER;
  return RUNNER;
}

const U64 = (1n << 64n) - 1n;
const STATE_WORDS = 16 + 1 + 32;
const STATE_BYTES = 8 * STATE_WORDS;
/** Bytes of input per spawn; bounds memory for huge batches. */
const CHUNK_BYTES = 64 << 20;
const pad8 = (n: number): number => (n + 7) & ~7;

function checkState(s: CpuState): void {
  if (s.gpr.length !== 16 || s.xmm.length !== 16)
    throw new RangeError('CpuState needs 16 gpr and 16 xmm');
  if (s.mem.length !== DATA_BYTES) throw new RangeError(`CpuState.mem must be ${DATA_BYTES} bytes`);
  const bad = (v: bigint): boolean => v < 0n || v > U64;
  if (s.gpr.some(bad) || s.xmm.some(([lo, hi]) => bad(lo) || bad(hi))) {
    throw new RangeError('register value outside 0..2^64-1');
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

interface Encoded {
  bytes: Uint8Array;
  /** Offset in bytes of each case's input data area (the last one sent, if shared). */
  memAt: number[];
}

function encode(cases: NativeCase[]): Encoded {
  let size = 0;
  let prevMem: Uint8Array | undefined;
  const same: boolean[] = [];
  for (const c of cases) {
    if (c.code.length > CODE_MAX) throw new RangeError(`code longer than ${CODE_MAX} bytes`);
    checkState(c.in);
    const s = prevMem !== undefined && sameBytes(prevMem, c.in.mem);
    same.push(s);
    prevMem = c.in.mem;
    size += 8 + STATE_BYTES + pad8(c.code.length) + (s ? 0 : DATA_BYTES);
  }
  const bytes = new Uint8Array(size);
  const words = new BigUint64Array(bytes.buffer);
  const u32 = new Uint32Array(bytes.buffer);
  const memAt: number[] = [];
  let o = 0; // in bytes, always a multiple of 8
  cases.forEach((c, i) => {
    u32[o >> 2] = same[i] ? 1 : 0;
    u32[(o >> 2) + 1] = c.code.length;
    let w = (o >> 3) + 1;
    for (const v of c.in.gpr) words[w++] = v;
    words[w++] = BigInt(c.in.rflags & ARITH_FLAGS);
    for (const [lo, hi] of c.in.xmm) {
      words[w++] = lo;
      words[w++] = hi;
    }
    o = w * 8;
    bytes.set(c.code, o);
    o += pad8(c.code.length);
    if (!same[i]) {
      bytes.set(c.in.mem, o);
      o += DATA_BYTES;
    }
    memAt.push(same[i] ? memAt[i - 1] : o - DATA_BYTES);
  });
  return { bytes, memAt };
}

// The output data area is built on first read, from the runner's changed runs over the copy of
// the input sent to it (not c.in.mem, which the caller may since have changed): most callers
// read few of them, and 100 000 eager 8 KiB copies cost seconds of GC. Once read (or assigned)
// it is a plain data property.
function lazyMem(
  state: Omit<CpuState, 'mem'>,
  input: Uint8Array,
  runs: [number, Uint8Array][],
): CpuState {
  const settle = (obj: object, value: Uint8Array): Uint8Array => {
    Object.defineProperty(obj, 'mem', {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
    return value;
  };
  return Object.defineProperty(state, 'mem', {
    enumerable: true,
    configurable: true,
    get(this: object): Uint8Array {
      const mem = input.slice();
      for (const [at, bytes] of runs) mem.set(bytes, at);
      return settle(this, mem);
    },
    set(this: object, value: Uint8Array) {
      settle(this, value);
    },
  }) as CpuState;
}

function decode(out: Buffer, cases: NativeCase[], sent: Encoded): NativeResult[] {
  // Aligned copy when the Buffer is a view at an odd offset.
  const bytes =
    out.byteOffset % 8 === 0
      ? new Uint8Array(out.buffer, out.byteOffset, out.length)
      : new Uint8Array(out);
  const words = new BigUint64Array(bytes.buffer, bytes.byteOffset, bytes.length >> 3);
  const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
  const results: NativeResult[] = [];
  let w = 0; // in words
  cases.forEach((_c, i) => {
    if (w >= words.length) throw new Error('native runner: output ended early');
    const kind = Number(words[w++]);
    if (kind !== 0) {
      const signal = SIGNALS[kind];
      if (!signal) throw new Error(`native runner: unexpected signal ${kind}`);
      results.push({ kind: 'signal', signal, rip: words[w++] });
      return;
    }
    const gpr: bigint[] = new Array<bigint>(16);
    for (let r = 0; r < 16; r++) gpr[r] = words[w++];
    const rflags = Number(words[w++]);
    const xmm: [bigint, bigint][] = new Array<[bigint, bigint]>(16);
    for (let r = 0; r < 16; r++, w += 2) xmm[r] = [words[w], words[w + 1]];
    const runs: [number, Uint8Array][] = [];
    for (;;) {
      const at = u32[w * 2];
      const len = u32[w * 2 + 1];
      w++;
      if (len === 0) break;
      runs.push([at, bytes.subarray(w * 8, w * 8 + len)]);
      w += pad8(len) >> 3;
    }
    const input = sent.bytes.subarray(sent.memAt[i], sent.memAt[i] + DATA_BYTES);
    results.push({ kind: 'ok', out: lazyMem({ gpr, rflags, xmm }, input, runs) });
  });
  if (w !== words.length) throw new Error('native runner: trailing output');
  return results;
}

/**
 * Runs every case on the host CPU, in order, in as few spawns of the runner as memory allows.
 * Each out.mem is computed on first read (then kept); it is a fresh array owned by the caller.
 */
export function runNative(cases: NativeCase[]): NativeResult[] {
  const exe = runnerPath();
  const results: NativeResult[] = [];
  for (let start = 0; start < cases.length;) {
    let end = start;
    let bytes = 0;
    while (end < cases.length && (end === start || bytes < CHUNK_BYTES)) {
      bytes += 8 + STATE_BYTES + DATA_BYTES + cases[end].code.length;
      end++;
    }
    const chunk = cases.slice(start, end);
    const sent = encode(chunk);
    const r = spawnSync(exe, [], { input: sent.bytes, maxBuffer: 1 << 30, timeout: 120_000 });
    if (r.error) throw r.error;
    if (r.status !== 0) {
      throw new Error(
        `native runner failed (status ${r.status}, signal ${r.signal}): ${r.stderr.toString()}`,
      );
    }
    for (const x of decode(r.stdout, chunk, sent)) results.push(x);
    start = end;
  }
  return results;
}

/** A state with every register zero, no flags and a zeroed data area (for hand-made cases). */
export function zeroState(): CpuState {
  return {
    gpr: new Array<bigint>(16).fill(0n),
    rflags: 0,
    xmm: Array.from({ length: 16 }, (): [bigint, bigint] => [0n, 0n]),
    mem: new Uint8Array(DATA_BYTES),
  };
}
