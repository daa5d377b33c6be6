// sel4bench's IPC benchmark (sel4bench apps/ipc), run on the simulated machine as machine
// code: guest/sel4/sel4-ipcbench.c, built by gcc, calls the seL4 Subkernel through our libsel4
// (guest/sel4/libsel4.h); its client stamps RDTSC before seL4_Call and after it returns, its
// server on arrival and before seL4_ReplyRecv. One-way call = arrival − start, one-way reply
// = end − reply stamp, round trip = end − start, each minus the cost of two back-to-back
// stamps; the mean of the measured round trips after WARMUP. Instructions per round trip:
// the same run with only the warm-up, subtracted (the model is deterministic).
// sel4bench serialises with CPUID before RDTSC; under a VMM CPUID is a VM exit, and the
// model has no out-of-order execution to serialise, so the stamp is RDTSC alone.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import { USER_IPC_BUFFERS } from '../kernel/layout.ts';
import { machineCodeBody } from '../kernel/machine-code.ts';
import type { Process } from '../kernel/process.ts';
import { Cap, RIGHT } from '../kernel/sel4/objects.ts';
import { Sel4 } from '../kernel/sel4/sel4.ts';
import { DEFAULT_CONFIG, Subkernel } from '../kernel/subkernel.ts';
import type { MitigationConfig } from '../kernel/mitigations.ts';
import type { Thread } from '../kernel/thread.ts';
import { guestImage, symbol } from './guest-image.ts';
import {
  ipcResult,
  runBenchPair,
  RUNS,
  WARMUP,
  type BenchRun,
  type IpcResult,
} from './ipc-harness.ts';

export type { IpcResult } from './ipc-harness.ts';

export interface IpcCase {
  /** Client and server in different address spaces (processes) or one. */
  interAs: boolean;
  /** Message length in words. */
  words: number;
  kpti: boolean;
  pcid: boolean;
  /** Server on another core (cross-core IPC). */
  crossCore?: boolean;
  fastpath?: boolean;
  /** Measured round trips after the warm-up (default: the harness's RUNS). */
  runs?: number;
  /** Speculative-execution mitigations in the kernel (none when absent; mitigations.ts). */
  mitigations?: Partial<MitigationConfig>;
}

function once(profile: CpuProfile, c: IpcCase, rounds: number, warm: number): BenchRun {
  const m = new Machine({ cores: c.crossCore ? 2 : 1, memoryBytes: 1024 ** 3, profile });
  const sel4 = new Sel4({ fastpath: c.fastpath ?? true });
  const { kpti, pcid, mitigations } = c;
  const k = new Subkernel(m, sel4, { ...DEFAULT_CONFIG, kpti, pcid, mitigations });
  sel4.attach(k);
  const g = guestImage('sel4-ipcbench');
  const client = loadElf(k, 'client', g.bytes).process;
  const server = c.interAs ? loadElf(k, 'server', g.bytes).process : client;
  const ep = sel4.newEndpoint();
  const park = sel4.newEndpoint();
  sel4.mint(client, 1, Cap.endpoint(ep, 1, RIGHT.Send | RIGHT.GrantReply));
  sel4.mint(server, 2, Cap.endpoint(ep, 0, RIGHT.Receive));
  for (const p of new Set([client, server])) sel4.mint(p, 3, Cap.endpoint(park, 0, RIGHT.Receive));
  const start = (p: Process, name: string, entry: string, core: number, priority: number): Thread =>
    k.createThread(p, name, machineCodeBody(m), {
      core,
      priority,
      entry: symbol(g, entry),
      machineCode: true,
      args: [rounds, c.words, USER_IPC_BUFFERS + p.threads.length * 4096],
    });
  const srv = start(server, 'server', 'server_main', c.crossCore ? 1 : 0, 101);
  const cli = start(client, 'client', 'client_main', 0, 100);
  return runBenchPair(k, g, cli, srv, warm);
}

export function runSel4Bench(profile: CpuProfile, c: IpcCase): IpcResult {
  const runs = c.runs ?? RUNS;
  const total = WARMUP + runs;
  const r = once(profile, c, total, total);
  const warm = once(profile, c, WARMUP, total);
  const g = guestImage('sel4-ipcbench');
  return ipcResult(g, r, warm, runs);
}
