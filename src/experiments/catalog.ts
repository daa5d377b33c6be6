// The experiments `skybridge reproduce` runs, by id, title and description only: what
// `skybridge list` and the CLI's argument checks need, without loading the simulator.
// registry.ts has the experiments themselves, in the same order; an experiment added there
// goes here too (test/experiments/catalog.test.ts fails until it does).

export interface ExperimentInfo {
  id: string;
  title: string;
  description: string;
}

export const CATALOG = [
  {
    id: 'primitives',
    title: 'Hardware primitives',
    description:
      'VMFUNC, MOV CR3 (flush / no-flush), no-op system call with and without KPTI, VM exit+entry, TLB-miss walks',
  },
  {
    id: 'ipc',
    title: 'IPC latency',
    description:
      "the three kernels' native IPC against SkyBridge in each; sel4bench's cases on seL4 (call, reply, round trip; same/different AS; 0/10 words; KPTI; PCID; cross-core); SkyBridge's message sizes, breakdown and chain",
  },
  {
    id: 'indirect',
    title: 'Indirect cost of IPC',
    description:
      'a user loop with a working set of 0 B to 1 MiB between IPCs: extra misses per IPC, by structure and by evictor',
  },
  {
    id: 'sensitivity',
    title: 'Sensitivity: SkyBridge speed-up per kernel with one profile parameter at ±25 %',
    description:
      'each calibrated parameter and the main per-instruction cost classes, scaled by 0.75 and 1.25; the ratio native round trip / SkyBridge round trip, rerun on the changed profile',
  },
  {
    id: 'sqlite',
    title:
      'SQLite with YCSB A–F over a file-system server and a RAM-disk server, natively and with SkyBridge',
    description:
      'SQLite (the amalgamation, gcc) on our VFS; client → xv6-style FS server → RAM-disk server; each kernel’s own IPC against SkyBridge; throughput, improvement, requests and cycles per operation',
  },
  {
    id: 'rootkernel-price',
    title:
      'The Rootkernel’s own price: YCSB on bare hardware and under 1 GiB, 2 MiB and 4 KiB EPT pages',
    description:
      'SQLite with YCSB A over the FS and RAM-disk servers with each kernel’s own IPC (no SkyBridge), the kernel on bare hardware or on the Rootkernel; throughput, page walks and their guest and EPT references, TLB misses and VM exits per operation',
  },
  {
    id: 'temporal',
    title: 'Temporal isolation: whose time a SkyBridge call uses',
    description:
      "a handler's time charged to its client's slice; a fast client beside slow ones (stacks exhausted: Busy); a timer tick inside a handler; the server's budget ending calls",
  },
  {
    id: 'mitigations',
    title:
      'Meltdown, Spectre v2, L1TF and MDS mitigations: their cost on each kernel’s IPC and on SkyBridge’s path',
    description:
      'KPTI, IBPB, RSB fill, IBRS, VERW and the L1D flush at the sites each kernel uses them, one at a time and as each kernel ships them; SkyBridge with trampolines that fill the RSB and clear CPU buffers on each VMFUNC switch; the L1D flush on a VM exit',
  },
  {
    id: 'multicore',
    title: 'Many cores: an echo server under 1–8 client cores, natively and with SkyBridge',
    description:
      'seL4, Fiasco.OC and Zircon, one client thread per core; a single-threaded native server on its own core (cross-core IPC with IPIs; not on Zircon), a native server thread per core (the fair baseline), and SkyBridge; throughput and latency (p50, p99) against cores',
  },
  {
    id: 'multicore-sqlite',
    title: 'Many cores: YCSB on SQLite from 1–4 client cores over one FS and RAM-disk server',
    description:
      'seL4, Fiasco.OC and Zircon (--quick: seL4), one SQLite client per core, each its own database in the one file system; one native FS and RAM-disk thread on a core of their own, a server thread per client core (the fair baseline), and SkyBridge; a lock in each server; throughput, latency (p50, p99) and lock waiting against cores',
  },
  {
    id: 'eptp-scale',
    title: 'EPTP lists past 511: a client bound to more servers than its list holds',
    description:
      'seL4 with dynamic EPTP lists (511 resident, LRU refill on a VMFUNC exit); cost per call, p99 and miss rate against the servers a client touches (1–1,023), uniform and Zipfian',
  },
  {
    id: 'worst-cases',
    title: 'SkyBridge’s worst cases',
    description:
      'the first call after a context switch with and without PCID and VPID; TLB thrash across many EPT views and many clients; chains of depth 1–8; every server stack busy',
  },
] as const satisfies readonly ExperimentInfo[];

export type ExperimentId = (typeof CATALOG)[number]['id'];

/** The catalog entry of `id`. */
export function experimentInfo(id: ExperimentId): ExperimentInfo {
  return CATALOG.find((e) => e.id === id)!;
}

export function isExperimentId(id: string): id is ExperimentId {
  return CATALOG.some((e) => e.id === id);
}
