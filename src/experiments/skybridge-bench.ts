// SkyBridge's IPC measured the same way as sel4bench's (stamps in the caller and in the
// callee, RDTSC overhead subtracted), on the seL4 Subkernel with SkyBridge built in: a
// client calls a server's handler with directServerCall; longer messages go through the
// shared buffer (the client writes it before the call, the handler reads it).

import { rdtsc } from '../hw/isa.ts';
import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { bootKernel, type KernelName } from './kernels.ts';
import type { Block } from '../kernel/code-layout.ts';
import { directServerCall } from '../skybridge/direct-call.ts';
import { SkyBridge } from '../skybridge/skybridge.ts';
import { SEEDS, summarize, type IpcStats, type Stats } from './experiment.ts';

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
}

export interface SbResult {
  call: number;
  reply: number;
  roundTrip: number;
  instructions: number;
  /** Mean cycles per phase of the trampoline (from the probe). */
  phases: Record<string, number>;
  /** The spread of the measured calls' figures, and of each phase's. */
  stats: IpcStats & { phases: Record<string, Stats> };
}

const WARMUP = 16;
const RUNS = 64;
const PHASES = [
  'client entry (save, binding, identity)',
  'VMFUNC to the server',
  'server entry (stack, key check)',
  'handler',
  'server exit (key check, free stack)',
  'VMFUNC back',
  'client exit (key check, restore)',
];

export function runSkyBridgeBench(profile: CpuProfile, c: SbCase): SbResult {
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile });
  const sb = new SkyBridge({ seed: SEEDS.skybridge });
  const k = bootKernel(c.kernel ?? 'seL4', m, { kpti: c.kpti, pcid: c.pcid }, [sb]);
  let clientRdtsc = 0;
  let serverRdtsc = 0;
  let work!: Block;
  const client = k.createProcess('client', (t) => (clientRdtsc = t.insn('rdtsc')));
  const server = k.createProcess('server', (t) => {
    serverRdtsc = t.insn('rdtsc');
    work = t.block(2, 8);
  });
  let callStamp = 0;
  let replyStamp = 0;
  const calls: number[] = [];
  let sidB = 0;
  if (c.chain) {
    const leaf = k.createProcess('server-b', () => {});
    sidB = sb.registerServer(
      leaf,
      (_u, call) =>
        (function* () {
          return [call.args[0]! + 1];
        })(),
      1,
    );
  }
  const sid = sb.registerServer(
    server,
    (u, call) =>
      (function* () {
        calls.push(rdtsc(u.core, serverRdtsc) - callStamp);
        if (c.bytes > 0) u.readBytes(call.buffer, c.bytes);
        u.run(work);
        let r = call.args[0]! + 1;
        if (c.chain) {
          const x = yield* directServerCall(sb, u, sidB, [r]);
          if (x.ok) r = x.results[0]!;
        }
        replyStamp = rdtsc(u.core, serverRdtsc);
        return [r];
      })(),
    1,
  );
  if (c.chain) sb.registerClient(m.core(0), server, sidB);
  const binding = sb.registerClient(m.core(0), client, sid, {
    bufferBytes: Math.max(4096, c.bytes),
  });
  const replies: number[] = [];
  const trips: number[] = [];
  const phaseSums = new Array<number>(PHASES.length).fill(0);
  const phaseEach = PHASES.map((): number[] => []);
  let overhead = 0;
  let instr0 = 0;
  let instr1 = 0;
  const payload = new Uint8Array(c.bytes).map((_, i) => i & 0xff);
  const runs = c.runs ?? RUNS;
  k.createThread(client, 'client', (u) =>
    (function* () {
      const o0 = rdtsc(u.core, clientRdtsc);
      overhead = rdtsc(u.core, clientRdtsc) - o0;
      for (let i = 0; i < WARMUP + runs; i++) {
        if (i === WARMUP) instr0 = m.snapshot().get('instructions');
        const probe: number[] = [];
        const start = rdtsc(u.core, clientRdtsc);
        callStamp = start;
        // The message is part of the call: the client writes it into the shared buffer.
        if (c.bytes > 0) u.writeBytes(binding.buffer, payload);
        const r = yield* directServerCall(sb, u, sid, [i], { probe });
        const end = rdtsc(u.core, clientRdtsc);
        if (!r.ok) throw new Error(`direct call failed: ${r.why}`);
        replies.push(end - replyStamp);
        trips.push(end - start);
        if (i >= WARMUP)
          for (let p = 0; p < PHASES.length; p++) {
            phaseSums[p]! += probe[p + 1]! - probe[p]!;
            phaseEach[p]!.push(probe[p + 1]! - probe[p]!);
          }
      }
      instr1 = m.snapshot().get('instructions');
    })(),
  );
  k.run(100_000 + 10 * runs);
  if (trips.length !== WARMUP + runs)
    throw new Error(`skybridge bench: ${trips.length} calls completed`);
  const mean = (xs: number[]): number =>
    xs.slice(WARMUP).reduce((a, b) => a + b, 0) / runs - overhead;
  const phases: Record<string, number> = {};
  PHASES.forEach((name, i) => (phases[name] = phaseSums[i]! / runs));
  // The spread of the same per-call figures (the means above are computed as they were).
  const each = (xs: number[]): Stats => summarize(xs.slice(WARMUP).map((x) => x - overhead));
  const phaseStats: Record<string, Stats> = {};
  PHASES.forEach((name, i) => (phaseStats[name] = summarize(phaseEach[i]!)));
  return {
    call: mean(calls),
    reply: mean(replies),
    roundTrip: mean(trips),
    instructions: (instr1 - instr0) / runs,
    phases,
    stats: {
      call: each(calls),
      reply: each(replies),
      roundTrip: each(trips),
      phases: phaseStats,
    },
  };
}
