// sel4bench's IPC benchmark (sel4bench apps/ipc), run on the simulated machine: a client
// and a server thread, the server waiting in seL4_Recv / seL4_ReplyRecv. The client reads
// the time stamp counter right before seL4_Call and the server right after its receive
// returns (one-way call); the server stamps before seL4_ReplyRecv and the client after its
// call returns (one-way reply); and the client's two stamps give the round trip. As in
// sel4bench, the overhead of two back-to-back stamps is measured and subtracted. (sel4bench
// serialises with CPUID before RDTSC; under a VMM CPUID is a VM exit, and the model has no
// out-of-order execution to serialise, so the stamp is RDTSC alone.)

import { rdtsc } from '../hw/isa.ts';
import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { Sel4Lib } from '../kernel/sel4/libsel4.ts';
import { Cap, RIGHT, msgInfo } from '../kernel/sel4/objects.ts';
import { Sel4 } from '../kernel/sel4/sel4.ts';
import { DEFAULT_CONFIG, Subkernel } from '../kernel/subkernel.ts';
import type { CodeLayout } from '../kernel/code-layout.ts';

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
}

export interface IpcResult {
  call: number;
  reply: number;
  roundTrip: number;
  overhead: number;
  /** Instructions retired per round trip (all modes). */
  instructions: number;
}

const WARMUP = 16;
const RUNS = 64;

export function runSel4Bench(profile: CpuProfile, c: IpcCase): IpcResult {
  const m = new Machine({ cores: c.crossCore ? 2 : 1, memoryBytes: 1024 ** 3, profile });
  const sel4 = new Sel4({ fastpath: c.fastpath ?? true });
  const k = new Subkernel(m, sel4, { ...DEFAULT_CONFIG, kpti: c.kpti, pcid: c.pcid });
  sel4.attach(k);
  const ep = sel4.newEndpoint();
  let clientLib!: Sel4Lib;
  let serverLib!: Sel4Lib;
  let clientStamp = 0;
  let serverStamp = 0;
  const lay = (lib: (l: Sel4Lib) => void, stamps: (a: number) => void) => (t: CodeLayout) => {
    lib(Sel4Lib.layout(t));
    stamps(t.insn('rdtsc'));
  };
  let clientRdtsc = 0;
  let serverRdtsc = 0;
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
  sel4.mint(client, 1, Cap.endpoint(ep, 1, RIGHT.Send | RIGHT.GrantReply));
  sel4.mint(server, 2, Cap.endpoint(ep, 0, RIGHT.Receive));
  const total = WARMUP + RUNS;
  const calls: number[] = [];
  const replies: number[] = [];
  const trips: number[] = [];
  const msg = Array.from({ length: c.words }, (_, i) => i + 1);
  const info = msgInfo(0, 0, c.words);
  let instr0 = 0;
  let instr1 = 0;
  let overhead = 0;
  k.createThread(
    server,
    'server',
    (u) =>
      (function* () {
        yield* serverLib.recv(u, 2);
        for (let i = 0; i < total; i++) {
          calls.push(rdtsc(u.core, serverRdtsc) - clientStamp);
          serverStamp = rdtsc(u.core, serverRdtsc);
          yield* serverLib.replyRecv(u, 2, info, msg);
        }
      })(),
    { priority: 101, core: c.crossCore ? 1 : 0 },
  );
  k.createThread(
    client,
    'client',
    (u) =>
      (function* () {
        // Overhead: two back-to-back stamps, in the client, as sel4bench measures it.
        const o0 = rdtsc(u.core, clientRdtsc);
        overhead = rdtsc(u.core, clientRdtsc) - o0;
        for (let i = 0; i < total; i++) {
          if (i === WARMUP) instr0 = m.snapshot().get('instructions');
          const start = rdtsc(u.core, clientRdtsc);
          clientStamp = start;
          yield* clientLib.call(u, 1, info, msg);
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
    throw new Error(`sel4bench: ${trips.length} of ${total} round trips completed`);
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
