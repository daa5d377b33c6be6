// Building a scene of guest programs that talk over guest/storage/rpc.h: loading each program
// as a process (with rpc.h's kernel number and its park target set), writing its words,
// starting its threads at C entry points, and filling its rpc_chan connection ends. The
// storage stack, the multicore echo and multicore SQLite scenes are built with it.

import type { Machine } from '../hw/machine.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import { USER_IPC_BUFFERS } from '../kernel/layout.ts';
import { machineCodeBody } from '../kernel/machine-code.ts';
import type { Process } from '../kernel/process.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import type { Thread } from '../kernel/thread.ts';
import { guestImage, readWords, symbol, writeWord, type GuestImage } from './guest-image.ts';
import type { KernelName } from './kernels.ts';
import { parkTarget } from './park.ts';

/** rpc.h's transport and kernel numbers (RPC_SKYBRIDGE ... RPC_ZIRCON). */
export const RPC = { skybridge: 1, seL4: 2, 'Fiasco.OC': 3, Zircon: 4 } as const;
/** Words of rpc.h's struct rpc_chan (kind, target, buffer, bytes). */
export const CHAN_WORDS = 4;

export interface RpcScene {
  /** Loads guest program `image` as process `name`. */
  load(name: string, image: string): Process;
  imageOf(p: Process): GuestImage;
  /** Word `i` of `p`'s array `name`. */
  set(p: Process, name: string, i: number, v: number): void;
  word(p: Process, name: string, i?: number): number;
  /** A thread of `p` entering C function `entry` with `arg` and its IPC buffer / UTCB (the
   *  second argument: createThread maps it there). */
  start(p: Process, entry: string, arg: number, core: number, priority: number): Thread;
  /** A connection end in `p`'s `name` (an rpc_chan, or element `i` of an array of them). */
  chan(p: Process, name: string, i: number, kind: number, target: number): void;
}

/**
 * A scene on kernel `k` (`kernel`): every process parks in capability slot `parkSlot`
 * (seL4), and every thread runs the machine code `body()` gives it.
 */
export function rpcScene(
  m: Machine,
  k: Subkernel,
  kernel: KernelName,
  parkSlot: number,
  body: () => ReturnType<typeof machineCodeBody> = () => machineCodeBody(m),
): RpcScene {
  const images = new Map<Process, GuestImage>();
  const imageOf = (p: Process): GuestImage => images.get(p)!;
  const set = (p: Process, name: string, i: number, v: number): void =>
    writeWord(k, { process: p }, symbol(imageOf(p), name) + i * 8, v);
  return {
    imageOf,
    set,
    word: (p, name, i = 0) => readWords(k, { process: p }, symbol(imageOf(p), name) + i * 8, 1)[0]!,
    load(name, image) {
      const g = guestImage(image);
      const p = loadElf(k, name, g.bytes).process;
      images.set(p, g);
      set(p, 'rpc_kernel', 0, RPC[kernel]);
      set(p, 'rpc_park_target', 0, parkTarget(k, kernel, p, parkSlot));
      return p;
    },
    start: (p, entry, arg, core, priority) =>
      k.createThread(p, `${p.name}:${entry}:${arg}`, body(), {
        entry: symbol(imageOf(p), entry),
        machineCode: true,
        core,
        priority,
        args: [arg, USER_IPC_BUFFERS + p.threads.length * 4096],
      }),
    chan(p, name, i, kind, target) {
      set(p, name, i * CHAN_WORDS, kind);
      set(p, name, i * CHAN_WORDS + 1, target);
    },
  };
}
