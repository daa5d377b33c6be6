// The many-core SQLite scene of experiment multicore-sqlite: N client processes of
// guest/storage/ycsb-sqlite.c (built as mc-ycsb-sqlite: each its own database, a common
// start for the run phase, each operation timed), one client thread per core, all over one
// file-system server and one RAM-disk server (guest/storage/storage.c built as mc-storage:
// a ticket lock around each request when a server has several threads), connected in one
// of three ways (as multicore-stack.ts does for the echo server):
//   single    — natively, one FS thread and one RAM-disk thread, both on one core of their
//               own (core N): every client request crosses cores, the FS's requests to the
//               RAM disk do not; the FS thread tells clients apart by the badge (seL4) or the
//               gate label (Fiasco.OC) and serves each with its own shared buffer. Not on
//               Zircon (one thread waiting on many channels needs a port, as for echo);
//   per-core  — natively, on each client core i an FS thread i (client i's connection) and
//               a RAM-disk thread i (FS thread i's connection): same-core IPC only, the fair
//               native baseline; several FS threads share one file system, so each request
//               takes the FS's lock, and each RAM-disk request the RAM disk's;
//   skybridge — SkyBridge: every client's thread runs the FS handler, and within it the RAM
//               disk's, on its own core, under the same locks.
// With one client core no server has more than one thread, and no lock is taken.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import type { Fiasco } from '../kernel/fiasco/fiasco.ts';
import { Rights } from '../kernel/fiasco/objects.ts';
import { DEFAULT_QUANTUM, machineCodeBody } from '../kernel/machine-code.ts';
import type { Process } from '../kernel/process.ts';
import { Cap, RIGHT } from '../kernel/sel4/objects.ts';
import type { Sel4 } from '../kernel/sel4/sel4.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import type { Thread } from '../kernel/thread.ts';
import { pokeUser } from '../kernel/user-memory.ts';
import type { Zircon } from '../kernel/zircon/zircon.ts';
import { symbol } from './guest-image.ts';
import { bootKernel, type KernelName } from './kernels.ts';
import { setupsOn, type Setup } from './multicore-stack.ts';
import type { Workload } from './sqlite-ycsb.ts';
import { newSkyBridge } from './skybridge-setup.ts';
import { CHAN_WORDS, RPC, rpcScene } from './rpc-scene.ts';

/** Capability slots (seL4, Fiasco.OC): a client's call end, where a process parks, and from
 *  FIRST on two per serving thread (its onward call end, its receive end). */
const SLOT = { call: 1, park: 3, first: 8 } as const;
/** As the single-client stack (storage.ts): 2 GiB, so the base EPT maps the guest's GiB
 *  with one 1 GiB page; native connections' shared buffers at one address in both ends. */
const MEMORY_BYTES = 2 * 1024 ** 3;
const SHARED_BASE = 0x6000_0000_0000;
const SHARED_BYTES = 64 * 1024;
/** Cycles between the last core's clock when every client has loaded and the common start. */
const START_MARGIN = 2_000;
/** ycsb-sqlite.c's `out` words. */
const OUT = { step: 0, rc: 1, ops: 2, bad: 3, run: 5, fsRun: 7, count: 8 } as const;
const INSERT = 2; // YCSB_INSERT (guest/ycsb/ycsb.h)
const DONE = 100;
const MAX_CLIENTS = 16; // storage.c's MAX_THREADS

export interface McSqliteCase {
  kernel: KernelName;
  setup: Setup;
  /** Client cores (one client process with one thread on each). */
  cores: number;
  workload: Workload;
  /** Records each client loads and operations it runs. */
  records: number;
  operations: number;
  seed?: number;
  /** Cycles a core runs user code before another core may run (default: the kernel's
   *  DEFAULT_QUANTUM): how finely the cores' user code interleaves. */
  quantum?: number;
}

/** A server's lock over the run phase (all zero where it has one thread). */
export interface LockStats {
  /** Requests served under the lock. */
  taken: number;
  /** Of those, the ones that found it held, the PAUSE loops they spun and the cycles they
   *  waited, by their own RDTSC. */
  contended: number;
  spins: number;
  waitCycles: number;
}

export interface McSqliteRun {
  c: McSqliteCase;
  /** Each client's run-phase operations' cycles, client by client. */
  latencies: number[][];
  /** From the common start to the last client's last operation. */
  windowCycles: number;
  operations: number;
  opsPerSecond: number;
  /** Client → FS requests per operation, all clients. */
  fsRequestsPerOp: number;
  /** FS → RAM-disk requests per operation (from the moment the last client finished
   *  loading to the moment the last finished its run phase). */
  diskRequestsPerOp: number;
  fsLock: LockStats;
  ramdiskLock: LockStats;
  /** Over the same interval: IPIs sent, lines invalidated in other cores' caches by
   *  stores, and L1D misses, all cores, per operation. */
  ipisPerOp: number;
  invalidationsPerOp: number;
  l1dMissesPerOp: number;
  /** Every client's database passed PRAGMA integrity_check (the client checks it after its
   *  run) and holds this many records at the end (client by client). */
  rows: number[];
  /** Records each client should hold: those it loaded and inserted. */
  expectedRows: number[];
  badReads: number;
}

export function runMcSqlite(profile: CpuProfile, c: McSqliteCase): McSqliteRun {
  const { kernel, setup, cores } = c;
  if (!setupsOn(kernel).includes(setup))
    throw new RangeError(
      `multicore-sqlite: no ${setup} server on ${kernel} (one thread cannot wait for many channels without a port)`,
    );
  if (!Number.isInteger(cores) || cores < 1 || cores > MAX_CLIENTS)
    throw new RangeError(`multicore-sqlite: client cores ${cores}: 1 to ${MAX_CLIENTS}`);
  const m = new Machine({
    cores: setup === 'single' ? cores + 1 : cores,
    memoryBytes: MEMORY_BYTES,
    profile,
  });
  const sb = setup === 'skybridge' ? newSkyBridge() : null;
  const k = bootKernel(
    kernel,
    m,
    { kpti: false, pcid: true, rootkernel: { eptPages: '1g' } },
    sb ? [sb] : [],
  );
  const body = machineCodeBody(m, { quantum: c.quantum ?? DEFAULT_QUANTUM });
  const scene = rpcScene(m, k, kernel, SLOT.park, () => body);
  const { set, word, load, start, chan } = scene;
  let nextShared = 0;
  /** A buffer at one address in both processes, written into both ends. */
  const share = (a: Process, aEnd: string, ai: number, b: Process, bEnd: string, bi: number) => {
    const va = SHARED_BASE + nextShared++ * 2 * SHARED_BYTES;
    const gpa = k.frames.frames(SHARED_BYTES / 4096);
    for (const [p, end, i] of [
      [a, aEnd, ai],
      [b, bEnd, bi],
    ] as const) {
      p.space.map(va, gpa, SHARED_BYTES, { writable: true, noExec: true });
      set(p, end, i * CHAN_WORDS + 2, va);
      set(p, end, i * CHAN_WORDS + 3, SHARED_BYTES);
    }
  };

  const ramdisk = load('ramdisk', 'mc-storage');
  const fs = load('fs', 'mc-storage');
  const clients = Array.from({ length: cores }, (_, i) => load(`client${i}`, 'mc-ycsb-sqlite'));
  const threads: Thread[] = [];
  const many = cores > 1;
  if (sb !== null) {
    // The FS first becomes the RAM disk's client, then each client the FS's (the order
    // storage.ts keeps, so a chain's lists are made before its callers'). Enough stacks
    // for every client core at once.
    const stacks = Math.max(4, cores);
    const disk = sb.registerServer(ramdisk, {
      handler: symbol(scene.imageOf(ramdisk), many ? 'ramdisk_handler_mt' : 'ramdisk_handler'),
      maxConcurrent: stacks,
    });
    sb.registerClient(m.core(0), fs, disk, { bufferBytes: SHARED_BYTES });
    chan(fs, 'call', 0, RPC.skybridge, disk);
    const fsId = sb.registerServer(fs, {
      handler: symbol(scene.imageOf(fs), many ? 'fs_handler_mt' : 'fs_handler'),
      maxConcurrent: stacks,
    });
    for (const cl of clients) {
      sb.registerClient(m.core(0), cl, fsId, { bufferBytes: SHARED_BYTES });
      chan(cl, 'call', 0, RPC.skybridge, fsId);
    }
  } else {
    const net = nativeWiring(k, kernel, set, chan);
    if (setup === 'single') {
      // Both servers on core N; FS → RAM disk as in the single-client stack; client i →
      // the FS's one thread, with serves[i] (its buffer) chosen by badge or label i + 1.
      const diskThread = start(ramdisk, 'ramdisk_main', 0, cores, 101);
      const fsThread = start(fs, 'fs_main_many', cores, cores, 101);
      threads.push(diskThread, fsThread);
      const toDisk = net.receiver(ramdisk, 'serve', 0, SLOT.first + 1, diskThread);
      net.sender(toDisk, fs, 'call', 0, SLOT.first, 1);
      share(fs, 'call', 0, ramdisk, 'serve', 0);
      const toFs = net.receiver(fs, 'serves', 0, SLOT.first + 3, fsThread);
      clients.forEach((cl, i) => {
        net.sender(toFs, cl, 'call', 0, SLOT.call, i + 1);
        share(cl, 'call', 0, fs, 'serves', i);
      });
    } else {
      // On core i: RAM-disk thread i serving FS thread i, which serves client i. With one
      // core, the single-threaded entries (no lock) on `serve` and `call`.
      clients.forEach((cl, i) => {
        const [sEnd, cEnd, si] = many ? ['serves', 'calls', i] : ['serve', 'call', 0];
        const diskThread = start(ramdisk, many ? 'ramdisk_main_mt' : 'ramdisk_main', i, i, 101);
        const fsThread = start(fs, many ? 'fs_main_mt' : 'fs_main', i, i, 101);
        threads.push(diskThread, fsThread);
        const toDisk = net.receiver(ramdisk, sEnd, si, SLOT.first + 2 * i, diskThread);
        net.sender(toDisk, fs, cEnd, si, SLOT.first + 2 * i + 1, 1);
        share(fs, cEnd, si, ramdisk, sEnd, si);
        const toFs = net.receiver(fs, sEnd, si, SLOT.first + 2 * (i + MAX_CLIENTS), fsThread);
        net.sender(toFs, cl, 'call', 0, SLOT.call, 1);
        share(cl, 'call', 0, fs, sEnd, si);
      });
    }
  }
  clients.forEach((cl, i) => {
    [c.workload.charCodeAt(0), c.records, c.operations, (c.seed ?? 1) + i].forEach((v, j) =>
      set(cl, 'param', j, v),
    );
    setString(k, cl, symbol(scene.imageOf(cl), 'db_path'), `/ycsb${i}.db`);
    threads.push(start(cl, 'client_main', 0, i, 100));
  });

  const out = (cl: Process, i: number): number => word(cl, 'out', i);
  const stopped = (): Process | undefined =>
    clients.find((cl) => out(cl, OUT.step) !== 0 && out(cl, OUT.step) !== DONE);
  const fail = (cl: Process, what: string): Error =>
    new Error(
      `multicore-sqlite: ${cl.name} stopped ${what} at step ${out(cl, OUT.step)} (SQLite result ${out(cl, OUT.rc)})`,
    );
  // Every client loads its table; then one common start.
  const runUntil = (done: () => boolean, what: string): void => {
    while (!done()) {
      const s = stopped();
      if (s !== undefined) throw fail(s, what);
      if (k.run(1_000) < 1_000 && !done()) throw new Error(`multicore-sqlite: stalled ${what}`);
    }
  };
  runUntil(() => clients.every((cl) => word(cl, 'loaded') !== 0), 'loading');
  const startAt = Math.ceil(Math.max(...m.cores.map((x) => x.cycles))) + START_MARGIN;
  for (const cl of clients) set(cl, 'start_at', 0, startAt);
  const locks = (): LockStats[] =>
    [fs, ramdisk].map((p) => ({
      taken: word(p, 'lock_taken'),
      contended: word(p, 'lock_contended'),
      spins: word(p, 'lock_spins'),
      waitCycles: word(p, 'lock_wait_cycles'),
    }));
  const diskRequests = (): number => word(fs, 'fs_block_reads') + word(fs, 'fs_block_writes');
  const locks0 = locks();
  const disk0 = diskRequests();
  const before = m.snapshot();
  runUntil(() => clients.every((cl) => out(cl, OUT.run) !== 0), 'in the run phase');
  const during = m.snapshot().minus(before);
  const locks1 = locks();
  const disk1 = diskRequests();
  while (k.run(100_000) === 100_000);
  for (const cl of clients) if (out(cl, OUT.step) !== DONE) throw fail(cl, 'after its run');
  for (const t of threads)
    if (!t.alive) throw new Error(`multicore-sqlite: ${t.name} stopped: ${t.exitReason}`);

  clients.forEach((cl) => {
    const [rows, expected] = [word(cl, 'rows_at_end'), c.records + out(cl, OUT.count + INSERT)];
    if (rows !== expected)
      throw new Error(
        `multicore-sqlite: ${cl.name}'s database holds ${rows} records, not ${expected}`,
      );
    if (out(cl, OUT.bad) !== 0) throw new Error(`multicore-sqlite: ${cl.name} read wrong records`);
  });
  const ops = clients.map((cl) => out(cl, OUT.ops));
  const total = ops.reduce((a, b) => a + b, 0);
  const from = Math.min(...clients.map((cl) => word(cl, 'run_span', 0)));
  if (from < startAt) throw new Error('multicore-sqlite: a client started early');
  const to = Math.max(...clients.map((cl) => word(cl, 'run_span', 1)));
  const windowCycles = to - from;
  const diff = (i: number): LockStats => {
    const [a, b] = [locks0[i]!, locks1[i]!];
    return {
      taken: b.taken - a.taken,
      contended: b.contended - a.contended,
      spins: b.spins - a.spins,
      waitCycles: b.waitCycles - a.waitCycles,
    };
  };
  return {
    c,
    latencies: clients.map((cl, i) =>
      Array.from({ length: Math.min(ops[i]!, 4096) }, (_, j) => word(cl, 'lat', j)),
    ),
    windowCycles,
    operations: total,
    opsPerSecond: total / (windowCycles / (profile.frequencyGHz * 1e9)),
    fsRequestsPerOp: clients.reduce((n, cl) => n + out(cl, OUT.fsRun), 0) / total,
    fsLock: diff(0),
    ramdiskLock: diff(1),
    diskRequestsPerOp: (disk1 - disk0) / total,
    ipisPerOp: during.get('ipis.sent') / total,
    invalidationsPerOp: during.get('coherence.invalidations') / total,
    l1dMissesPerOp: during.get('l1d.miss') / total,
    rows: clients.map((cl) => word(cl, 'rows_at_end')),
    expectedRows: clients.map((cl) => c.records + out(cl, OUT.count + INSERT)),
    badReads: clients.reduce((n, cl) => n + out(cl, OUT.bad), 0),
  };
}

/** Where a server thread receives: an seL4 endpoint (its receive capability in the server),
 *  a Fiasco.OC thread gates will be bound to, or (Zircon) the server end to fill in. */
interface Receiver {
  server: Process;
  end: string;
  i: number;
  ep: number;
  thread: Thread;
  senders: number;
}

/** Native connections on `kernel`: a receiver per serving thread, a sender per client of
 *  it; `n` (1, 2, ...) is the badge (seL4) or, times 4, the gate label (Fiasco.OC) that
 *  tells rpc_serve_many which client is calling. */
function nativeWiring(
  k: Subkernel,
  kernel: KernelName,
  set: (p: Process, name: string, i: number, v: number) => void,
  chan: (p: Process, name: string, i: number, kind: number, target: number) => void,
) {
  const kind = RPC[kernel];
  return {
    receiver(server: Process, end: string, i: number, slot: number, thread: Thread): Receiver {
      let ep = 0;
      if (kernel === 'seL4') {
        const sel4 = k.personality as Sel4;
        ep = sel4.newEndpoint();
        sel4.mint(server, slot, Cap.endpoint(ep, 0, RIGHT.Receive));
        chan(server, end, i, kind, slot);
      } else if (kernel === 'Fiasco.OC') {
        chan(server, end, i, kind, 0); // the thread waits open (l4_ipc_wait)
      }
      return { server, end, i, ep, thread, senders: 0 };
    },
    sender(r: Receiver, client: Process, end: string, i: number, slot: number, n: number): void {
      r.senders++;
      switch (kernel) {
        case 'seL4': {
          const sel4 = k.personality as Sel4;
          sel4.mint(client, slot, Cap.endpoint(r.ep, n, RIGHT.Send | RIGHT.GrantReply));
          chan(client, end, i, kind, slot);
          break;
        }
        case 'Fiasco.OC': {
          const fiasco = k.personality as Fiasco;
          fiasco.putCap(client, slot, fiasco.newGate(r.thread, 4 * n), Rights.CW);
          chan(client, end, i, kind, slot);
          break;
        }
        case 'Zircon': {
          if (r.senders > 1) throw new Error('multicore-sqlite: a Zircon channel has two ends');
          const ch = (k.personality as Zircon).createChannel(client, r.server);
          chan(client, end, i, kind, ch.a);
          set(r.server, r.end, r.i * CHAN_WORDS, kind);
          set(r.server, r.end, r.i * CHAN_WORDS + 1, ch.b);
          break;
        }
      }
    },
  };
}

/** A NUL-terminated string into `p`'s memory at `la`. */
function setString(k: Subkernel, p: Process, la: number, s: string): void {
  pokeUser(k, { process: p }, la, new TextEncoder().encode(`${s}\0`));
}
