// The many-core echo scene of experiment multicore: guest/storage/mc-echo.c (machine code
// built by gcc) as one server process and one client process per core, on seL4, Fiasco.OC or
// Zircon, connected in one of three ways:
//   single    — natively, to one server thread on a core of its own (core N): every call
//               crosses cores (an IPI each way) and the one thread serves all clients in turn
//               (seL4: one endpoint; Fiasco.OC: one IPC gate bound to the thread). Not on
//               Zircon: one thread waiting for many channels needs a port (zx_port_wait), which
//               the Zircon Subkernel does not have, and a channel end cannot be shared (one
//               owner process, no DUPLICATE right in ZX_DEFAULT_CHANNEL_RIGHTS);
//   per-core  — natively, client i to server thread i on client i's core over a connection of
//               its own (an endpoint, a gate bound to thread i, a channel): same-core IPC, the
//               fair native baseline;
//   skybridge — SkyBridge: each client's thread runs the handler itself, on its own core.
// Knobs are written and records read back through physical memory.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import type { Fiasco } from '../kernel/fiasco/fiasco.ts';
import { Rights } from '../kernel/fiasco/objects.ts';
import type { Process } from '../kernel/process.ts';
import { Cap, RIGHT } from '../kernel/sel4/objects.ts';
import type { Sel4 } from '../kernel/sel4/sel4.ts';
import type { Thread } from '../kernel/thread.ts';
import type { Zircon } from '../kernel/zircon/zircon.ts';
import { symbol } from './guest-image.ts';
import { bootKernel, type KernelName } from './kernels.ts';
import { newSkyBridge } from './skybridge-setup.ts';
import { RPC, rpcScene } from './rpc-scene.ts';

export const SETUPS = ['single', 'per-core', 'skybridge'] as const;
export type Setup = (typeof SETUPS)[number];

/** The setups that run on `kernel` (Zircon has no single-threaded server for many clients:
 *  see above). */
export function setupsOn(kernel: KernelName): readonly Setup[] {
  return kernel === 'Zircon' ? ['per-core', 'skybridge'] : SETUPS;
}

/** Capability slots: a client's call end, where it parks; seL4's server thread i receives
 *  on SERVE + i. */
const SLOT = { call: 1, park: 3, serve: 8 } as const;
/** Cycles between the last core's clock when all clients are ready and the common start. */
const START_MARGIN = 2_000;

export interface EchoRun {
  kernel: KernelName;
  cores: number;
  setup: Setup;
  /** Each client's measured calls' cycles, client by client. */
  latencies: number[][];
  /** The window from the first client's first measured call to the last one's end. */
  windowCycles: number;
  calls: number;
  /** Measured calls per second of simulated time, over all clients. */
  callsPerSecond: number;
  /** Inter-processor interrupts sent per measured call. */
  ipisPerCall: number;
  /** Lines invalidated in other cores' caches by stores, per measured call. */
  invalidationsPerCall: number;
}

/** `cores` clients, one per core, each making `warm` then `calls` echo calls, on `kernel`. */
export function runEcho(
  profile: CpuProfile,
  setup: Setup,
  cores: number,
  calls: number,
  warm = 10,
  kernel: KernelName = 'seL4',
): EchoRun {
  if (!setupsOn(kernel).includes(setup))
    throw new RangeError(
      `multicore: no ${setup} server on ${kernel} (one thread cannot wait for many channels without a port)`,
    );
  const machineCores = setup === 'single' ? cores + 1 : cores;
  const m = new Machine({ cores: machineCores, memoryBytes: 1024 ** 3, profile });
  const sb = setup === 'skybridge' ? newSkyBridge() : null;
  const k = bootKernel(kernel, m, { kpti: false, pcid: true }, sb ? [sb] : []);
  const scene = rpcScene(m, k, kernel, SLOT.park);
  const { set, word, start, chan } = scene;
  const load = (name: string): Process => scene.load(name, 'mc-echo');
  const g = scene.imageOf;

  const server = load('echo');
  const clients = Array.from({ length: cores }, (_, i) => load(`client${i}`));
  const threads: Thread[] = [];
  if (sb !== null) {
    const id = sb.registerServer(server, {
      handler: symbol(g(server), 'echo_handler'),
      maxConcurrent: cores,
    });
    for (const c of clients) {
      sb.registerClient(m.core(0), c, id);
      chan(c, 'call', 0, RPC.skybridge, id);
    }
  } else {
    // Server thread i (one on core N for `single`, else one on each client core) and what
    // client i calls: the one server's connection, or thread i's.
    const servers = setup === 'single' ? 1 : cores;
    const coreOf = (i: number): number => (setup === 'single' ? cores : i);
    const kind = RPC[kernel];
    const serving = (i: number): Thread => start(server, 'echo_main', i, coreOf(i), 101);
    switch (kernel) {
      case 'seL4': {
        const sel4 = k.personality as Sel4;
        const eps = Array.from({ length: servers }, () => sel4.newEndpoint());
        eps.forEach((ep, i) => {
          sel4.mint(server, SLOT.serve + i, Cap.endpoint(ep, 0, RIGHT.Receive));
          chan(server, 'serve', i, kind, SLOT.serve + i);
          threads.push(serving(i));
        });
        clients.forEach((c, i) => {
          const ep = eps[setup === 'single' ? 0 : i]!;
          sel4.mint(c, SLOT.call, Cap.endpoint(ep, i + 1, RIGHT.Send | RIGHT.GrantReply));
          chan(c, 'call', 0, kind, SLOT.call);
        });
        break;
      }
      case 'Fiasco.OC': {
        // An IPC gate bound to each server thread (label 0x10); the thread waits open
        // (l4_ipc_wait) and answers whoever called, through its own UTCB (rpc.h's rpc_serve).
        const fiasco = k.personality as Fiasco;
        const gates = Array.from({ length: servers }, (_, i) => {
          chan(server, 'serve', i, kind, 0);
          const t = serving(i);
          threads.push(t);
          return fiasco.newGate(t, 0x10);
        });
        clients.forEach((c, i) => {
          fiasco.putCap(c, SLOT.call, gates[setup === 'single' ? 0 : i]!, Rights.CW);
          chan(c, 'call', 0, kind, SLOT.call);
        });
        break;
      }
      case 'Zircon': {
        // A channel per client (per-core only): server thread i waits on client i's.
        const zx = k.personality as Zircon;
        clients.forEach((c, i) => {
          const ch = zx.createChannel(c, server);
          chan(c, 'call', 0, kind, ch.a);
          chan(server, 'serve', i, kind, ch.b);
          threads.push(serving(i));
        });
        break;
      }
    }
  }
  clients.forEach((c, i) => {
    set(c, 'calls', 0, calls);
    set(c, 'warm', 0, warm);
    threads.push(start(c, 'client_main', 0, i, 100));
  });
  // Warm-up, then one common start: every client spins until its clock reaches start_at.
  for (let guard = 0; clients.some((c) => word(c, 'ready') === 0); guard++) {
    if (guard > 100_000 || k.run(1_000) < 1_000) throw new Error('multicore: warm-up stalled');
  }
  const startAt = Math.ceil(Math.max(...m.cores.map((c) => c.cycles))) + START_MARGIN;
  for (const c of clients) set(c, 'start_at', 0, startAt);
  const before = m.snapshot();
  while (k.run(100_000) === 100_000);
  for (const t of threads)
    if (!t.alive) throw new Error(`multicore: ${t.name} stopped: ${t.exitReason}`);

  const latencies = clients.map((c) => {
    if (word(c, 'made') !== calls) throw new Error(`multicore: ${c.name} did not finish`);
    if (word(c, 'errors') !== 0) throw new Error(`multicore: ${c.name} got wrong answers`);
    return Array.from({ length: calls }, (_, i) => word(c, 'lat', i));
  });
  const from = Math.min(...clients.map((c) => word(c, 'span', 0)));
  if (from < startAt) throw new Error('multicore: a client started early');
  const to = Math.max(...clients.map((c) => word(c, 'span', 1)));
  const windowCycles = to - from;
  const during = m.snapshot().minus(before);
  return {
    kernel,
    cores,
    setup,
    latencies,
    windowCycles,
    calls: calls * cores,
    callsPerSecond: (calls * cores) / (windowCycles / (profile.frequencyGHz * 1e9)),
    ipisPerCall: during.get('ipis.sent') / (calls * cores),
    invalidationsPerCall: during.get('coherence.invalidations') / (calls * cores),
  };
}
