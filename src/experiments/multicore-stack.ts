// The many-core echo scene of experiment multicore: guest/storage/mc-echo.c (machine code
// built by gcc) as one server process and one client process per core, on seL4, connected
// in one of three ways:
//   single    — natively, to one server thread on a core of its own (core N): every call
//               crosses cores (an IPI each way) and the one thread serves all clients in turn;
//   per-core  — natively, client i to server thread i on client i's core over an endpoint
//               of its own (same-core IPC: the fair native baseline);
//   skybridge — SkyBridge: each client's thread runs the handler itself, on its own core.
// Knobs are written and records read back through physical memory.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import { USER_IPC_BUFFERS } from '../kernel/layout.ts';
import { machineCodeBody } from '../kernel/machine-code.ts';
import type { Process } from '../kernel/process.ts';
import { Cap, RIGHT } from '../kernel/sel4/objects.ts';
import type { Sel4 } from '../kernel/sel4/sel4.ts';
import type { Thread } from '../kernel/thread.ts';
import { guestImage, readWords, symbol, writeWord } from './guest-image.ts';
import { bootKernel } from './kernels.ts';
import { newSkyBridge } from './skybridge-setup.ts';

export const SETUPS = ['single', 'per-core', 'skybridge'] as const;
export type Setup = (typeof SETUPS)[number];

/** rpc.h's transport numbers. */
const RPC_SKYBRIDGE = 1;
const RPC_SEL4 = 2;
/** Capability slots: a client's call end, where it parks; server thread i receives on
 *  SERVE + i. */
const SLOT = { call: 1, park: 3, serve: 8 } as const;
/** Cycles between the last core's clock when all clients are ready and the common start. */
const START_MARGIN = 2_000;

export interface EchoRun {
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
}

/** `cores` clients, one per core, each making `warm` then `calls` echo calls. */
export function runEcho(
  profile: CpuProfile,
  setup: Setup,
  cores: number,
  calls: number,
  warm = 10,
): EchoRun {
  const machineCores = setup === 'single' ? cores + 1 : cores;
  const m = new Machine({ cores: machineCores, memoryBytes: 1024 ** 3, profile });
  const sb = setup === 'skybridge' ? newSkyBridge() : null;
  const k = bootKernel('seL4', m, { kpti: false, pcid: true }, sb ? [sb] : []);
  const sel4 = k.personality as Sel4;
  const g = guestImage('mc-echo');
  const set = (p: Process, name: string, i: number, v: number): void =>
    writeWord(k, { process: p }, symbol(g, name) + i * 8, v);
  const word = (p: Process, name: string, i = 0): number =>
    readWords(k, { process: p }, symbol(g, name) + i * 8, 1)[0]!;
  const load = (name: string): Process => {
    const p = loadElf(k, name, g.bytes).process;
    set(p, 'rpc_kernel', 0, RPC_SEL4);
    sel4.mint(p, SLOT.park, Cap.endpoint(sel4.newEndpoint(), 0, RIGHT.Receive));
    set(p, 'rpc_park_target', 0, SLOT.park);
    return p;
  };
  const start = (p: Process, entry: string, arg: number, core: number, priority: number): Thread =>
    k.createThread(p, `${p.name}:${entry}:${arg}`, machineCodeBody(m), {
      entry: symbol(g, entry),
      machineCode: true,
      core,
      priority,
      args: [arg, USER_IPC_BUFFERS + p.threads.length * 4096],
    });

  const server = load('echo');
  const clients = Array.from({ length: cores }, (_, i) => load(`client${i}`));
  const threads: Thread[] = [];
  if (sb !== null) {
    const id = sb.registerServer(server, {
      handler: symbol(g, 'echo_handler'),
      maxConcurrent: cores,
    });
    for (const c of clients) {
      sb.registerClient(m.core(0), c, id);
      set(c, 'call', 0, RPC_SKYBRIDGE);
      set(c, 'call', 1, id);
    }
  } else {
    const servers = setup === 'single' ? 1 : cores;
    const eps = Array.from({ length: servers }, () => sel4.newEndpoint());
    eps.forEach((ep, i) => {
      sel4.mint(server, SLOT.serve + i, Cap.endpoint(ep, 0, RIGHT.Receive));
      set(server, 'serve', i * 4, RPC_SEL4);
      set(server, 'serve', i * 4 + 1, SLOT.serve + i);
      threads.push(start(server, 'echo_main', i, setup === 'single' ? cores : i, 101));
    });
    clients.forEach((c, i) => {
      const ep = eps[setup === 'single' ? 0 : i]!;
      sel4.mint(c, SLOT.call, Cap.endpoint(ep, i + 1, RIGHT.Send | RIGHT.GrantReply));
      set(c, 'call', 0, RPC_SEL4);
      set(c, 'call', 1, SLOT.call);
    });
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
  const ipisBefore = m.snapshot().get('ipis.sent');
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
  return {
    cores,
    setup,
    latencies,
    windowCycles,
    calls: calls * cores,
    callsPerSecond: (calls * cores) / (windowCycles / (profile.frequencyGHz * 1e9)),
    ipisPerCall: (m.snapshot().get('ipis.sent') - ipisBefore) / (calls * cores),
  };
}
