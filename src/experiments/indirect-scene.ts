// The scene of experiment indirect, as machine code: guest/indirect/indirect.c, built by gcc,
// loaded as a client and as a server on one core of a kernel, connected by the kernel's own
// IPC or by SkyBridge. The client makes WARMUP + RUNS passes, each a walk over its working
// set (ws_touch) and, in the run with IPCs, one empty round trip. The harness stops the
// client's interpreter at the labels ws_touch, ws_touch_done and client_done to read the
// machine's counters there (a stop costs no simulated cycle), so the loop's own counters are
// the client's user-mode slot between the first two labels, and everything else a pass
// costs (the call's user side included) lies outside them.

import { C, Mode, type CounterSnapshot } from '../hw/counters.ts';
import { Machine } from '../hw/machine.ts';
import type { EvictionLog } from '../hw/memory-hierarchy.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import type { Fiasco } from '../kernel/fiasco/fiasco.ts';
import { Rights } from '../kernel/fiasco/objects.ts';
import { USER_IPC_BUFFERS } from '../kernel/layout.ts';
import { machineCodeBody, runMachineCode } from '../kernel/machine-code.ts';
import type { Process } from '../kernel/process.ts';
import { Cap, RIGHT } from '../kernel/sel4/objects.ts';
import type { Sel4 } from '../kernel/sel4/sel4.ts';
import type { Thread, ThreadCode } from '../kernel/thread.ts';
import type { UserApi } from '../kernel/user.ts';
import type { Zircon } from '../kernel/zircon/zircon.ts';
import { guestImage, readWords, symbol, writeWord } from './guest-image.ts';
import { bootKernel, type KernelName } from './kernels.ts';
import { newSkyBridge } from './skybridge-setup.ts';
import { parkTarget } from './park.ts';

export const WARMUP = 4;
export const RUNS = 16;

/** Which IPC sits between the client's passes: a kernel's own, or SkyBridge built into it. */
export interface Mechanism {
  kernel: KernelName;
  skybridge: boolean;
}

/** indirect.c's WS_MAX: the largest working set its client has. */
export const WS_MAX = 1 << 20;
/** indirect.c's transports. */
const VIA = { seL4: 1, 'Fiasco.OC': 2, Zircon: 3, skybridge: 4 } as const;
/** Capability slots (seL4: the client's send end, the server's receive end; Fiasco.OC: the
 *  client's gate; seL4: where the client parks). */
const SLOT = { call: 1, serve: 2, park: 3 } as const;

/** What the harness read in one run (with or without the IPCs). */
export interface Run {
  /** The client's user-mode counters over its loops, summed over the measured passes. */
  loop: Float64Array;
  /** Client user-mode cycles of each measured pass's loop. */
  passCycles: number[];
  /** Core cycles from the first measured loop's start to the end of the last pass. */
  total: number;
  /** The machine's counters over the same span. */
  counters: CounterSnapshot;
  evictions: EvictionLog;
  /** TLB evictions: (victim tag × EVICTION_TAG_SPAN + evictor tag) → count. */
  tlb: Map<number, number>;
  names: {
    client: number;
    server: number;
    kernel: number;
    clientPcid: number;
    serverPcid: number;
    baseEp: number;
  };
}

/** One run of `WARMUP + RUNS` passes over a `bytes`-byte working set. */
export function runPasses(
  profile: CpuProfile,
  bytes: number,
  withIpc: boolean,
  pcid: boolean,
  mech: Mechanism,
  log: EvictionLog,
): Run {
  if (!(bytes >= 0 && bytes <= WS_MAX))
    throw new RangeError(`indirect: a working set of ${bytes} bytes (0 to ${WS_MAX} allowed)`);
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile });
  const sb = mech.skybridge ? newSkyBridge() : null;
  const k = bootKernel(mech.kernel, m, { pcid }, sb ? [sb] : []);
  const g = guestImage('indirect');
  const client = loadElf(k, 'client', g.bytes).process;
  const server = loadElf(k, 'server', g.bytes).process;
  const set = (p: Process, name: string, v: number): void =>
    writeWord(k, { process: p }, symbol(g, name), v);
  const start = (p: Process, entry: string, priority: number, body = machineCodeBody(m)): Thread =>
    k.createThread(p, `${p.name}:${entry}`, body, {
      entry: symbol(g, entry),
      machineCode: true,
      priority,
      args: [0, USER_IPC_BUFFERS + p.threads.length * 4096],
    });

  // Connect the two (the server's thread, natively, at a higher priority, as sel4bench does).
  let via: number;
  if (sb !== null) {
    via = VIA.skybridge;
    const sid = sb.registerServer(server, { handler: symbol(g, 'null_handler') });
    sb.registerClient(m.core(0), client, sid);
    set(client, 'target', sid);
  } else {
    via = VIA[mech.kernel];
    set(server, 'via', via);
    switch (mech.kernel) {
      case 'seL4': {
        const sel4 = k.personality as Sel4;
        const ep = sel4.newEndpoint();
        sel4.mint(client, SLOT.call, Cap.endpoint(ep, 1, RIGHT.Send | RIGHT.GrantReply));
        sel4.mint(server, SLOT.serve, Cap.endpoint(ep, 0, RIGHT.Receive));
        set(client, 'target', SLOT.call);
        set(server, 'target', SLOT.serve);
        start(server, 'server_main', 101);
        break;
      }
      case 'Fiasco.OC': {
        const fiasco = k.personality as Fiasco;
        // The gate exists once its thread does (Ipc_gate_ctl::bind_thread); label 0x10.
        const t = start(server, 'server_main', 101);
        fiasco.putCap(client, SLOT.call, fiasco.newGate(t, 0x10), Rights.CW);
        set(client, 'target', SLOT.call);
        break;
      }
      case 'Zircon': {
        const ch = (k.personality as Zircon).createChannel(client, server);
        set(client, 'target', ch.a);
        set(server, 'target', ch.b);
        start(server, 'server_main', 101);
        break;
      }
    }
  }
  set(client, 'via', via);
  set(client, 'kernel', VIA[mech.kernel]);
  set(client, 'park_target', parkTarget(k, mech.kernel, client, SLOT.park));
  set(client, 'passes', WARMUP + RUNS);
  set(client, 'ws_bytes', bytes);
  set(client, 'with_ipc', withIpc ? 1 : 0);

  const at = {
    touch: symbol(g, 'ws_touch'),
    touched: symbol(g, 'ws_touch_done'),
    done: symbol(g, 'client_done'),
  };
  const tlb = new Map<number, number>();
  const r: Run = {
    loop: new Float64Array(0),
    passCycles: [],
    total: 0,
    counters: m.snapshot(),
    evictions: log,
    tlb,
    names: {
      client: client.owner,
      server: server.owner,
      kernel: k.kernelOwner,
      clientPcid: client.space.asid,
      serverPcid: server.space.asid,
      baseEp: m.ep4taId(k.rk.baseEptp - (k.rk.baseEptp % 4096)),
    },
  };
  let finished = false;
  const body = function* (u: UserApi): ThreadCode {
    const core = u.core;
    const slot = core.counters.slot(client.owner, Mode.User);
    const before = new Float64Array(slot.length);
    r.loop = new Float64Array(slot.length);
    let total0 = 0;
    let start!: CounterSnapshot;
    for (let i = 0; i < WARMUP + RUNS; i++) {
      yield* runMachineCode(m, u, { stopAt: at.touch });
      if (i === WARMUP) {
        total0 = core.cycles;
        start = m.snapshot();
        m.caches.evictions = log;
        for (const s of Object.values(core.ts.tc)) s.evictions = tlb;
      }
      before.set(slot);
      yield* runMachineCode(m, u, { stopAt: at.touched });
      if (i >= WARMUP) {
        for (let j = 0; j < slot.length; j++) r.loop[j]! += slot[j]! - before[j]!;
        r.passCycles.push(slot[C.cycles]! - before[C.cycles]!);
      }
    }
    // The last pass's IPC ends where the client reaches client_done.
    yield* runMachineCode(m, u, { stopAt: at.done });
    m.caches.evictions = null;
    for (const s of Object.values(core.ts.tc)) s.evictions = null;
    r.total = core.cycles - total0;
    r.counters = m.snapshot().minus(start);
    finished = true;
    // The client parks (the kernel then has nothing left to do).
    yield* runMachineCode(m, u);
  };
  const t = start(client, 'client_main', 100, body);
  while (k.run(1_000_000) === 1_000_000);
  if (!finished) throw new Error(`indirect: the client stopped: ${t.exitReason}`);
  const [made, failures] = ['made', 'failures'].map(
    (n) => readWords(k, { process: client }, symbol(g, n), 1)[0]!,
  );
  if (made !== WARMUP + RUNS) throw new Error(`indirect: the client made ${made} passes`);
  if (failures !== 0) throw new Error(`indirect: ${failures} of the client's IPCs failed`);
  return r;
}
