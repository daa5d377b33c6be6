// Runs one static x86-64 Linux program (an ELF file) on a one-core machine under a
// Subkernel, with the Linux system-call layer in place of the kernel's own calls: what
// `skybridge run` does. The result is what the program printed, how it ended, and what the
// machine's counters measured over the whole run (boot included, as the clock is).

import { Mode } from '../hw/counters.ts';
import { Machine } from '../hw/machine.ts';
import { SKYLAKE, type CpuProfile } from '../hw/profile.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import { USER_STACK_TOP } from '../kernel/layout.ts';
import { LinuxAbi } from '../kernel/linux/abi.ts';
import { machineCodeBody } from '../kernel/machine-code.ts';
import { pokeUser } from '../kernel/user-memory.ts';
import type { Thread } from '../kernel/thread.ts';
import { buildInitialStack } from './initial-stack.ts';
import { bootKernel, type KernelName } from './kernels.ts';

export const RUN_KERNELS = {
  sel4: 'seL4',
  fiasco: 'Fiasco.OC',
  zircon: 'Zircon',
} as const satisfies Record<string, KernelName>;
export type RunKernel = keyof typeof RUN_KERNELS;

/** The program's stack, mapped at once (Linux lets it grow to 8 MiB by default; 1 MiB covers
 *  the C programs here with room to spare and costs 256 frames). */
export const PROGRAM_STACK_BYTES = 1024 * 1024;

export interface RunOptions {
  kernel: RunKernel;
  /** argv, argv[0] first. */
  args: string[];
  /** User instructions the program may retire before it is stopped (default: no limit). */
  maxInstructions?: number;
  /** Seed of AT_RANDOM's bytes and of getrandom (default 1). */
  seed?: number;
  profile?: CpuProfile;
  kpti?: boolean;
  pcid?: boolean;
}

export type RunExit =
  { kind: 'exited'; status: number } | { kind: 'fault'; description: string } | { kind: 'limit' };

export interface RunResult {
  exit: RunExit;
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** The writes to stdout and stderr in the order the program made them. */
  console: { fd: 1 | 2; bytes: Uint8Array }[];
  /** The core's clock at the end. */
  cycles: number;
  instructions: { user: number; kernel: number };
  /** Every non-zero counter, summed over owners and modes. */
  counters: { name: string; unit: string; value: number }[];
  /** System calls the program made that the Linux layer does not implement. */
  warnings: string[];
}

/** What killProcess is told when the budget runs out (src/kernel/subkernel.ts). */
const BUDGET_SPENT = 'instruction budget spent';
/** Kernel steps per k.run call; the loop goes on while a call uses them all. */
const STEPS = 100_000;

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Copies the initial stack into the thread's (already mapped) stack pages. */
function exitOf(abi: LinuxAbi, t: Thread): RunExit {
  if (abi.exitStatus !== null) return { kind: 'exited', status: abi.exitStatus };
  const why = t.process.killReason || t.exitReason;
  if (why === BUDGET_SPENT) return { kind: 'limit' };
  return { kind: 'fault', description: why || 'the program stopped without exiting' };
}

/** Loads and runs `file`; throws the loader's LoadError/ElfFormatError on bad input. */
export function runProgram(file: Uint8Array, o: RunOptions): RunResult {
  const profile = o.profile ?? SKYLAKE;
  const seed = o.seed ?? 1;
  const m = new Machine({ cores: 1, profile });
  const abi = new LinuxAbi({ seed, frequencyGHz: profile.frequencyGHz });
  const cfg = {
    ...(o.kpti !== undefined && { kpti: o.kpti }),
    ...(o.pcid !== undefined && { pcid: o.pcid }),
  };
  const k = bootKernel(RUN_KERNELS[o.kernel], m, cfg, [abi]);
  const { process: proc, image } = loadElf(k, 'program', file);
  abi.attach(proc, image.end);
  // Thread 0's stack ends at USER_STACK_TOP (Subkernel.createThread); leave a page of it
  // for the program's own frames at the least.
  const stack = buildInitialStack(USER_STACK_TOP, o.args, seed, PROGRAM_STACK_BYTES - 4096);
  const body = machineCodeBody(m, {
    ...(o.maxInstructions !== undefined && { maxInstructions: o.maxInstructions }),
  });
  const t = k.createThread(proc, 'main', body, {
    entry: image.entry,
    rsp: stack.rsp,
    machineCode: true,
    stackBytes: PROGRAM_STACK_BYTES,
  });
  pokeUser(k, t, stack.base, stack.bytes);
  while (k.run(STEPS) === STEPS);
  const snap = m.snapshot();
  return {
    exit: exitOf(abi, t),
    stdout: concat(abi.console.filter((w) => w.fd === 1).map((w) => w.bytes)),
    stderr: concat(abi.console.filter((w) => w.fd === 2).map((w) => w.bytes)),
    console: abi.console,
    cycles: m.cores[0]!.cycles,
    instructions: {
      user: snap.get('instructions', { mode: Mode.User }),
      kernel: snap.get('instructions', { mode: Mode.Kernel }),
    },
    counters: snap.rows().map((r) => ({ name: r.counter, unit: r.unit, value: r.value })),
    warnings: [...abi.warnings],
  };
}
