// sel4bench's IPC benchmark shape on the Zircon Subkernel, with Zircon's own calls (as
// Fuchsia's channel round-trip microbenchmarks do them), run as machine code:
// guest/zircon/zircon-ipcbench.c, built by gcc, calls the Subkernel through our libzircon
// (guest/zircon/libzircon.h). The client loops on zx_channel_call; the server loops on
// zx_object_wait_one(READABLE), zx_channel_read, and zx_channel_write of a reply with the
// request's txid. Stamps (RDTSC in each program's own code): the client's right before
// zx_channel_call and the server's right after zx_channel_read returns give the one-way
// call; the server's right before zx_channel_write and the client's right after its call
// returns give the one-way reply; the client's two give the round trip. The overhead of two
// back-to-back stamps is subtracted, as sel4bench does; the mean of the measured round trips
// after WARMUP. Instructions per round trip: the same run with only the warm-up, subtracted
// (the model is deterministic); kernelInstructions counts only those retired in kernel mode.
// Nothing here or in the kernel paths is fitted to any result, and no published Zircon
// figure for this case is cited to compare with: the Zircon rows are predictions.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import { machineCodeBody } from '../kernel/machine-code.ts';
import type { Process } from '../kernel/process.ts';
import type { MitigationConfig } from '../kernel/mitigations.ts';
import type { Thread } from '../kernel/thread.ts';
import type { InProcess } from '../kernel/user-memory.ts';
import { MAX_MSG_BYTES } from '../kernel/zircon/objects.ts';
import { bootZircon } from '../kernel/zircon/zircon.ts';
import { guestImage, readWords, symbol } from './guest-image.ts';
import {
  ipcResult,
  runBenchPair,
  RUNS,
  WARMUP,
  type BenchRun,
  type IpcResult,
} from './ipc-harness.ts';

export interface ZirconCase {
  /** Client and server in different processes (address spaces) or one. */
  interAs: boolean;
  /** Message length in bytes (at least 4: the txid). */
  bytes: number;
  kpti: boolean;
  pcid: boolean;
  /** Server on another core. */
  crossCore?: boolean;
  /** Measured round trips after the warm-up (default: the harness's RUNS). */
  runs?: number;
  /** Speculative-execution mitigations in the kernel (none when absent; mitigations.ts). */
  mitigations?: Partial<MitigationConfig>;
}

export interface ZirconResult extends IpcResult {
  /** Instructions retired in kernel mode per round trip. */
  kernelInstructions: number;
}

function once(
  profile: CpuProfile,
  c: ZirconCase,
  rounds: number,
  warm: number,
): BenchRun & { kernel: number } {
  const m = new Machine({ cores: c.crossCore ? 2 : 1, memoryBytes: 1024 ** 3, profile });
  const { kpti, pcid, mitigations } = c;
  const { k, zircon } = bootZircon(m, { kpti, pcid, mitigations });
  const g = guestImage('zircon-ipcbench');
  const client = loadElf(k, 'client', g.bytes).process;
  const server = c.interAs ? loadElf(k, 'server', g.bytes).process : client;
  const ch = zircon.createChannel(client, server);
  // Where each process's threads park when done: a channel whose ends it holds both of, so
  // no one ever writes to it.
  const park = new Map(
    [...new Set([client, server])].map((p) => [p, zircon.createChannel(p, p).a]),
  );
  const start = (
    p: Process,
    name: string,
    entry: string,
    core: number,
    priority: number,
    handle: number,
  ): Thread =>
    k.createThread(p, name, machineCodeBody(m), {
      core,
      priority,
      entry: symbol(g, entry),
      machineCode: true,
      // RDI, RSI, RDX, (RCX: SYSRET's RIP), R8.
      args: [rounds, c.bytes, handle, 0, park.get(p)!],
    });
  const srv = start(server, 'server', 'server_main', c.crossCore ? 1 : 0, 101, ch.b);
  const cli = start(client, 'client', 'client_main', 0, 100, ch.a);
  return runBenchPair(k, g, cli, srv, warm);
}

export function runZirconBench(profile: CpuProfile, c: ZirconCase): ZirconResult {
  if (c.bytes < 4) throw new RangeError('a zx_channel_call message holds at least its txid');
  if (c.bytes > MAX_MSG_BYTES) throw new RangeError('longer than ZX_CHANNEL_MAX_MSG_BYTES');
  const runs = c.runs ?? RUNS;
  const total = WARMUP + runs;
  const r = once(profile, c, total, total);
  const warm = once(profile, c, WARMUP, total);
  const g = guestImage('zircon-ipcbench');
  const words = (t: InProcess, name: string, n = total): number[] =>
    readWords(r.k, t, symbol(g, name), n);
  for (const [t, name] of [
    [r.client, 'client_status'],
    [r.server, 'server_status'],
  ] as const) {
    const st = words(t, name, 1)[0]! | 0;
    if (st !== 0)
      throw new Error(`IPC benchmark: the ${name.replace('_status', '')} got zx_status_t ${st}`);
  }
  return { ...ipcResult(g, r, warm, runs), kernelInstructions: (r.kernel - warm.kernel) / runs };
}
