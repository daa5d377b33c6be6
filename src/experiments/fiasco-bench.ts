// sel4bench's IPC benchmark on the Fiasco.OC Subkernel (mirrors sel4bench.ts): a client
// calls an IPC gate bound to a server thread that waits in l4_ipc_wait and then loops in
// l4_ipc_reply_and_wait. The client stamps right before l4_ipc_call and the server right
// after its wait returns (one-way call); the server stamps before l4_ipc_reply_and_wait and
// the client after its call returns (one-way reply); the client's two stamps give the round
// trip. The overhead of two back-to-back stamps is measured and subtracted. (L4Re's own
// figure, kernels.md: one-way inter-address-space IPC, 613 instructions / 1172 cycles on a
// Xeon Gold 6248R.)

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { Fiasco } from '../kernel/fiasco/fiasco.ts';
import { FiascoLib } from '../kernel/fiasco/libfiasco.ts';
import { Rights } from '../kernel/fiasco/objects.ts';
import { DEFAULT_CONFIG, Subkernel } from '../kernel/subkernel.ts';
import { measureIpc, type IpcResult } from './ipc-harness.ts';

export interface FiascoCase {
  /** Client and server in different address spaces (tasks) or one. */
  interAs: boolean;
  /** Message length in words (0..63). */
  words: number;
  kpti: boolean;
  pcid: boolean;
}

export type FiascoResult = IpcResult;

export function runFiascoBench(profile: CpuProfile, c: FiascoCase): FiascoResult {
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile });
  const fiasco = new Fiasco();
  const k = new Subkernel(m, fiasco, { ...DEFAULT_CONFIG, kpti: c.kpti, pcid: c.pcid });
  fiasco.attach(k);
  const msg = Array.from({ length: c.words }, (_, i) => i + 1);
  return measureIpc(m, {
    k,
    interAs: c.interAs,
    layoutLib: (t) => FiascoLib.layout(t),
    connect(client, _server, srv) {
      fiasco.putCap(client, 1, fiasco.newGate(srv, 0x10), Rights.CW);
    },
    *server(u, lib, hooks, total) {
      yield* lib.wait(u);
      for (let i = 0; i < total; i++) {
        hooks.received(u);
        hooks.replying(u);
        yield* lib.replyAndWait(u, msg);
      }
    },
    *call(u, lib) {
      yield* lib.call(u, 1, msg);
    },
  });
}
