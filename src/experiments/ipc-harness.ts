// The measurement every kernel's IPC benchmark shares, sel4bench's way: a client and a
// server (in two processes or one), each with an RDTSC in its own text; the client stamps
// right before its call and right after it returns, the server right after a request
// arrives and right before it replies. One-way call = server's arrival stamp − client's
// start stamp; one-way reply = client's end stamp − server's reply stamp; round trip =
// client's end − start; the cost of two back-to-back stamps is subtracted from each. Mean of
// RUNS after WARMUP.

import { rdtsc } from '../hw/isa.ts';
import type { Machine } from '../hw/machine.ts';
import type { CodeLayout } from '../kernel/code-layout.ts';
import type { Process } from '../kernel/process.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import type { Thread, ThreadCode, UserEvent } from '../kernel/thread.ts';
import type { UserApi } from '../kernel/user.ts';

export const WARMUP = 16;
export const RUNS = 64;

export interface IpcResult {
  call: number;
  reply: number;
  roundTrip: number;
  overhead: number;
  /** Instructions retired per round trip (all modes). */
  instructions: number;
}

/** Where the server's code tells the harness what happened. */
export interface ServerHooks {
  /** Right after a request arrived (before the server touches it). */
  received(u: UserApi): void;
  /** Right before the server replies. */
  replying(u: UserApi): void;
}

export interface IpcSpec<L> {
  k: Subkernel;
  /** Lays out the kernel's user library in a process's text. */
  layoutLib(t: CodeLayout): L;
  /** Client and server in different processes, or one. */
  interAs: boolean;
  serverCore?: number;
  /** The server thread's code: `total` requests, calling the hooks around each. */
  server(u: UserApi, lib: L, hooks: ServerHooks, total: number): ThreadCode;
  /** Before any thread exists: capabilities, channels. */
  prepare?(client: Process, server: Process): void;
  /** After the server thread exists, before the client's (e.g. an IPC gate bound to it). */
  connect?(client: Process, server: Process, serverThread: Thread): void;
  /** Once, before the client's timed loop (e.g. writing the request it sends every time). */
  clientPrologue?(u: UserApi, lib: L): void;
  /** One request and its reply, from the client. */
  call(u: UserApi, lib: L): Generator<UserEvent, void, void>;
  /** Measured round trips after the warm-up (default RUNS). */
  runs?: number;
}

export function measureIpc<L>(m: Machine, spec: IpcSpec<L>): IpcResult {
  const { k } = spec;
  let clientLib!: L;
  let serverLib!: L;
  let clientRdtsc = 0;
  let serverRdtsc = 0;
  const client = k.createProcess('client', (t) => {
    clientLib = spec.layoutLib(t);
    clientRdtsc = t.insn('rdtsc');
  });
  const server = spec.interAs
    ? k.createProcess('server', (t) => {
        serverLib = spec.layoutLib(t);
        serverRdtsc = t.insn('rdtsc');
      })
    : client;
  if (!spec.interAs) {
    serverLib = clientLib;
    serverRdtsc = clientRdtsc;
  }
  spec.prepare?.(client, server);
  const runs = spec.runs ?? RUNS;
  const total = WARMUP + runs;
  const calls: number[] = [];
  const replies: number[] = [];
  const trips: number[] = [];
  let clientStamp = 0;
  let serverStamp = 0;
  let overhead = 0;
  let instr0 = 0;
  let instr1 = 0;
  const hooks: ServerHooks = {
    received: (u) => void calls.push(rdtsc(u.core, serverRdtsc) - clientStamp),
    replying: (u) => void (serverStamp = rdtsc(u.core, serverRdtsc)),
  };
  const srv = k.createThread(server, 'server', (u) => spec.server(u, serverLib, hooks, total), {
    priority: 101,
    core: spec.serverCore ?? 0,
  });
  spec.connect?.(client, server, srv);
  k.createThread(
    client,
    'client',
    (u) =>
      (function* () {
        const o0 = rdtsc(u.core, clientRdtsc);
        overhead = rdtsc(u.core, clientRdtsc) - o0;
        spec.clientPrologue?.(u, clientLib);
        for (let i = 0; i < total; i++) {
          if (i === WARMUP) instr0 = m.snapshot().get('instructions');
          const start = rdtsc(u.core, clientRdtsc);
          clientStamp = start;
          yield* spec.call(u, clientLib);
          const end = rdtsc(u.core, clientRdtsc);
          replies.push(end - serverStamp);
          trips.push(end - start);
        }
        instr1 = m.snapshot().get('instructions');
      })(),
    { priority: 100 },
  );
  k.run(200_000 + 10 * total);
  if (trips.length !== total)
    throw new Error(`IPC benchmark: ${trips.length} of ${total} round trips completed`);
  const mean = (xs: number[]): number =>
    xs.slice(WARMUP).reduce((a, b) => a + b, 0) / runs - overhead;
  return {
    call: mean(calls),
    reply: mean(replies),
    roundTrip: mean(trips),
    overhead,
    instructions: (instr1 - instr0) / runs,
  };
}
