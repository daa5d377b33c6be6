// The storage stack on the simulated machine: processes of guest/storage/storage.c (a
// RAM-disk server, a file-system server, clients) connected either by SkyBridge or by the
// kernel's own IPC, on seL4, Fiasco.OC or Zircon. Each connection has a buffer shared by its
// two processes for bulk data (SkyBridge's own for SkyBridge, one the harness maps for native
// IPC), so the transports differ only in how control and the request words cross.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { SKYLAKE } from '../hw/profile.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import type { Fiasco } from '../kernel/fiasco/fiasco.ts';
import { Rights } from '../kernel/fiasco/objects.ts';
import { USER_IPC_BUFFERS } from '../kernel/layout.ts';
import { machineCodeBody } from '../kernel/machine-code.ts';
import type { Process } from '../kernel/process.ts';
import { Cap, RIGHT } from '../kernel/sel4/objects.ts';
import type { Sel4 } from '../kernel/sel4/sel4.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import type { Thread } from '../kernel/thread.ts';
import { resolveUser } from '../kernel/user-memory.ts';
import type { Zircon } from '../kernel/zircon/zircon.ts';
import type { SkyBridge } from '../skybridge/skybridge.ts';
import { guestImage, readWords, symbol, writeWord, type GuestImage } from './guest-image.ts';
import { bootKernel, type KernelName } from './kernels.ts';
import { newSkyBridge } from './skybridge-setup.ts';
import { parkTarget } from './park.ts';
import { RPC } from './rpc-scene.ts';

export type Transport = 'skybridge' | 'native';

/** What the kernel runs on: the Rootkernel with base-EPT pages of 1 GiB (the paper's
 *  choice), 2 MiB or 4 KiB, or bare hardware (no Rootkernel, no VMX: native paging only). */
export type Platform = 'ept-1g' | 'ept-2m' | 'ept-4k' | 'bare';
export const PLATFORMS: readonly Platform[] = ['bare', 'ept-1g', 'ept-2m', 'ept-4k'];

/** The machine's memory: 2 GiB, so that the guest RAM the Rootkernel leaves (all but its
 *  96 MiB) holds a whole GiB, the one every frame of the stack comes from, which its base
 *  EPT maps with one 1 GiB page as the paper's Rootkernel does. (A 1 GiB machine leaves
 *  928 MiB, which the base EPT can only map with 2 MiB pages.) */
const MEMORY_BYTES = 2 * 1024 ** 3;

/** Capability slots in every process (seL4, Fiasco.OC). */
const SLOT = { call: 1, serve: 2, park: 3 } as const;
/** Where the harness maps a native connection's shared buffer (the same address in both). */
const SHARED_BASE = 0x6000_0000_0000;
const SHARED_BYTES = 64 * 1024;

export interface StackOptions {
  kernel: KernelName;
  transport: Transport;
  profile?: CpuProfile;
  kpti?: boolean;
  pcid?: boolean;
  /** Bytes of each connection's shared buffer (default 64 KiB). */
  bufferBytes?: number;
  /** Default 'ept-1g'. */
  platform?: Platform;
}

export interface Stack {
  m: Machine;
  k: Subkernel;
  sb: SkyBridge | null;
  procs: Map<string, Process>;
  /** Loads a process of the stack from guest program `image` (default: storage). */
  add(name: string, image?: string): Process;
  /** Connects `client`'s `call` end to `server`, which serves with `handler` (SkyBridge) or
   *  a thread at `main` (native); returns the server's thread, if it has one. */
  connect(client: string, server: string, handler: string, main: string): Thread | null;
  /** Starts `entry(arg, ipcBuffer)` in `proc`. */
  start(proc: string, entry: string, arg: number, priority?: number): Thread;
  /** Runs until nothing is left to do (every thread parked or done). */
  run(): void;
  word(proc: string, sym: string, i?: number): number;
  setWord(proc: string, sym: string, i: number, v: number): void;
  /** `n` bytes of `proc`'s memory at symbol `sym`, read from physical memory. */
  bytes(proc: string, sym: string, n: number): Uint8Array;
}

export function storageStack(o: StackOptions): Stack {
  const profile = o.profile ?? SKYLAKE;
  const m = new Machine({ cores: 1, memoryBytes: MEMORY_BYTES, profile });
  const platform = o.platform ?? 'ept-1g';
  if (!PLATFORMS.includes(platform))
    throw new Error(`storage stack: platform ${platform}: one of ${PLATFORMS.join(', ')}`);
  if (platform === 'bare' && o.transport === 'skybridge')
    throw new Error('storage stack: SkyBridge needs the Rootkernel (not on bare hardware)');
  const sb = o.transport === 'skybridge' ? newSkyBridge() : null;
  const k = bootKernel(
    o.kernel,
    m,
    {
      kpti: o.kpti ?? false,
      pcid: o.pcid ?? true,
      rootkernel:
        platform === 'bare' ? null : { eptPages: platform.slice(4) as '1g' | '2m' | '4k' },
    },
    sb ? [sb] : [],
  );
  const procs = new Map<string, Process>();
  const images = new Map<string, GuestImage>();
  const imageOf = (name: string): GuestImage => images.get(name)!;
  const bytes = o.bufferBytes ?? SHARED_BYTES;
  let nextShared = 0;
  const set = (p: Process, name: string, i: number, v: number): void =>
    writeWord(k, { process: p }, symbol(imageOf(p.name), name) + i * 8, v);
  const proc = (name: string): Process => {
    const p = procs.get(name);
    if (p === undefined) throw new Error(`storage stack: no process ${name}`);
    return p;
  };
  const start = (name: string, entry: string, arg: number, priority = 100): Thread => {
    const p = proc(name);
    return k.createThread(p, `${name}:${entry}`, machineCodeBody(m), {
      entry: symbol(imageOf(name), entry),
      machineCode: true,
      priority,
      args: [arg, USER_IPC_BUFFERS + p.threads.length * 4096],
    });
  };
  return {
    m,
    k,
    sb,
    procs,
    add(name, image = 'storage') {
      const g = guestImage(image);
      const p = loadElf(k, name, g.bytes).process;
      procs.set(name, p);
      images.set(name, g);
      set(p, 'rpc_kernel', 0, RPC[o.kernel]);
      set(p, 'rpc_park_target', 0, parkTarget(k, o.kernel, p, SLOT.park));
      return p;
    },
    connect(clientName, serverName, handler, main) {
      const client = proc(clientName);
      const server = proc(serverName);
      if (sb !== null) {
        const id = sb.registerServer(server, {
          handler: symbol(imageOf(serverName), handler),
          maxConcurrent: 4,
        });
        sb.registerClient(m.core(0), client, id, { bufferBytes: bytes });
        set(client, 'call', 0, RPC.skybridge);
        set(client, 'call', 1, id);
        return null;
      }
      // A shared buffer at the same address in both.
      const va = SHARED_BASE + nextShared++ * 2 * bytes;
      const gpa = k.frames.frames(bytes / 4096);
      client.space.map(va, gpa, bytes, { writable: true, noExec: true });
      server.space.map(va, gpa, bytes, { writable: true, noExec: true });
      const kind = RPC[o.kernel];
      for (const [p, end] of [
        [client, 'call'],
        [server, 'serve'],
      ] as const) {
        set(p, end, 0, kind);
        set(p, end, 2, va);
        set(p, end, 3, bytes);
      }
      let t: Thread;
      switch (o.kernel) {
        case 'seL4': {
          const sel4 = k.personality as Sel4;
          const ep = sel4.newEndpoint();
          sel4.mint(client, SLOT.call, Cap.endpoint(ep, 1, RIGHT.Send | RIGHT.GrantReply));
          sel4.mint(server, SLOT.serve, Cap.endpoint(ep, 0, RIGHT.Receive));
          set(client, 'call', 1, SLOT.call);
          set(server, 'serve', 1, SLOT.serve);
          t = start(serverName, main, 0, 101);
          break;
        }
        case 'Fiasco.OC': {
          const fiasco = k.personality as Fiasco;
          t = start(serverName, main, 0, 101);
          fiasco.putCap(client, SLOT.call, fiasco.newGate(t, 0x10), Rights.CW);
          set(client, 'call', 1, SLOT.call);
          break;
        }
        case 'Zircon': {
          const ch = (k.personality as Zircon).createChannel(client, server);
          set(client, 'call', 1, ch.a);
          set(server, 'serve', 1, ch.b);
          t = start(serverName, main, 0, 101);
          break;
        }
      }
      return t;
    },
    start,
    run() {
      while (k.run(100_000) === 100_000);
    },
    word: (name, sym, i = 0) =>
      readWords(k, { process: proc(name) }, symbol(imageOf(name), sym) + i * 8, 1)[0]!,
    setWord: (name, sym, i, v) => set(proc(name), sym, i, v),
    bytes(name, sym, n) {
      const out = new Uint8Array(n);
      const at = symbol(imageOf(name), sym);
      for (let i = 0; i < n; i++) {
        const gpa = resolveUser(k, { process: proc(name) }, at + i, false);
        if (gpa === null) throw new Error(`${name}: ${sym}+${i} is not mapped`);
        out[i] = k.machine.mem.read8(gpa);
      }
      return out;
    },
  };
}
