// Experiment "multicore-sqlite": YCSB on SQLite from 1, 2 and 4 client cores at once, one
// client process with one thread on each core, each its own database in the one file
// system, over the shared FS server and RAM-disk server (the scene: multicore-sqlite-stack.ts;
// machine code: guest/storage/{storage,ycsb-sqlite}.c built as mc-storage and
// mc-ycsb-sqlite). Three servers, as experiment multicore has for its echo server: one
// native FS thread and one RAM-disk thread on a core of their own, a native FS thread and
// RAM-disk thread on each client core (the fair baseline), and SkyBridge. A separate
// experiment from `multicore` (whose rows are calls of an echo server): its cases take
// seconds each where an echo case takes milliseconds, and its rows have their own metrics
// (operations, lock contention).

import type { CpuProfile } from '../hw/profile-schema.ts';
import { experimentInfo } from './catalog.ts';
import {
  row,
  type Experiment,
  type ExperimentResult,
  type ResultRow,
  type RowSpec,
  type RunContext,
} from './experiment.ts';
import type { KernelName } from './kernels.ts';
import { runMcSqlite, type McSqliteRun } from './multicore-sqlite-stack.ts';
import { setupsOn, type Setup } from './multicore-stack.ts';
import { percentile } from './temporal.ts';

/** The kernels of the full run (--quick: seL4 only). Each case runs every client's SQLite
 *  and both servers instruction by instruction. */
const KERNELS: readonly KernelName[] = ['seL4', 'Fiasco.OC', 'Zircon'];
export const SQLITE_CORES = [1, 2, 4] as const;
const RECORDS = 20;
const OPERATIONS = 10;
/** --quick: two client cores, a few operations each. */
const QUICK = { cores: [2], records: 10, operations: 4 } as const;

const SAY: Record<Setup, string> = {
  single: 'native, one FS thread and one RAM-disk thread on a core of their own',
  'per-core': 'native, an FS thread and a RAM-disk thread on each client core',
  skybridge: 'SkyBridge',
};

const params = (kernel: KernelName, setup: Setup, cores: number) =>
  setup === 'skybridge'
    ? ({ kernel, mechanism: 'skybridge', cores, workload: 'a' } as const)
    : ({
        kernel,
        mechanism: 'native',
        cores,
        serverThreads: setup,
        workload: 'a',
      } as const);

export interface McSqlitePoint {
  run: McSqliteRun;
  p50: number;
  p99: number;
}

export function sqlitePoint(
  profile: CpuProfile,
  kernel: KernelName,
  setup: Setup,
  cores: number,
  records: number,
  operations: number,
): McSqlitePoint {
  const run = runMcSqlite(profile, {
    kernel,
    setup,
    cores,
    workload: 'a',
    records,
    operations,
  });
  const all = run.latencies.flat();
  return { run, p50: percentile(all, 50), p99: percentile(all, 99) };
}

function run(ctx: RunContext): ExperimentResult {
  const cores = ctx.quick ? QUICK.cores : SQLITE_CORES;
  const records = ctx.quick ? QUICK.records : RECORDS;
  const operations = ctx.quick ? QUICK.operations : OPERATIONS;
  const kernels = ctx.quick ? (['seL4'] as const) : KERNELS;
  const rows: ResultRow[] = [];
  const add = (spec: RowSpec) => rows.push(row('multicore-sqlite', spec));
  const at = new Map<string, McSqlitePoint>();
  const get = (setup: Setup, n: number, kernel: KernelName = 'seL4') =>
    at.get(`${kernel}/${setup}/${n}`)!;
  const total = kernels.reduce((t, k) => t + cores.length * setupsOn(k).length, 0);
  let done = 0;
  for (const kernel of kernels) {
    const setups = setupsOn(kernel);
    for (const n of cores) {
      for (const setup of setups) {
        const p = sqlitePoint(ctx.profile, kernel, setup, n, records, operations);
        at.set(`${kernel}/${setup}/${n}`, p);
        const r = p.run;
        const base = { params: params(kernel, setup, n) };
        add({
          ...base,
          metric: 'ops-per-second',
          measurement: `${kernel}: YCSB A operations per second of simulated time, ${n} client core(s) together; ${SAY[setup]}`,
          value: Math.round(r.opsPerSecond),
          unit: 'ops/s',
          note: `${r.operations} operations in ${r.windowCycles.toLocaleString('en-US')} cycles; per operation ${r.fsRequestsPerOp.toFixed(1)} FS and ${r.diskRequestsPerOp.toFixed(1)} RAM-disk requests, ${r.ipisPerOp.toFixed(1)} IPIs, ${r.invalidationsPerOp.toFixed(0)} coherence invalidations, ${r.l1dMissesPerOp.toFixed(0)} L1D misses`,
        });
        for (const [metric, value] of [
          ['p50', p.p50],
          ['p99', p.p99],
        ] as const)
          add({
            ...base,
            metric,
            measurement: `${kernel}: one YCSB A operation's latency, ${metric === 'p50' ? 'median' : '99th percentile'} over all clients; ${SAY[setup]}`,
            value,
            unit: 'cycles',
          });
        if (setup !== 'single' && n > 1)
          for (const [component, lock] of [
            ['fs', r.fsLock],
            ['ramdisk', r.ramdiskLock],
          ] as const)
            add({
              ...base,
              group: 'lock',
              metric: 'cycles-per-op',
              measurement: `${kernel}: cycles spent waiting for the ${component === 'fs' ? 'FS' : 'RAM disk'}'s lock per operation, ${n} client cores; ${SAY[setup]}`,
              params: { ...params(kernel, setup, n), component },
              value: lock.waitCycles / r.operations,
              unit: 'cycles',
              note: `${lock.taken} requests took it, ${lock.contended} found it held (${((100 * lock.contended) / Math.max(1, lock.taken)).toFixed(0)} %), ${(lock.spins / r.operations).toFixed(0)} PAUSE loops per operation`,
            });
        ctx.progress?.(++done, total);
      }
      const sb = get('skybridge', n, kernel);
      for (const against of setups.filter((x) => x !== 'skybridge')) {
        add({
          group: 'speedup',
          metric: 'speedup',
          measurement: `${kernel}: SkyBridge's YCSB A throughput over the native servers' (${SAY[against]}), ${n} client core(s)`,
          params: { ...params(kernel, 'skybridge', n), serverThreads: against },
          value: sb.run.opsPerSecond / get(against, n, kernel).run.opsPerSecond,
          unit: '× faster',
        });
      }
    }
  }
  const lo = cores[0]!;
  const hi = cores[cores.length - 1]!;
  const kops = (s: Setup, n: number) => (get(s, n).run.opsPerSecond / 1e3).toFixed(1);
  const wait = (s: Setup, n: number) => {
    const r = get(s, n).run;
    return `${Math.round(r.fsLock.waitCycles / r.operations).toLocaleString('en-US')}`;
  };
  const l1d = (s: Setup, n: number) => get(s, n).run.l1dMissesPerOp.toFixed(0);
  const ramdiskQuiet = [...at.values()].every((p) => p.run.ramdiskLock.contended === 0);
  const ipis = (n: number) => get('single', n).run.ipisPerOp.toFixed(1);
  const scaling = (['single', 'per-core', 'skybridge'] as const)
    .map((s) => `${s} ${cores.map((n) => kops(s, n)).join(' → ')}`)
    .join('; ');
  /** Per other kernel: SkyBridge over the per-core baseline at each core count. */
  const others = kernels
    .filter((k) => k !== 'seL4')
    .map(
      (k) =>
        `${k} ${cores.map((n) => (get('skybridge', n, k).run.opsPerSecond / get('per-core', n, k).run.opsPerSecond).toFixed(2)).join(' / ')}×`,
    );
  return {
    id: 'multicore-sqlite',
    title: multicoreSqlite.title,
    rows,
    notes: [
      `${kernels.join(', ')}${ctx.quick ? ' (--quick: seL4 only)' : ''}; the figures in these notes are seL4's unless a kernel is named. YCSB A, ${records} records and ${operations} operations per client, a client process with one thread on each of ${cores.join(', ')} client core(s); each client has its own database file in the one file system (SQLite allows one writer per database: clients sharing one would queue in SQLite's own lock), its own seed, and starts its run phase at the same cycle as the others once all have loaded. Throughput is all clients' operations over the simulated time from the common start to the last client's last operation; latency is each operation's guest RDTSC (end of the previous to end of this one). Every client's database passed PRAGMA integrity_check with every record afterwards.${ctx.quick ? ` --quick: ${cores.join(', ')} client cores, ${records} records and ${operations} operations per client.` : ''}`,
      `single: one FS thread and one RAM-disk thread on a core of their own (the machine has one core more); every client request crosses cores (${ipis(lo)} IPIs per operation with ${lo} client core(s), ${ipis(hi)} with ${hi}), the FS's requests to the RAM disk stay on the server core; the FS thread tells clients apart by their badge and serves each through its own shared buffer. per-core: on each client core an FS thread and a RAM-disk thread, client i → FS thread i → RAM-disk thread i, same-core IPC only: the fair native baseline. SkyBridge: every client's thread runs the FS handler, and the RAM disk's inside it, on its own core. No single-server case on Zircon (one thread cannot wait on many channels without a port); on Fiasco.OC the single FS thread tells clients apart by their gates' labels.`,
      `With more than one serving thread (per-core and SkyBridge, 2 or more cores) each server takes a ticket lock around each request (guest/storage/storage.c; LOCK XADD, then PAUSE until served). The FS's buffer cache, log, inodes and open files are one state under it, and a request holds it across its requests to the RAM disk, so the whole file system serves one request at a time whichever threads run it: this is what a server of this design (xv6's file system with one lock, one shared log) pays, natively and under SkyBridge alike. ${ramdiskQuiet ? "The RAM disk's lock is then never contended (only the FS, one request at a time, calls it). " : ''}Cycles waiting for the FS lock per operation: per-core ${wait('per-core', hi)}, SkyBridge ${wait('skybridge', hi)} with ${hi} cores. The interpreter charges PAUSE 140 cycles and LOCK XADD 8 (insn.pause, insn.locked); the waiting cycles, from each waiter's RDTSC, are the measure.`,
      `Throughput (k ops/s, ${cores.join(' → ')} client cores): ${scaling}. The FS lock makes the servers' work per operation (most of an operation's cycles) serial, so no configuration scales with the cores${cores.length > 1 ? `; more cores also move the FS's data between cores' caches (L1D misses per operation ${l1d('skybridge', lo)} → ${l1d('skybridge', hi)} under SkyBridge, ${l1d('per-core', lo)} → ${l1d('per-core', hi)} per-core), which lengthens the serial part` : ''}. SkyBridge's advantage is what it removes from each request's path (the kernel's IPC), not parallelism. A finer-grained file system (a lock per buffer and per inode, as Linux's, and a log that lets several requests' transactions run and commit together, as xv6's own log does with its count of outstanding operations) would let requests on different files, here different clients' databases, proceed together: then per-core servers and SkyBridge would scale with the cores up to the RAM disk's and the log's own serial parts, and SkyBridge, whose handlers already run on every caller's core with no kernel between, would keep its per-request advantage at every core count.${others.length > 0 ? ` SkyBridge over the per-core baseline at ${cores.join(', ')} client cores on the other kernels: ${others.join('; ')} (the same serial FS under a lock, with each kernel's IPC removed from each request).` : ''}`,
    ],
  };
}

export const multicoreSqlite: Experiment = { ...experimentInfo('multicore-sqlite'), run };
