// SkyBridge's IPC measured the same way as sel4bench's (ipc-harness.ts): guest/skybridge/
// sb-ipcbench.c, built by gcc, is the client and each server; the client's sb_call runs the
// real trampoline and the server's C handler as machine code, on a Subkernel (seL4 by
// default) with SkyBridge built in. Stamps are RDTSC in the guest's own code; longer messages
// go through the shared buffer (the client writes it inside the timed window, the handler
// copies it in). The phase breakdown comes from a third run that stops the interpreter at
// each label of the trampoline (stopping costs no simulated cycles).

import { R } from '../hw/core.ts';
import type { CounterSnapshot } from '../hw/counters.ts';
import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import { LinuxAbi } from '../kernel/linux/abi.ts';
import { machineCodeBody, runMachineCode } from '../kernel/machine-code.ts';
import type { MitigationConfig } from '../kernel/mitigations.ts';
import type { Process } from '../kernel/process.ts';
import type { ThreadCode } from '../kernel/thread.ts';
import type { UserApi } from '../kernel/user.ts';
import { summarize, type IpcStats, type Stats } from './experiment.ts';
import { guestImage, readWords, symbol, writeWord } from './guest-image.ts';
import { ipcResult, RUNS, WARMUP, type BenchRun } from './ipc-harness.ts';
import { bootKernel, type KernelName } from './kernels.ts';
import { newSkyBridge, trampoline, type TrampolineName } from './skybridge-setup.ts';

export interface SbCase {
  /** The Subkernel SkyBridge is built into (seL4 by default). */
  kernel?: KernelName;
  /** Bytes through the shared buffer (0: arguments in registers only). */
  bytes: number;
  kpti: boolean;
  pcid: boolean;
  /** client → A → B instead of client → A. */
  chain?: boolean;
  /** Measured calls after the warm-up (default RUNS). */
  runs?: number;
  /** Which build of the trampoline (default: sb-trampoline; skybridge-setup.ts). */
  trampoline?: TrampolineName;
  /** Speculative-execution mitigations in the kernel (none when absent; mitigations.ts). */
  mitigations?: Partial<MitigationConfig>;
}

export interface SbResult {
  call: number;
  reply: number;
  roundTrip: number;
  instructions: number;
  /** Mean cycles per phase of the trampoline (from the probe run). */
  phases: Record<string, number>;
  /** The spread of the measured calls' figures, and of each phase's. */
  stats: IpcStats & { phases: Record<string, Stats> };
  /** The machine's counters across the measured round trips (ipc-harness.ts). */
  counters: CounterSnapshot;
}

/** Phases of one direct call, each from one trampoline label to the next. */
const PHASES = [
  'client entry (save, binding record, thread block)',
  'VMFUNC to the server',
  'server entry (tag, key check, stack)',
  'handler',
  'server exit (free stack, key)',
  'VMFUNC back',
  'client exit (checks, restore)',
];

interface Setup {
  run: BenchRun;
  m: Machine;
  client: Process;
}

function setup(
  profile: CpuProfile,
  c: SbCase,
  rounds: number,
  warm: number,
  body?: (m: Machine) => (u: UserApi) => ThreadCode,
  booted?: (k: BenchRun['k']) => void,
): Setup {
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile });
  const sb = newSkyBridge(undefined, c.trampoline);
  const abi = new LinuxAbi({ seed: 1, frequencyGHz: profile.frequencyGHz });
  const { kpti, pcid, mitigations } = c;
  const k = bootKernel(c.kernel ?? 'seL4', m, { kpti, pcid, mitigations }, [sb, abi]);
  booted?.(k);
  const g = guestImage('sb-ipcbench');
  const client = loadElf(k, 'client', g.bytes);
  abi.attach(client.process, client.image.end);
  const server = loadElf(k, 'server', g.bytes).process;
  let sid: number;
  if (c.chain) {
    const leaf = loadElf(k, 'server-b', g.bytes).process;
    const leafId = sb.registerServer(leaf, { handler: symbol(g, 'server_handler') });
    sid = sb.registerServer(server, { handler: symbol(g, 'chain_handler') });
    sb.registerClient(m.core(0), server, leafId, { bufferBytes: Math.max(4096, c.bytes) });
    writeWord(k, { process: server }, symbol(g, 'chain_next'), leafId);
  } else {
    sid = sb.registerServer(server, { handler: symbol(g, 'server_handler') });
  }
  sb.registerClient(m.core(0), client.process, sid, { bufferBytes: Math.max(4096, c.bytes) });
  const t = k.createThread(client.process, 'client', (body ?? machineCodeBody)(m), {
    entry: symbol(g, 'client_main'),
    machineCode: true,
    args: [rounds, sid, c.bytes],
  });
  writeWord(k, t, symbol(g, 'warm_rounds'), warm);
  while (k.run(100_000) === 100_000);
  if (abi.exitStatus !== 0)
    throw new Error(
      `SkyBridge benchmark: the client ${abi.exitStatus === null ? `stopped: ${t.exitReason || client.process.killReason}` : 'saw failed calls'}`,
    );
  // The server's stamps are in the server's memory (a server has no thread of its own).
  return {
    run: {
      k,
      client: t,
      server: { process: server },
      instructions: m.snapshot().get('instructions'),
    },
    m,
    client: client.process,
  };
}

/** A machine-code body that stops at each trampoline label in turn and at the call's
 *  return address, noting the core's clock there. */
function probeBody(
  laps: number[][],
  handler: number,
  k: () => BenchRun['k'],
  name?: TrampolineName,
) {
  const at = trampoline(name).at;
  return (m: Machine) =>
    function* (u: UserApi): ThreadCode {
      const core = u.core;
      const cpu = m.cpus[core.id]!;
      const order = [
        at.sb_call,
        at.sb_vmfunc_call,
        at.sb_server_entry,
        -2,
        at.sb_handler_return,
        at.sb_vmfunc_return,
        at.sb_client_return,
        -1,
      ];
      let step = 0;
      let lap: number[] = [];
      let back = 0;
      for (;;) {
        const want = order[step] === -1 ? back : order[step] === -2 ? handler : order[step]!;
        yield* runMachineCode(m, u, { stopAt: want });
        if (step === 0) {
          // The return address, read around the caches (the probe costs nothing).
          back = readWords(k(), u.thread, core.regs.get(R.RSP), 1)[0]!;
          lap = [];
        }
        lap.push(core.cycles);
        step = (step + 1) % order.length;
        if (step === 0) laps.push(lap);
        // Step over the instruction at the label, so the next run does not stop at once.
        cpu.run(Infinity, -1, 1);
      }
    };
}

export function runSkyBridgeBench(profile: CpuProfile, c: SbCase): SbResult {
  const runs = c.runs ?? RUNS;
  const total = WARMUP + runs;
  const r = setup(profile, c, total, total);
  const warm = setup(profile, c, WARMUP, total);
  const ipc = ipcResult(guestImage('sb-ipcbench'), r.run, warm.run, runs);
  const laps: number[][] = [];
  const phases: Record<string, number> = {};
  const phaseStats: Record<string, Stats> = {};
  // Phases of the direct call only (a chain's nested call interleaves its labels).
  if (!c.chain) {
    let kernel!: BenchRun['k'];
    const handler = symbol(guestImage('sb-ipcbench'), 'server_handler');
    setup(
      profile,
      c,
      total,
      total,
      probeBody(laps, handler, () => kernel, c.trampoline),
      (k) => (kernel = k),
    );
  }
  const measured = laps.slice(WARMUP, total);
  if (measured.length > 0)
    PHASES.forEach((name, i) => {
      const xs = measured.map((l) => l[i + 1]! - l[i]!);
      phases[name] = xs.reduce((a, b) => a + b, 0) / xs.length;
      phaseStats[name] = summarize(xs);
    });
  return {
    call: ipc.call,
    reply: ipc.reply,
    roundTrip: ipc.roundTrip,
    instructions: ipc.instructions,
    counters: ipc.counters,
    phases,
    stats: { ...ipc.stats, phases: phaseStats },
  };
}
