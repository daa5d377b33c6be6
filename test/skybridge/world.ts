// A scene for SkyBridge tests: one machine, one kernel with SkyBridge built in, and processes
// that are all guest/skybridge/sb-hostile.c (gcc-built machine code) under the Linux layer,
// each with its own secret planted through physical memory. Servers are registered with a
// handler symbol, clients bound, threads started at an entry symbol; afterwards `out`,
// `served` and the secrets are read back from physical memory, never through the model's
// own bookkeeping.

import assert from 'node:assert/strict';
import { Machine } from '../../src/hw/machine.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { guestImage, symbol, type GuestImage } from '../../src/experiments/guest-image.ts';
import { bootKernel, type KernelName } from '../../src/experiments/kernels.ts';
import { newSkyBridge, trampoline } from '../../src/experiments/skybridge-setup.ts';
import { loadElf } from '../../src/kernel/elf-loader.ts';
import { LinuxAbi } from '../../src/kernel/linux/abi.ts';
import { machineCodeBody } from '../../src/kernel/machine-code.ts';
import type { Process } from '../../src/kernel/process.ts';
import type { Subkernel } from '../../src/kernel/subkernel.ts';
import { ThreadState, type Thread } from '../../src/kernel/thread.ts';
import type { Binding, ServerOptions, SkyBridge } from '../../src/skybridge/skybridge.ts';
import { walk } from '../kernel/fixture.ts';

export { walk };

/** Indices of sb-hostile.c's `param` words. */
export const P = {
  vmfuncCall: 0,
  vmfuncReturn: 1,
  serverEntry: 2,
  clientReturn: 3,
  abort: 4,
  chainNext: 5,
  otherIndex: 6,
  server: 7,
} as const;

export interface Scene {
  m: Machine;
  k: Subkernel;
  sb: SkyBridge;
  g: GuestImage;
  procs: Record<string, Process>;
  abis: Record<string, LinuxAbi>;
  sym(name: string): number;
  server(name: string, handler: string, o?: Omit<ServerOptions, 'handler'>): number;
  bind(client: string, serverId: number, bufferBytes?: number): Binding;
  start(
    proc: string,
    entry: string,
    args?: readonly number[],
    o?: { core?: number; priority?: number },
  ): Thread;
  run(maxSteps?: number): void;
  /** 64-bit word `i` of symbol `name` in `proc`, from physical memory. */
  word(proc: string, name: string, i?: number): number;
  setWord(proc: string, name: string, i: number, v: number): void;
  /** Every process's secret is what was planted. */
  assertSecrets(): void;
}

const KERNELS: KernelName[] = ['seL4', 'Fiasco.OC', 'Zircon'];
export const ALL_KERNELS = KERNELS;

export function secretOf(p: Process): number[] {
  return Array.from({ length: 8 }, (_, i) => 0x5ec0_0000 + p.id * 0x100 + i);
}

export function scene(
  kernel: KernelName,
  names: readonly string[],
  /** `servers`: processes that only serve (no thread, no Linux layer of their own). */
  o: {
    cores?: number;
    tickCycles?: number;
    servers?: readonly string[];
    /** Cycles a core runs before the next core may (default 2000): finer interleaving. */
    quantum?: number;
  } = {},
): Scene {
  const m = new Machine({ cores: o.cores ?? 1, memoryBytes: 1024 ** 3, profile: SKYLAKE });
  const sb = newSkyBridge();
  const abis: Record<string, LinuxAbi> = {};
  for (const n of names)
    if (!o.servers?.includes(n)) abis[n] = new LinuxAbi({ seed: 1, frequencyGHz: 3 });
  const k = bootKernel(kernel, m, { tickCycles: o.tickCycles ?? 0 }, [sb, ...Object.values(abis)]);
  const g = guestImage('sb-hostile');
  const procs: Record<string, Process> = {};
  const at = trampoline().at;
  const pa = (p: Process, la: number): number => {
    const x = walk(m, p.space.userRoot, la);
    if (x === null) throw new Error(`${p.name}: ${la.toString(16)} not mapped`);
    return x;
  };
  const write = (p: Process, la: number, v: number): void => {
    m.mem.write32(pa(p, la), v >>> 0);
    m.mem.write32(pa(p, la + 4), Math.floor(v / 2 ** 32) >>> 0);
  };
  // Words are read signed (status codes are small negatives; nothing here is above 2^53).
  const read = (p: Process, la: number): number =>
    m.mem.read32(pa(p, la)) + (m.mem.read32(pa(p, la + 4)) | 0) * 2 ** 32;
  for (const n of names) {
    const l = loadElf(k, n, g.bytes);
    abis[n]?.attach(l.process, l.image.end);
    procs[n] = l.process;
    const param = symbol(g, 'param');
    const labels = [
      at.sb_vmfunc_call,
      at.sb_vmfunc_return,
      at.sb_server_entry,
      at.sb_client_return,
      at.sb_abort,
    ];
    labels.forEach((v, i) => write(l.process, param + i * 8, v));
    secretOf(l.process).forEach((v, i) => write(l.process, symbol(g, 'secret') + i * 8, v));
  }
  const s: Scene = {
    m,
    k,
    sb,
    g,
    procs,
    abis,
    sym: (name) => symbol(g, name),
    server: (name, handler, so = {}) =>
      sb.registerServer(procs[name]!, { handler: symbol(g, handler), ...so }),
    bind: (client, serverId, bufferBytes) =>
      sb.registerClient(m.core(0), procs[client]!, serverId, {
        ...(bufferBytes !== undefined && { bufferBytes }),
      }),
    start: (proc, entry, args = [], so = {}) =>
      k.createThread(procs[proc]!, `${proc}:${entry}`, machineCodeBody(m, { quantum: o.quantum }), {
        entry: symbol(g, entry),
        machineCode: true,
        args: args.length > 3 ? [args[0]!, args[1]!, args[2]!] : args,
        ...(so.core !== undefined && { core: so.core }),
        ...(so.priority !== undefined && { priority: so.priority }),
      }),
    run: (maxSteps = 2_000_000) => {
      let left = maxSteps;
      while (left > 0) {
        const n = k.run(Math.min(left, 100_000));
        left -= n;
        if (n < 100_000) break;
      }
    },
    word: (proc, name, i = 0) => read(procs[proc]!, symbol(g, name) + i * 8),
    setWord: (proc, name, i, v) => write(procs[proc]!, symbol(g, name) + i * 8, v),
    assertSecrets: () => {
      for (const p of Object.values(procs))
        assert.deepEqual(
          Array.from({ length: 8 }, (_, i) => read(p, symbol(g, 'secret') + i * 8)),
          secretOf(p),
          `${p.name}'s secret changed`,
        );
    },
  };
  return s;
}

/** A thread that ran to its own exit(0) (the last thread's exit ends its process). */
export function assertExited(t: Thread): void {
  assert.equal(t.exitReason, 'exit(0)', `${t.name}: ${t.exitReason}`);
}

/** A thread the kernel stopped (a fault of its own), with the reason matching `why`. */
export function assertStopped(t: Thread, why: RegExp): void {
  assert.equal(t.state, ThreadState.Stopped, `${t.name} was not stopped (${t.state})`);
  assert.match(t.exitReason, why);
}
