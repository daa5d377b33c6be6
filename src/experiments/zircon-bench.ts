// sel4bench's IPC benchmark shape on the Zircon Subkernel, with Zircon's own calls (as
// Fuchsia's channel round-trip microbenchmarks do them): the client loops on
// zx_channel_call; the server loops on zx_object_wait_one(READABLE), zx_channel_read, and
// zx_channel_write of a reply with the request's txid. Stamps (RDTSC in each program's own
// text): the client's right before zx_channel_call and the server's right after
// zx_channel_read returns give the one-way call; the server's right before zx_channel_write
// and the client's right after its call returns give the one-way reply; the client's two
// give the round trip. The overhead of two back-to-back stamps is subtracted, as sel4bench
// does. Nothing here or in the kernel paths is fitted to any result.

import { rdtsc } from '../hw/isa.ts';
import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import type { CodeLayout } from '../kernel/code-layout.ts';
import { UBUF, ZirconLib } from '../kernel/zircon/libzircon.ts';
import { bootZircon } from '../kernel/zircon/zircon.ts';

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

export interface ZirconResult {
  call: number;
  reply: number;
  roundTrip: number;
  overhead: number;
  /** Instructions retired per round trip (all modes). */
  instructions: number;
}

const WARMUP = 16;
const RUNS = 64;

export function runZirconBench(profile: CpuProfile, c: ZirconCase): ZirconResult {
  if (c.bytes < 4) throw new RangeError('a zx_channel_call message holds at least its txid');
  const m = new Machine({ cores: c.crossCore ? 2 : 1, memoryBytes: 1024 ** 3, profile });
  const { k, zircon } = bootZircon(m, { kpti: c.kpti, pcid: c.pcid });
  let clientLib!: ZirconLib;
  let serverLib!: ZirconLib;
  let clientRdtsc = 0;
  let serverRdtsc = 0;
  const lay =
    (set: (l: ZirconLib, at: number) => void) =>
    (t: CodeLayout): void => {
      const l = ZirconLib.layout(t);
      set(l, t.insn('rdtsc'));
    };
  const client = k.createProcess(
    'client',
    lay((l, at) => {
      clientLib = l;
      clientRdtsc = at;
    }),
  );
  const server = c.interAs
    ? k.createProcess(
        'server',
        lay((l, at) => {
          serverLib = l;
          serverRdtsc = at;
        }),
      )
    : client;
  if (!c.interAs) {
    serverLib = clientLib;
    serverRdtsc = clientRdtsc;
  }
  const ch = zircon.createChannel(client, server);
  // One process: the server's buffers sit beyond the client's in the shared data pages.
  const srv = c.interAs ? 0 : Math.ceil(c.bytes / 64) * 64;
  if (srv * 2 > UBUF.recv - UBUF.send) throw new RangeError('message too long for one process');
  const total = WARMUP + RUNS;
  const calls: number[] = [];
  const replies: number[] = [];
  const trips: number[] = [];
  let clientStamp = 0;
  let serverStamp = 0;
  let instr0 = 0;
  let instr1 = 0;
  let overhead = 0;
  const payload = Uint8Array.from({ length: c.bytes }, (_, i) => i & 0xff);
  k.createThread(
    server,
    'server',
    (u) =>
      (function* () {
        for (let i = 0; i < total; i++) {
          yield* serverLib.waitOne(u, ch.b);
          yield* serverLib.read(u, ch.b, UBUF.recv + srv, c.bytes);
          calls.push(rdtsc(u.core, serverRdtsc) - clientStamp);
          // The reply carries the request's txid (the first four bytes); the rest of the
          // reply was written once, before the loop.
          if (i === 0) u.writeBytes(UBUF.send + srv, payload);
          u.store32(UBUF.send + srv, u.load32(UBUF.recv + srv));
          serverStamp = rdtsc(u.core, serverRdtsc);
          yield* serverLib.write(u, ch.b, UBUF.send + srv, c.bytes);
        }
      })(),
    { priority: 101, core: c.crossCore ? 1 : 0 },
  );
  k.createThread(
    client,
    'client',
    (u) =>
      (function* () {
        const o0 = rdtsc(u.core, clientRdtsc);
        overhead = rdtsc(u.core, clientRdtsc) - o0;
        u.writeBytes(UBUF.send, payload);
        for (let i = 0; i < total; i++) {
          if (i === WARMUP) instr0 = m.snapshot().get('instructions');
          const start = rdtsc(u.core, clientRdtsc);
          clientStamp = start;
          const st = yield* clientLib.call(u, ch.a, UBUF.send, c.bytes, UBUF.recv, c.bytes);
          const end = rdtsc(u.core, clientRdtsc);
          if (st !== 0) throw new Error(`zx_channel_call returned ${st}`);
          replies.push(end - serverStamp);
          trips.push(end - start);
        }
        instr1 = m.snapshot().get('instructions');
      })(),
    { priority: 100 },
  );
  k.run(200_000);
  if (trips.length !== total)
    throw new Error(`zircon bench: ${trips.length} of ${total} round trips completed`);
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
