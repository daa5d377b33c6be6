// Experiment "multicore": an echo server under 1, 2, 4 and 8 client cores, one client thread
// per core, on seL4, Fiasco.OC and Zircon (machine code: guest/storage/mc-echo.c; the scene:
// multicore-stack.ts). Three servers: a single-threaded native server on a core of its own
// (every call crosses cores, with an IPI each way, and one thread serves every client in
// turn; not on Zircon, whose one thread cannot wait for many channels without a port), a
// native server thread on each client's core (same-core IPC, nothing shared but the kernel's
// own data: the fair native baseline), and SkyBridge (each client runs the handler on its own
// core). Throughput is all clients' calls over the simulated time from the common start to
// the last client's end; latencies are each call's guest RDTSC.

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
import { KERNELS, type KernelName } from './kernels.ts';
import { runEcho, setupsOn, type EchoRun, type Setup } from './multicore-stack.ts';
import { percentile } from './temporal.ts';

export const CORES = [1, 2, 4, 8] as const;
const CALLS = 200;
/** --quick: one small case of each kind (every kernel and server, two client cores). */
const QUICK_CORES = [2] as const;
const QUICK_CALLS = 40;

const SAY: Record<Setup, string> = {
  single: 'native, one server thread on a core of its own',
  'per-core': 'native, a server thread on each client core',
  skybridge: 'SkyBridge',
};

const params = (kernel: KernelName, setup: Setup, cores: number) =>
  setup === 'skybridge'
    ? ({ kernel, mechanism: 'skybridge', cores } as const)
    : ({ kernel, mechanism: 'native', cores, serverThreads: setup } as const);

export interface MulticorePoint {
  run: EchoRun;
  p50: number;
  p99: number;
}

export function point(
  profile: CpuProfile,
  setup: Setup,
  cores: number,
  calls: number,
  kernel: KernelName = 'seL4',
): MulticorePoint {
  const run = runEcho(profile, setup, cores, calls, 10, kernel);
  const all = run.latencies.flat();
  return { run, p50: percentile(all, 50), p99: percentile(all, 99) };
}

function run(ctx: RunContext): ExperimentResult {
  const cores = ctx.quick ? QUICK_CORES : CORES;
  const calls = ctx.quick ? QUICK_CALLS : CALLS;
  const rows: ResultRow[] = [];
  const add = (spec: RowSpec) => rows.push(row('multicore', spec));
  const total = cores.length * KERNELS.reduce((n, k) => n + setupsOn(k).length, 0);
  let done = 0;
  const at = new Map<string, MulticorePoint>();
  const get = (kernel: KernelName, setup: Setup, n: number) => at.get(`${kernel}/${setup}/${n}`)!;
  for (const kernel of KERNELS) {
    for (const n of cores) {
      for (const setup of setupsOn(kernel)) {
        const p = point(ctx.profile, setup, n, calls, kernel);
        at.set(`${kernel}/${setup}/${n}`, p);
        const base = { params: params(kernel, setup, n) };
        add({
          ...base,
          metric: 'ops-per-second',
          measurement: `${kernel}: echo calls per second of simulated time, ${n} client core(s) together; ${SAY[setup]}`,
          value: Math.round(p.run.callsPerSecond),
          unit: 'calls/s',
          note: `${p.run.calls} measured calls in ${p.run.windowCycles.toLocaleString('en-US')} cycles; ${p.run.ipisPerCall.toFixed(2)} IPIs and ${p.run.invalidationsPerCall.toFixed(1)} coherence invalidations per call`,
        });
        for (const [metric, value] of [
          ['p50', p.p50],
          ['p99', p.p99],
        ] as const)
          add({
            ...base,
            metric,
            measurement: `${kernel}: one echo call's latency, ${metric === 'p50' ? 'median' : '99th percentile'} over all clients; ${SAY[setup]}`,
            value,
            unit: 'cycles',
          });
        ctx.progress?.(++done, total);
      }
      const sb = get(kernel, 'skybridge', n);
      for (const against of setupsOn(kernel).filter((x) => x !== 'skybridge')) {
        const nat = get(kernel, against, n);
        add({
          group: 'speedup',
          metric: 'speedup',
          measurement: `${kernel}: SkyBridge's throughput over the native server's (${SAY[against]}), ${n} client core(s)`,
          params: { ...params(kernel, 'skybridge', n), serverThreads: against },
          value: sb.run.callsPerSecond / nat.run.callsPerSecond,
          unit: '× faster',
        });
      }
    }
  }
  const ipis = (k: KernelName, setup: Setup, n: number) =>
    get(k, setup, n).run.ipisPerCall.toFixed(2);
  const inval = (k: KernelName, n: number) =>
    get(k, 'per-core', n).run.invalidationsPerCall.toFixed(1);
  const mcalls = (x: number) => (x / 1e6).toFixed(2);
  const speedups = (k: KernelName) => {
    const xs = cores.map(
      (n) => get(k, 'skybridge', n).run.callsPerSecond / get(k, 'per-core', n).run.callsPerSecond,
    );
    return `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}×`;
  };
  const lo = cores[0];
  const hi = cores[cores.length - 1]!;
  const peak = (k: KernelName) =>
    mcalls(Math.max(...cores.map((n) => get(k, 'single', n).run.callsPerSecond)));
  return {
    id: 'multicore',
    title: multicore.title,
    rows,
    notes: [
      `seL4, Fiasco.OC and Zircon, an echo server (one word back), one client process with one thread on each client core; ${calls} measured calls per client after 10 warm-up calls, all clients starting at the same cycle; latency is each call's guest RDTSC (its two stamps included), throughput all clients' calls over the simulated time from the common start to the last client's end.${ctx.quick ? ` --quick: ${cores.join(' and ')} client cores only, ${calls} calls.` : ''}`,
      `single: the native server is one thread on a core of its own (the machine has one core more): seL4, one endpoint; Fiasco.OC, one IPC gate bound to the thread. A lone client pays an IPI each way per call (${ipis('seL4', 'single', lo)} per call on seL4, ${ipis('Fiasco.OC', 'single', lo)} on Fiasco.OC); with more clients the server is seldom idle, so a request finds it busy and waits in line (only the reply sends an IPI: ${ipis('seL4', 'single', hi)} per call with ${hi} clients), and throughput levels off at one call per pass of the server (${peak('seL4')} M calls/s at most on seL4, ${peak('Fiasco.OC')} on Fiasco.OC) while latency grows with the clients in line. SkyBridge against this server is the comparison that flatters SkyBridge, whose handler runs on the client’s own core: a speed-up that is large with one client (every native call crosses cores twice) and grows with the cores once the server is saturated. Not on Zircon: one thread waiting for many channels needs a port (zx_port_wait), which the Zircon Subkernel does not model, and a channel end cannot be shared by clients (one owner process; no DUPLICATE right).`,
      `per-core: a native server thread on each client core, each client with a connection of its own to the thread on its core (seL4: an endpoint; Fiasco.OC: a gate bound to that thread, which serves through its own UTCB; Zircon: a channel, which is per client anyway): same-core IPC, no IPI, so native throughput scales with the cores as SkyBridge’s does. This is the fair baseline; SkyBridge’s advantage over it is its per-call advantage (no kernel on the path): ${speedups('seL4')} on seL4, ${speedups('Fiasco.OC')} on Fiasco.OC, ${speedups('Zircon')} on Zircon. What the cores still share is the kernel’s own data: coherence invalidations per call with ${hi} cores: ${inval('seL4', hi)} on seL4, ${inval('Fiasco.OC', hi)} on Fiasco.OC, ${inval('Zircon', hi)} on Zircon, whose message packets come from one PMM free list under one lock and whose wake-ups take the global thread_lock (native p50 ${lo} → ${hi} cores: seL4 ${get('seL4', 'per-core', lo).p50} → ${get('seL4', 'per-core', hi).p50}, Fiasco.OC ${get('Fiasco.OC', 'per-core', lo).p50} → ${get('Fiasco.OC', 'per-core', hi).p50}, Zircon ${get('Zircon', 'per-core', lo).p50} → ${get('Zircon', 'per-core', hi).p50} cycles).`,
      `SkyBridge runs the same trampoline and handler on every kernel, with no kernel on the path: the same latency on all three (p50 ${get('seL4', 'skybridge', hi).p50}, ${get('Fiasco.OC', 'skybridge', hi).p50}, ${get('Zircon', 'skybridge', hi).p50} cycles with ${hi} cores).`,
    ],
  };
}

export const multicore: Experiment = { ...experimentInfo('multicore'), run };
