// A client and a server that exchange empty messages with each kernel's own native IPC,
// for experiments that put "an IPC" between pieces of client work (indirect). The server
// replies at once; the client's `call` is one request and its reply.

import type { CodeLayout } from '../kernel/code-layout.ts';
import { FiascoLib } from '../kernel/fiasco/libfiasco.ts';
import type { Fiasco } from '../kernel/fiasco/fiasco.ts';
import { Rights } from '../kernel/fiasco/objects.ts';
import type { Process } from '../kernel/process.ts';
import { Sel4Lib } from '../kernel/sel4/libsel4.ts';
import { Cap, RIGHT, msgInfo } from '../kernel/sel4/objects.ts';
import type { Sel4 } from '../kernel/sel4/sel4.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import type { UserEvent } from '../kernel/thread.ts';
import type { UserApi } from '../kernel/user.ts';
import { UBUF, ZirconLib } from '../kernel/zircon/libzircon.ts';
import type { Zircon } from '../kernel/zircon/zircon.ts';
import type { KernelName } from './kernels.ts';

export interface EchoPair {
  client: Process;
  server: Process;
  /** One request and its reply, from a client thread. */
  call(u: UserApi): Generator<UserEvent, void, void>;
}

/**
 * Creates the client (its text laid out by `clientBuild` after the kernel's stubs) and the
 * server process and the server's thread (priority 101) on kernel `name`.
 */
export function echoPair(
  name: KernelName,
  k: Subkernel,
  clientBuild: (t: CodeLayout) => void,
  clientData: number,
): EchoPair {
  switch (name) {
    case 'seL4': {
      const sel4 = k.personality as Sel4;
      let cl!: Sel4Lib;
      let sl!: Sel4Lib;
      const client = k.createProcess('client', (t) => ((cl = Sel4Lib.layout(t)), clientBuild(t)), {
        dataBytes: clientData,
      });
      const server = k.createProcess('server', (t) => (sl = Sel4Lib.layout(t)));
      const ep = sel4.newEndpoint();
      sel4.mint(client, 1, Cap.endpoint(ep, 1, RIGHT.Send | RIGHT.GrantReply));
      sel4.mint(server, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
      k.createThread(
        server,
        'server',
        (u) =>
          (function* () {
            yield* sl.recv(u, 1);
            for (;;) yield* sl.replyRecv(u, 1, msgInfo(0, 0, 0));
          })(),
        { priority: 101 },
      );
      return {
        client,
        server,
        *call(u) {
          yield* cl.call(u, 1, msgInfo(0, 0, 0));
        },
      };
    }
    case 'Fiasco.OC': {
      const fiasco = k.personality as Fiasco;
      let cl!: FiascoLib;
      let sl!: FiascoLib;
      const client = k.createProcess(
        'client',
        (t) => ((cl = FiascoLib.layout(t)), clientBuild(t)),
        { dataBytes: clientData },
      );
      const server = k.createProcess('server', (t) => (sl = FiascoLib.layout(t)));
      const srv = k.createThread(
        server,
        'server',
        (u) =>
          (function* () {
            yield* sl.wait(u);
            for (;;) yield* sl.replyAndWait(u, []);
          })(),
        { priority: 101 },
      );
      fiasco.putCap(client, 1, fiasco.newGate(srv, 0x10), Rights.CW);
      return {
        client,
        server,
        *call(u) {
          yield* cl.call(u, 1, []);
        },
      };
    }
    case 'Zircon': {
      const zircon = k.personality as Zircon;
      let cl!: ZirconLib;
      let sl!: ZirconLib;
      const client = k.createProcess(
        'client',
        (t) => ((cl = ZirconLib.layout(t)), clientBuild(t)),
        { dataBytes: clientData },
      );
      const server = k.createProcess('server', (t) => (sl = ZirconLib.layout(t)));
      const ch = zircon.createChannel(client, server);
      k.createThread(
        server,
        'server',
        (u) =>
          (function* () {
            for (;;) {
              yield* sl.waitOne(u, ch.b);
              // The client gone (PEER_CLOSED): the server ends too.
              if ((yield* sl.read(u, ch.b, UBUF.recv, 4)) !== 0) return;
              // The reply carries the request's txid.
              u.store32(UBUF.send, u.load32(UBUF.recv));
              yield* sl.write(u, ch.b, UBUF.send, 4);
            }
          })(),
        { priority: 101 },
      );
      return {
        client,
        server,
        *call(u) {
          const st = yield* cl.call(u, ch.a, UBUF.send, 4, UBUF.recv, 4);
          if (st !== 0) throw new Error(`zx_channel_call returned ${st}`);
        },
      };
    }
  }
}
