// One YCSB run of SQLite on the storage stack (guest/storage/ycsb-sqlite.c, the file-system
// and RAM-disk servers of guest/storage/storage.c), on one kernel with its own IPC or with
// SkyBridge. The run phase is measured from the client's own RDTSC stamps; what happened
// during it (per-owner cycles, misses, requests) is the difference of the machine's counters
// and the servers' request counts between the moments the client finishes its load phase
// and its run phase (the harness polls the client's memory after every kernel step, so each moment
// is known to within one scheduling quantum, 2,000 cycles, against runs of millions).

import { Mode, type CounterSnapshot } from '../hw/counters.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import type { KernelName } from './kernels.ts';
import { storageStack, type Platform, type Transport } from './storage.ts';

export type Workload = 'a' | 'b' | 'c' | 'd' | 'e' | 'f';
export const WORKLOADS: readonly Workload[] = ['a', 'b', 'c', 'd', 'e', 'f'];

export interface YcsbCase {
  kernel: KernelName;
  transport: Transport;
  workload: Workload;
  records: number;
  operations: number;
  seed?: number;
  /** What the kernel runs on (default: the Rootkernel with 1 GiB EPT pages). */
  platform?: Platform;
  /** Blocks the RAM disk offers (default: all 16,384). */
  diskBlocks?: number;
  /** Words written over the RAM disk's image before the file system mounts it
   *  (64-bit word index → value): a damaged disk. */
  damage?: ReadonlyMap<number, number>;
  /** A power failure: the RAM disk keeps no block written after this many; after the run
   *  the client restarts SQLite and the FS server on what the disk kept. */
  crashAfter?: number;
}

/** What a crash run found after the restart. */
export interface Restart {
  /** PRAGMA integrity_check said "ok". */
  intact: boolean;
  /** Records in the table afterwards. */
  rows: number;
  /** Block writes the disk lost. */
  lostWrites: number;
}

/** A run that did not finish: where the client stopped and why, as its memory says. */
export class YcsbError extends Error {
  constructor(
    message: string,
    /** ycsb-sqlite.c's step (20: an insert) and SQLite's result code (13: SQLITE_FULL). */
    readonly step: number,
    readonly rc: number,
    /** Why the file system refused to mount, if it did (its own words). */
    readonly fsError: string,
    /** After SQLITE_FULL: the records the database still holds, and its integrity check. */
    readonly rowsAfterFull: number,
    readonly intactAfterFull: boolean,
  ) {
    super(message);
  }
}

/** Where the run phase's cycles went, per operation. */
export interface Breakdown {
  /** The client's user mode: SQLite, the VFS, YCSB's generators. */
  client: number;
  fs: number;
  ramdisk: number;
  /** Kernel mode (system calls, IPC paths, interrupts), and the Rootkernel. */
  kernel: number;
}

export interface YcsbResult {
  operations: number;
  /** Run-phase cycles per operation (the client's RDTSC). */
  cyclesPerOp: number;
  /** Operations per simulated second at the profile's clock. */
  opsPerSecond: number;
  /** Client → file-system requests and file-system → RAM-disk requests per operation. */
  fsRequestsPerOp: number;
  diskRequestsPerOp: number;
  breakdown: Breakdown;
  /** Data-TLB and L1D misses per operation, all owners. */
  dtlbMissesPerOp: number;
  l1dMissesPerOp: number;
  /** Address translation in the run phase, per operation. */
  translation: Translation;
  /** From the client's first instruction to the end of the load phase (opening SQLite,
   *  mounting the file system, creating and filling the table, with every cache and TLB
   *  cold at the start), per record loaded. */
  startAndLoad: Translation & { cycles: number };
  /** Reads whose fields did not match what was written (must be 0). */
  badReads: number;
  /** Block writes the RAM disk took by the end of the load phase and over the whole run
   *  (to choose crash points inside the run phase). */
  diskWritesAtLoad: number;
  diskWrites: number;
  /** With crashAfter: what the restart found. */
  restart?: Restart;
}

/** What translating addresses cost, all owners, per operation (or per record). */
export interface Translation {
  /** Data and instruction-fetch translations that missed every TLB and walked. */
  dtlbMisses: number;
  itlbMisses: number;
  /** L1 TLB misses served by the STLB (no walk). */
  stlbHits: number;
  /** Page walks (two-dimensional under the Rootkernel), their memory references to guest
   *  paging entries and to EPT entries, and the cycles they took. */
  walks: number;
  walkRefsGuest: number;
  walkRefsEpt: number;
  walkCycles: number;
  /** VM exits (the Rootkernel's own entries; none on bare hardware). */
  vmExits: number;
}

function translation(d: CounterSnapshot, n: number): Translation {
  return {
    dtlbMisses: d.get('tlb.miss.data') / n,
    itlbMisses: d.get('tlb.miss.fetch') / n,
    stlbHits: d.get('stlb.hit') / n,
    walks: d.get('walk.count') / n,
    walkRefsGuest: d.get('walk.refs.guest') / n,
    walkRefsEpt: d.get('walk.refs.ept') / n,
    walkCycles: d.get('walk.cycles') / n,
    vmExits: d.get('vmexits') / n,
  };
}

/** The client's `out` words (ycsb-sqlite.c). */
const OUT = {
  step: 0,
  rc: 1,
  ops: 2,
  bad: 3,
  load: 4,
  run: 5,
  fsLoad: 6,
  fsRun: 7,
  /* after the 8 + 5 counts per operation type */
  fullRows: 13,
  fullOk: 14,
  restartOk: 15,
  restartRows: 16,
} as const;
const DONE = 100;

export function runYcsb(profile: CpuProfile, c: YcsbCase): YcsbResult {
  const s = storageStack({
    kernel: c.kernel,
    transport: c.transport,
    profile,
    ...(c.platform !== undefined && { platform: c.platform }),
  });
  s.add('ramdisk');
  s.add('fs');
  s.add('client', 'ycsb-sqlite');
  s.connect('fs', 'ramdisk', 'ramdisk_handler', 'ramdisk_main');
  s.connect('client', 'fs', 'fs_handler', 'fs_main');
  [c.workload.charCodeAt(0), c.records, c.operations, c.seed ?? 1].forEach((v, i) =>
    s.setWord('client', 'param', i, v),
  );
  if (c.diskBlocks !== undefined) s.setWord('ramdisk', 'disk_blocks', 0, c.diskBlocks);
  if (c.crashAfter !== undefined) {
    s.setWord('ramdisk', 'crash_after', 0, c.crashAfter);
    s.setWord('client', 'param', 4, 1);
  }
  for (const [i, v] of c.damage ?? []) s.setWord('ramdisk', 'disk', i, v);
  const atStart = s.m.snapshot();
  s.start('client', 'client_main', 0);
  const out = (i: number): number => s.word('client', 'out', i);
  const disk = (): number => s.word('fs', 'fs_block_reads') + s.word('fs', 'fs_block_writes');
  // Step until the load phase is over, then until the run phase is.
  const until = (word: number): boolean => {
    for (;;) {
      if (out(word) !== 0 || out(OUT.step) !== 0) return out(word) !== 0;
      if (s.k.run(1) < 1) return out(word) !== 0;
    }
  };
  const failure = (): YcsbError => {
    s.run(); // the client parks once it has said why
    const fsError = readString(s, 'fs', 'fs_error', 192);
    const [step, rc] = [out(OUT.step), out(OUT.rc)];
    return new YcsbError(
      `YCSB ${c.workload.toUpperCase()} on ${c.kernel} (${c.transport}): the client stopped at step ${step} (SQLite result ${rc})${fsError ? `; the file system: ${fsError}` : ''}`,
      step,
      rc,
      fsError,
      out(OUT.fullRows),
      out(OUT.fullOk) === 1,
    );
  };
  if (!until(OUT.load)) throw failure();
  const before = s.m.snapshot();
  const loaded = before.minus(atStart);
  const disk0 = disk();
  const writesAtLoad = s.word('ramdisk', 'disk_writes');
  if (!until(OUT.run)) throw failure();
  const during = s.m.snapshot().minus(before);
  const disk1 = disk();
  s.run();
  if (out(OUT.step) !== DONE) throw failure();
  const ops = out(OUT.ops);
  const owner = (name: string): number => s.m.owners.id(name);
  const user = (name: string): number =>
    during.get('cycles', { owner: owner(name), mode: Mode.User });
  const cycles = out(OUT.run);
  const b = { client: user('client'), fs: user('fs'), ramdisk: user('ramdisk') };
  return {
    operations: ops,
    cyclesPerOp: cycles / ops,
    opsPerSecond: (ops / cycles) * profile.frequencyGHz * 1e9,
    fsRequestsPerOp: out(OUT.fsRun) / ops,
    diskRequestsPerOp: (disk1 - disk0) / ops,
    breakdown: {
      client: b.client / ops,
      fs: b.fs / ops,
      ramdisk: b.ramdisk / ops,
      kernel:
        (during.get('cycles', { mode: Mode.Kernel }) +
          during.get('cycles', { mode: Mode.VmxRoot })) /
        ops,
    },
    dtlbMissesPerOp: during.get('tlb.miss.data') / ops,
    l1dMissesPerOp: during.get('l1d.miss') / ops,
    translation: translation(during, ops),
    startAndLoad: {
      cycles: loaded.get('cycles') / c.records,
      ...translation(loaded, c.records),
    },
    badReads: out(OUT.bad),
    diskWritesAtLoad: writesAtLoad,
    diskWrites: s.word('ramdisk', 'disk_writes'),
    ...(c.crashAfter !== undefined && {
      restart: {
        intact: out(OUT.restartOk) === 1,
        rows: out(OUT.restartRows),
        lostWrites: s.word('ramdisk', 'dropped_writes'),
      },
    }),
  };
}

/** A NUL-terminated string of `proc`'s memory at symbol `sym` (at most `max` bytes). */
function readString(
  s: ReturnType<typeof storageStack>,
  proc: string,
  sym: string,
  max: number,
): string {
  const bytes = s.bytes(proc, sym, max);
  const end = bytes.indexOf(0);
  return Buffer.from(end < 0 ? bytes : bytes.subarray(0, end)).toString('utf8');
}
