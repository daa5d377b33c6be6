// sel4bench's IPC benchmark (sel4bench apps/ipc), run on the simulated machine: a client
// and a server thread, the server waiting in seL4_Recv / seL4_ReplyRecv, measured with the
// shared harness (ipc-harness.ts: stamps in caller and callee, overhead subtracted).
// sel4bench serialises with CPUID before RDTSC; under a VMM CPUID is a VM exit, and the
// model has no out-of-order execution to serialise, so the stamp is RDTSC alone.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { Sel4Lib } from '../kernel/sel4/libsel4.ts';
import { Cap, RIGHT, msgInfo } from '../kernel/sel4/objects.ts';
import { Sel4 } from '../kernel/sel4/sel4.ts';
import { DEFAULT_CONFIG, Subkernel } from '../kernel/subkernel.ts';
import { measureIpc, type IpcResult } from './ipc-harness.ts';

export type { IpcResult } from './ipc-harness.ts';

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
  /** Measured round trips after the warm-up (default: the harness's RUNS). */
  runs?: number;
}

export function runSel4Bench(profile: CpuProfile, c: IpcCase): IpcResult {
  const m = new Machine({ cores: c.crossCore ? 2 : 1, memoryBytes: 1024 ** 3, profile });
  const sel4 = new Sel4({ fastpath: c.fastpath ?? true });
  const k = new Subkernel(m, sel4, { ...DEFAULT_CONFIG, kpti: c.kpti, pcid: c.pcid });
  sel4.attach(k);
  const ep = sel4.newEndpoint();
  const msg = Array.from({ length: c.words }, (_, i) => i + 1);
  const info = msgInfo(0, 0, c.words);
  return measureIpc(m, {
    k,
    interAs: c.interAs,
    serverCore: c.crossCore ? 1 : 0,
    layoutLib: (t) => Sel4Lib.layout(t),
    prepare(client, server) {
      sel4.mint(client, 1, Cap.endpoint(ep, 1, RIGHT.Send | RIGHT.GrantReply));
      sel4.mint(server, 2, Cap.endpoint(ep, 0, RIGHT.Receive));
    },
    *server(u, lib, hooks, total) {
      yield* lib.recv(u, 2);
      for (let i = 0; i < total; i++) {
        hooks.received(u);
        hooks.replying(u);
        yield* lib.replyRecv(u, 2, info, msg);
      }
    },
    *call(u, lib) {
      yield* lib.call(u, 1, info, msg);
    },
    runs: c.runs,
  });
}
