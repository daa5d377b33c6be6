// The measurement every native IPC benchmark shares, sel4bench's way. The benchmark program
// (guest/<kernel>/*-ipcbench.c, with guest/libc/ipcbench.h) stamps RDTSC in its own code:
// the client right before its call and right after it returns, the server right after a
// request arrives and right before it replies; the arrays stay in each process's memory.
// One-way call = server's arrival − client's start; one-way reply = client's end − server's
// reply stamp; round trip = client's end − start; the cost of two back-to-back stamps is
// subtracted from each. Mean of RUNS after WARMUP. Instructions per round trip: the run
// minus a twin that does only the warm-up (the model is deterministic, so the rest cancels).

import { Mode, type CounterSnapshot } from '../hw/counters.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import type { Thread } from '../kernel/thread.ts';
import type { InProcess } from '../kernel/user-memory.ts';
import { summarize, type IpcStats } from './experiment.ts';
import { readWords, symbol, writeWord, type GuestImage } from './guest-image.ts';

export const WARMUP = 16;
export const RUNS = 64;

export interface IpcResult {
  call: number;
  reply: number;
  roundTrip: number;
  overhead: number;
  /** Instructions retired per round trip (all modes). */
  instructions: number;
  /** The spread of the per-round figures behind the means. */
  stats: IpcStats;
  /** The machine's counters across the measured round trips (the run minus its twin). */
  counters: CounterSnapshot;
}

/** One run of a benchmark program: its kernel, its two threads, the instructions retired. */
export interface BenchRun {
  k: Subkernel;
  client: InProcess;
  server: InProcess;
  instructions: number;
}

/**
 * Runs a benchmark program's client and server threads to the end: sets how many stamp
 * entries each warms first (`warm_rounds`, the same in a run and its twin), runs the kernel
 * until nothing is left to do, and checks that neither thread was stopped. Returns the run,
 * with the instructions retired in all modes and in kernel mode.
 */
export function runBenchPair(
  k: Subkernel,
  g: GuestImage,
  client: Thread,
  server: Thread,
  warm: number,
): BenchRun & { kernel: number } {
  for (const t of new Set([client, server])) writeWord(k, t, symbol(g, 'warm_rounds'), warm);
  while (k.run(100_000) === 100_000);
  for (const t of [client, server])
    if (!t.alive) throw new Error(`IPC benchmark: the ${t.name} stopped: ${t.exitReason}`);
  const s = k.machine.snapshot();
  return {
    k,
    client,
    server,
    instructions: s.get('instructions'),
    kernel: s.get('instructions', { mode: Mode.Kernel }),
  };
}

/** The figures from the stamps `run` left in memory; `warm` is its warm-up-only twin. */
export function ipcResult(g: GuestImage, run: BenchRun, warm: BenchRun, runs: number): IpcResult {
  const total = WARMUP + runs;
  const words = (t: InProcess, name: string, n = total): number[] =>
    readWords(run.k, t, symbol(g, name), n);
  const start = words(run.client, 'start_stamp');
  const end = words(run.client, 'end_stamp');
  const arrive = words(run.server, 'arrive_stamp');
  const reply = words(run.server, 'reply_stamp');
  const overhead = words(run.client, 'overhead', 1)[0]!;
  if (end[total - 1] === 0) throw new Error('IPC benchmark: the client did not finish');
  const each = (f: (i: number) => number): number[] => {
    const xs: number[] = [];
    for (let i = WARMUP; i < total; i++) xs.push(f(i));
    return xs;
  };
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / runs - overhead;
  const call = each((i) => arrive[i]! - start[i]!);
  const back = each((i) => end[i]! - reply[i]!);
  const trip = each((i) => end[i]! - start[i]!);
  const less = (xs: number[]): number[] => xs.map((x) => x - overhead);
  return {
    call: mean(call),
    reply: mean(back),
    roundTrip: mean(trip),
    overhead,
    instructions: (run.instructions - warm.instructions) / runs,
    counters: run.k.machine.snapshot().minus(warm.k.machine.snapshot()),
    stats: {
      call: summarize(less(call)),
      reply: summarize(less(back)),
      roundTrip: summarize(less(trip)),
    },
  };
}
