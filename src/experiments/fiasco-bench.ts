// sel4bench's IPC benchmark on the Fiasco.OC Subkernel, run as machine code (mirrors
// sel4bench.ts): guest/fiasco/fiasco-ipcbench.c, built by gcc, calls the kernel through our
// libfiasco (guest/fiasco/libfiasco.h). Its client calls an IPC gate bound to the server
// thread with l4_ipc_call; the server waits in l4_ipc_wait, then loops in
// l4_ipc_reply_and_wait. The client stamps RDTSC before the call and after it returns, the
// server on arrival and before replying. One-way call = arrival − start, one-way reply = end −
// reply stamp, round trip = end − start, each minus the cost of two back-to-back stamps; the
// mean of the measured round trips after WARMUP. Instructions per round trip: the same run
// with only the warm-up, subtracted (the model is deterministic); kernelInstructions counts
// only those retired in kernel mode.
//
// L4Re publishes the same case (l4re.org, "Performance overview": its ipcbench client
// l4_ipc_call-ing an IPC gate bound to a server in l4_ipc_reply_and_wait, per one-way IPC,
// fixed-function counters): inter-address-space 613 instructions / 1172 cycles on a Xeon
// Gold 6248R and 587 / 934 TSC cycles (1128 core clocks) on a Xeon Platinum 8352S;
// intra-address-space 557 / 664 and 543 / 511. Our kernel's counts come from Fiasco's
// compiled code (src/kernel/fiasco/paths.ts); L4Re's include its benchmark loop's few user
// instructions, ours our benchmark's (the stamps), ~24 per one way.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import { Fiasco } from '../kernel/fiasco/fiasco.ts';
import { Rights } from '../kernel/fiasco/objects.ts';
import { USER_IPC_BUFFERS } from '../kernel/layout.ts';
import { machineCodeBody } from '../kernel/machine-code.ts';
import type { Process } from '../kernel/process.ts';
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

export interface FiascoCase {
  /** Client and server in different address spaces (tasks) or one. */
  interAs: boolean;
  /** Message length in words (0..63). */
  words: number;
  kpti: boolean;
  pcid: boolean;
  /** Measured round trips after the warm-up (default: the harness's RUNS). */
  runs?: number;
  /** Speculative-execution mitigations in the kernel (none when absent; mitigations.ts). */
  mitigations?: Partial<MitigationConfig>;
}

export interface FiascoResult extends IpcResult {
  /** Instructions retired in kernel mode per round trip. */
  kernelInstructions: number;
}

function once(
  profile: CpuProfile,
  c: FiascoCase,
  rounds: number,
  warm: number,
): BenchRun & { kernel: number } {
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile });
  const fiasco = new Fiasco();
  const { kpti, pcid, mitigations } = c;
  const k = new Subkernel(m, fiasco, { ...DEFAULT_CONFIG, kpti, pcid, mitigations });
  fiasco.attach(k);
  const g = guestImage('fiasco-ipcbench');
  const client = loadElf(k, 'client', g.bytes).process;
  const server = c.interAs ? loadElf(k, 'server', g.bytes).process : client;
  // The third argument is the thread's UTCB (createThread maps it there).
  const start = (p: Process, name: string, entry: string, priority: number): Thread =>
    k.createThread(p, name, machineCodeBody(m), {
      core: 0,
      priority,
      entry: symbol(g, entry),
      machineCode: true,
      args: [rounds, c.words, USER_IPC_BUFFERS + p.threads.length * 4096],
    });
  const srv = start(server, 'server', 'server_main', 101);
  // The gate exists once its thread does (Ipc_gate_ctl::bind_thread); label 0x10.
  fiasco.putCap(client, 1, fiasco.newGate(srv, 0x10), Rights.CW);
  const cli = start(client, 'client', 'client_main', 100);
  return runBenchPair(k, g, cli, srv, warm);
}

export function runFiascoBench(profile: CpuProfile, c: FiascoCase): FiascoResult {
  const runs = c.runs ?? RUNS;
  const total = WARMUP + runs;
  const r = once(profile, c, total, total);
  const warm = once(profile, c, WARMUP, total);
  const g = guestImage('fiasco-ipcbench');
  return { ...ipcResult(g, r, warm, runs), kernelInstructions: (r.kernel - warm.kernel) / runs };
}
