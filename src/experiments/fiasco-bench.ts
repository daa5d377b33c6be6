// sel4bench's IPC benchmark on the Fiasco.OC Subkernel (mirrors sel4bench.ts): a client
// calls an IPC gate bound to a server thread that waits in l4_ipc_wait and then loops in
// l4_ipc_reply_and_wait. The client stamps right before l4_ipc_call and the server right
// after its wait returns (one-way call); the server stamps before l4_ipc_reply_and_wait and
// the client after its call returns (one-way reply); the client's two stamps give the round
// trip. The overhead of two back-to-back stamps is measured and subtracted. (L4Re's own
// figure, kernels.md: one-way inter-address-space IPC, 613 instructions / 1172 cycles on a
// Xeon Gold 6248R.)

import { rdtsc } from '../hw/isa.ts';
import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import type { CodeLayout } from '../kernel/code-layout.ts';
import { Fiasco } from '../kernel/fiasco/fiasco.ts';
import { FiascoLib } from '../kernel/fiasco/libfiasco.ts';
import { Rights } from '../kernel/fiasco/objects.ts';
import { DEFAULT_CONFIG, Subkernel } from '../kernel/subkernel.ts';

export interface FiascoCase {
  /** Client and server in different address spaces (tasks) or one. */
  interAs: boolean;
  /** Message length in words (0..63). */
  words: number;
  kpti: boolean;
  pcid: boolean;
}

export interface FiascoResult {
  call: number;
  reply: number;
  roundTrip: number;
  overhead: number;
  /** Instructions retired per round trip (all modes). */
  instructions: number;
}

const WARMUP = 16;
const RUNS = 64;

export function runFiascoBench(profile: CpuProfile, c: FiascoCase): FiascoResult {
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile });
  const fiasco = new Fiasco();
  const k = new Subkernel(m, fiasco, { ...DEFAULT_CONFIG, kpti: c.kpti, pcid: c.pcid });
  fiasco.attach(k);
  let clientLib!: FiascoLib;
  let serverLib!: FiascoLib;
  let clientRdtsc = 0;
  let serverRdtsc = 0;
  const lay = (lib: (l: FiascoLib) => void, stamp: (a: number) => void) => (t: CodeLayout) => {
    lib(FiascoLib.layout(t));
    stamp(t.insn('rdtsc'));
  };
  const client = k.createProcess(
    'client',
    lay(
      (l) => (clientLib = l),
      (a) => (clientRdtsc = a),
    ),
  );
  const server = c.interAs
    ? k.createProcess(
        'server',
        lay(
          (l) => (serverLib = l),
          (a) => (serverRdtsc = a),
        ),
      )
    : client;
  if (!c.interAs) {
    serverLib = clientLib;
    serverRdtsc = clientRdtsc;
  }
  const total = WARMUP + RUNS;
  const calls: number[] = [];
  const replies: number[] = [];
  const trips: number[] = [];
  const msg = Array.from({ length: c.words }, (_, i) => i + 1);
  let clientStamp = 0;
  let serverStamp = 0;
  let instr0 = 0;
  let instr1 = 0;
  let overhead = 0;
  const srv = k.createThread(
    server,
    'server',
    (u) =>
      (function* () {
        yield* serverLib.wait(u);
        for (let i = 0; i < total; i++) {
          calls.push(rdtsc(u.core, serverRdtsc) - clientStamp);
          serverStamp = rdtsc(u.core, serverRdtsc);
          yield* serverLib.replyAndWait(u, msg);
        }
      })(),
    { priority: 101 },
  );
  fiasco.putCap(client, 1, fiasco.newGate(srv, 0x10), Rights.CW);
  k.createThread(
    client,
    'client',
    (u) =>
      (function* () {
        const o0 = rdtsc(u.core, clientRdtsc);
        overhead = rdtsc(u.core, clientRdtsc) - o0;
        for (let i = 0; i < total; i++) {
          if (i === WARMUP) instr0 = m.snapshot().get('instructions');
          const start = rdtsc(u.core, clientRdtsc);
          clientStamp = start;
          yield* clientLib.call(u, 1, msg);
          const end = rdtsc(u.core, clientRdtsc);
          replies.push(end - serverStamp);
          trips.push(end - start);
        }
        instr1 = m.snapshot().get('instructions');
      })(),
    { priority: 100 },
  );
  k.run(100_000);
  if (trips.length !== total)
    throw new Error(`fiasco-bench: ${trips.length} of ${total} round trips completed`);
  const mean = (xs: number[]): number =>
    xs.slice(WARMUP).reduce((a, b) => a + b, 0) / RUNS - overhead;
  return {
    call: mean(calls),
    reply: mean(replies),
    roundTrip: mean(trips),
    overhead,
    instructions: (instr1 - instr0) / RUNS,
  };
}
