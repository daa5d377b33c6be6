// The scene of `eptp-scale` and `worst-cases` (and their tests): seL4 with SkyBridge, N
// servers whose handlers are machine code that answer their own number (so a call that
// landed in the wrong server would say so), and client threads whose loop is TypeScript
// calling the real trampoline (ts-client.ts) in a given order of servers. Each call's cost
// is the difference of the client core's cycle counter across it: the trampoline, the
// handler, and whatever the kernel and the Rootkernel did meanwhile (a miss, a tick).

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import type { Block } from '../kernel/code-layout.ts';
import type { Process } from '../kernel/process.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import type { RootkernelConfig } from '../rootkernel/layout.ts';
import { SkyBridge } from '../skybridge/skybridge.ts';
import { callFromTs } from '../skybridge/ts-client.ts';
import { SEEDS } from './experiment.ts';
import { bootKernel } from './kernels.ts';
import { trampoline } from './skybridge-setup.ts';

/** What server `i` (0-based) answers: `mov eax, ANSWER_BASE + i; ret`. */
export const ANSWER_BASE = 0x5000_0000;

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/** Server `i`'s handler: (a loop of `spin` iterations,) `mov eax, ANSWER_BASE + i; ret`. */
function handlerBytes(i: number, spin = 0): Uint8Array {
  const loop = spin > 0 ? [0xb9, ...le32(spin), 0xff, 0xc9, 0x75, 0xfc] : []; // mov ecx; dec; jnz
  return new Uint8Array([...loop, 0xb8, ...le32(ANSWER_BASE + i), 0xc3]);
}

/** A handler that calls server `next` (sb_call from the server, on the client's thread)
 *  and answers its status if negative, else its value + 1. */
function chainBytes(next: number, trampolineVa: number): Uint8Array {
  const lo = trampolineVa % 2 ** 32;
  const hi = Math.floor(trampolineVa / 2 ** 32);
  return new Uint8Array([
    0x53, // push rbx (the stack 16-byte aligned at the call)
    0xbf,
    ...le32(next), // mov edi, next
    0x31,
    0xf6,
    0x31,
    0xd2,
    0x31,
    0xc9, // xor esi, edx, ecx
    0x48,
    0xb8,
    ...le32(lo),
    ...le32(hi), // movabs rax, sb_call
    0xff,
    0xd0, // call rax
    0x48,
    0x85,
    0xc0, // test rax, rax
    0x78,
    0x04, // js .out (the status)
    0x48,
    0x8d,
    0x42,
    0x01, // lea rax, [rdx + 1]
    0x5b, // .out: pop rbx
    0xc3, // ret
  ]);
}

export interface ScaleSceneOptions {
  profile: CpuProfile;
  servers: number;
  /** Dynamic lists with this many resident slots; undefined: static lists. */
  capacity?: number;
  cores?: number;
  /** Client processes, each bound to every server (default 1). */
  clients?: number;
  tickCycles?: number;
  timesliceTicks?: number;
  pcid?: boolean;
  maxConcurrent?: number;
  /** Iterations of a loop in each handler before it answers (default 0). */
  spin?: number;
  /** Server i calls server i + 1 (the last answers): a chain of `servers` (static lists). */
  chain?: boolean;
  /** Bind each client to the first server only (default: to every server). */
  bindFirstOnly?: boolean;
  /** The Rootkernel's options (default: its defaults). */
  rootkernel?: RootkernelConfig;
}

export interface ScaleScene {
  m: Machine;
  k: Subkernel;
  sb: SkyBridge;
  clients: Process[];
  /** Server ids, by server number. */
  ids: number[];
  /** An address in every client's text where a call returns (a NOP). */
  back: number;
  /** A block of every client's text to spend time in (16 instructions). */
  spin: Block;
}

export function scaleScene(o: ScaleSceneOptions): ScaleScene {
  const m = new Machine({ cores: o.cores ?? 1, memoryBytes: 1024 ** 3, profile: o.profile });
  const sb = new SkyBridge({
    seed: SEEDS.skybridge,
    trampoline: trampoline(),
    ...(o.capacity !== undefined && { dynamicLists: o.capacity }),
  });
  const k = bootKernel(
    'seL4',
    m,
    {
      tickCycles: o.tickCycles ?? 0,
      ...(o.timesliceTicks !== undefined && { timesliceTicks: o.timesliceTicks }),
      ...(o.pcid !== undefined && { pcid: o.pcid }),
      ...(o.rootkernel !== undefined && { rootkernel: o.rootkernel }),
    },
    [sb],
  );
  const ids: number[] = [];
  const procs: Process[] = [];
  // Server ids are given in order from 1, so server i's is i + 1 (checked below).
  for (let i = 0; i < o.servers; i++) {
    let h = 0;
    const last = i === o.servers - 1;
    const bytes =
      o.chain === true && !last
        ? chainBytes(i + 2, trampoline().at.sb_call)
        : handlerBytes(i, o.spin ?? 0);
    const p = k.createProcess(`s${i}`, (t) => (h = t.raw(bytes)));
    procs.push(p);
    ids.push(sb.registerServer(p, { handler: h, maxConcurrent: o.maxConcurrent ?? 4 }));
    if (ids[i] !== i + 1) throw new Error(`server ${i} got id ${ids[i]}`);
  }
  // A chain is bound from its end, so that each binding carries what is below it.
  if (o.chain === true)
    for (let i = o.servers - 2; i >= 0; i--)
      sb.registerClient(m.core(0), procs[i]!, ids[i + 1]!, { bufferBytes: 0 });
  let back = 0;
  let spin!: Block;
  const clients: Process[] = [];
  for (let c = 0; c < (o.clients ?? 1); c++) {
    // The return address must not be where any handler is: the interpreter stops at it
    // whatever view it is in.
    const p = k.createProcess(`client${c}`, (t) => {
      t.raw(new Uint8Array(64).fill(0x90));
      back = t.raw(new Uint8Array([0x90]));
      spin = t.block(16, 48);
    });
    for (const id of o.bindFirstOnly === true || o.chain === true ? ids.slice(0, 1) : ids)
      sb.registerClient(m.core(0), p, id, { bufferBytes: 0 });
    clients.push(p);
  }
  return { m, k, sb, clients, ids, back, spin };
}

export interface CallLog {
  /** Per call: the server number called, its status, whether the answer was that server's,
   *  and its cycles. */
  server: number[];
  status: number[];
  right: boolean[];
  cycles: number[];
  /** Per call: the misses the kernel refilled during it. */
  refills: number[];
  /** Per call: its answer. */
  value: number[];
}

/** Starts a client thread on `core` that calls the servers numbered in `order` (warm-up
 *  calls first, not logged). */
export function startCalls(
  s: ScaleScene,
  order: readonly number[],
  o: { core?: number; client?: number; warmup?: readonly number[]; priority?: number } = {},
): CallLog {
  const log: CallLog = { server: [], status: [], right: [], cycles: [], refills: [], value: [] };
  const p = s.clients[o.client ?? 0]!;
  s.k.createThread(
    p,
    `${p.name}:calls`,
    (u) =>
      (function* () {
        for (const i of o.warmup ?? []) yield* callFromTs(s.m, u, s.ids[i]!, [0], s.back);
        const stats = s.sb.dynStats(p);
        for (const i of order) {
          const before = u.core.cycles;
          const refills = stats.refills;
          const r = yield* callFromTs(s.m, u, s.ids[i]!, [0], s.back);
          log.cycles.push(u.core.cycles - before);
          log.refills.push(stats.refills - refills);
          log.value.push(r.value);
          log.server.push(i);
          log.status.push(r.status);
          log.right.push(r.status === 0 && r.value === ANSWER_BASE + i);
        }
      })(),
    { ...(o.core !== undefined && { core: o.core }), priority: o.priority ?? 100 },
  );
  return log;
}

/** Runs the kernel until every thread is done. */
export function runAll(s: ScaleScene): void {
  for (let i = 0; i < 1000; i++) if (s.k.run(100_000) < 100_000) return;
  throw new Error('the calls did not finish');
}

/** A deterministic generator (xorshift64*, Vigna 2016), as a float in [0, 1). */
export function rng(seed: number): () => number {
  let x = BigInt(seed) | 1n;
  const M = (1n << 64n) - 1n;
  return () => {
    x ^= x >> 12n;
    x ^= (x << 25n) & M;
    x ^= x >> 27n;
    return Number(((x * 0x2545f4914f6cdd1dn) & M) >> 11n) / 2 ** 53;
  };
}

/** `n` server numbers below `servers`, uniform. */
export function uniform(servers: number, n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * servers));
}

/** `n` server numbers below `servers`, Zipf-distributed with exponent `s` (YCSB's 0.99),
 *  rank k with probability ∝ 1/k^s; ranks are shuffled over the servers so that the hot
 *  ones are not the first bound. */
export function zipf(servers: number, n: number, seed: number, s = 0.99): number[] {
  const r = rng(seed);
  const cdf: number[] = [];
  let sum = 0;
  for (let k = 1; k <= servers; k++) cdf.push((sum += 1 / k ** s));
  const perm = Array.from({ length: servers }, (_, i) => i);
  for (let i = servers - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  return Array.from({ length: n }, () => {
    const x = r() * sum;
    let lo = 0;
    let hi = servers - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return perm[lo]!;
  });
}
