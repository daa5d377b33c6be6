// sel4bench's IPC benchmark on the Fiasco.OC Subkernel, run as machine code (mirrors
// sel4bench.ts): guest/fiasco/fiasco-ipcbench.c, built by gcc, calls the kernel through our
// libfiasco (guest/fiasco/libfiasco.h). Its client calls an IPC gate bound to the server
// thread with l4_ipc_call; the server waits in l4_ipc_wait, then loops in
// l4_ipc_reply_and_wait. The client stamps RDTSC before the call and after it returns, the
// server on arrival and before replying. One-way call = arrival − start, one-way reply = end −
// reply stamp, round trip = end − start, each minus the cost of two back-to-back stamps; the
// mean of the measured round trips after WARMUP. Instructions per round trip: the same run
// with only the warm-up, subtracted (the model is deterministic). (L4Re's own figure,
// kernels.md: one-way inter-address-space IPC, 613 instructions / 1172 cycles on a Xeon Gold
// 6248R.)

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import { Fiasco } from '../kernel/fiasco/fiasco.ts';
import { Rights } from '../kernel/fiasco/objects.ts';
import { USER_IPC_BUFFERS } from '../kernel/layout.ts';
import { machineCodeBody } from '../kernel/machine-code.ts';
import type { Process } from '../kernel/process.ts';
import { DEFAULT_CONFIG, Subkernel } from '../kernel/subkernel.ts';
import type { Thread } from '../kernel/thread.ts';
import { guestImage, readWords, symbol, writeWord } from './guest-image.ts';
import { RUNS, WARMUP, type IpcResult } from './ipc-harness.ts';
import { summarize, type IpcStats } from './experiment.ts';

export interface FiascoCase {
  /** Client and server in different address spaces (tasks) or one. */
  interAs: boolean;
  /** Message length in words (0..63). */
  words: number;
  kpti: boolean;
  pcid: boolean;
}

export type FiascoResult = IpcResult & { stats: IpcStats };

interface Run {
  k: Subkernel;
  client: Thread;
  server: Thread;
  instructions: number;
}

function once(profile: CpuProfile, c: FiascoCase, rounds: number, warm: number): Run {
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile });
  const fiasco = new Fiasco();
  const k = new Subkernel(m, fiasco, { ...DEFAULT_CONFIG, kpti: c.kpti, pcid: c.pcid });
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
  for (const t of new Set([cli, srv])) writeWord(k, t, symbol(g, 'warm_rounds'), warm);
  while (k.run(100_000) === 100_000);
  for (const t of [cli, srv])
    if (!t.alive) throw new Error(`IPC benchmark: the ${t.name} stopped: ${t.exitReason}`);
  return { k, client: cli, server: srv, instructions: m.snapshot().get('instructions') };
}

export function runFiascoBench(profile: CpuProfile, c: FiascoCase): FiascoResult {
  const total = WARMUP + RUNS;
  const r = once(profile, c, total, total);
  const warm = once(profile, c, WARMUP, total);
  const g = guestImage('fiasco-ipcbench');
  const words = (t: Thread, name: string): number[] => readWords(r.k, t, symbol(g, name), total);
  const start = words(r.client, 'start_stamp');
  const end = words(r.client, 'end_stamp');
  const arrive = words(r.server, 'arrive_stamp');
  const reply = words(r.server, 'reply_stamp');
  const overhead = readWords(r.k, r.client, symbol(g, 'overhead'), 1)[0]!;
  if (end[total - 1] === 0) throw new Error('IPC benchmark: the client did not finish');
  const mean = (f: (i: number) => number): number => {
    let s = 0;
    for (let i = WARMUP; i < total; i++) s += f(i);
    return s / RUNS - overhead;
  };
  // The spread of the same per-round figures (the means above are computed as they were).
  const each = (f: (i: number) => number): number[] => {
    const xs: number[] = [];
    for (let i = WARMUP; i < total; i++) xs.push(f(i) - overhead);
    return xs;
  };
  const stats: IpcStats = {
    call: summarize(each((i) => arrive[i]! - start[i]!)),
    reply: summarize(each((i) => end[i]! - reply[i]!)),
    roundTrip: summarize(each((i) => end[i]! - start[i]!)),
  };
  return {
    call: mean((i) => arrive[i]! - start[i]!),
    reply: mean((i) => end[i]! - reply[i]!),
    roundTrip: mean((i) => end[i]! - start[i]!),
    overhead,
    instructions: (r.instructions - warm.instructions) / RUNS,
    stats,
  };
}
