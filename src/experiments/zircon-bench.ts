// sel4bench's IPC benchmark shape on the Zircon Subkernel, with Zircon's own calls (as
// Fuchsia's channel round-trip microbenchmarks do them): the client loops on
// zx_channel_call; the server loops on zx_object_wait_one(READABLE), zx_channel_read, and
// zx_channel_write of a reply with the request's txid. Stamps (RDTSC in each program's own
// text): the client's right before zx_channel_call and the server's right after
// zx_channel_read returns give the one-way call; the server's right before zx_channel_write
// and the client's right after its call returns give the one-way reply; the client's two
// give the round trip. The overhead of two back-to-back stamps is subtracted, as sel4bench
// does. Nothing here or in the kernel paths is fitted to any result.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { UBUF, ZirconLib } from '../kernel/zircon/libzircon.ts';
import { bootZircon } from '../kernel/zircon/zircon.ts';
import { measureIpc, type IpcResult } from './ipc-harness.ts';

export interface ZirconCase {
  /** Client and server in different processes (address spaces) or one. */
  interAs: boolean;
  /** Message length in bytes (at least 4: the txid). */
  bytes: number;
  kpti: boolean;
  pcid: boolean;
  /** Server on another core. */
  crossCore?: boolean;
}

export type ZirconResult = IpcResult;

export function runZirconBench(profile: CpuProfile, c: ZirconCase): ZirconResult {
  if (c.bytes < 4) throw new RangeError('a zx_channel_call message holds at least its txid');
  const m = new Machine({ cores: c.crossCore ? 2 : 1, memoryBytes: 1024 ** 3, profile });
  const { k, zircon } = bootZircon(m, { kpti: c.kpti, pcid: c.pcid });
  let ch!: { a: number; b: number };
  // One process: the server's buffers sit beyond the client's in the shared data pages.
  const srv = c.interAs ? 0 : Math.ceil(c.bytes / 64) * 64;
  if (srv * 2 > UBUF.recv - UBUF.send) throw new RangeError('message too long for one process');
  const payload = Uint8Array.from({ length: c.bytes }, (_, i) => i & 0xff);
  return measureIpc(m, {
    k,
    interAs: c.interAs,
    serverCore: c.crossCore ? 1 : 0,
    layoutLib: (t) => ZirconLib.layout(t),
    prepare(client, server) {
      ch = zircon.createChannel(client, server);
    },
    *server(u, lib, hooks, total) {
      for (let i = 0; i < total; i++) {
        yield* lib.waitOne(u, ch.b);
        yield* lib.read(u, ch.b, UBUF.recv + srv, c.bytes);
        hooks.received(u);
        // The reply carries the request's txid (the first four bytes); the rest of the
        // reply was written once, before the loop.
        if (i === 0) u.writeBytes(UBUF.send + srv, payload);
        u.store32(UBUF.send + srv, u.load32(UBUF.recv + srv));
        hooks.replying(u);
        yield* lib.write(u, ch.b, UBUF.send + srv, c.bytes);
      }
    },
    clientPrologue(u) {
      u.writeBytes(UBUF.send, payload);
    },
    *call(u, lib) {
      const st = yield* lib.call(u, ch.a, UBUF.send, c.bytes, UBUF.recv, c.bytes);
      if (st !== 0) throw new Error(`zx_channel_call returned ${st}`);
    },
  });
}
