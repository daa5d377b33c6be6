// The three Subkernels, by name, for experiments that compare them: how to boot each (with
// or without SkyBridge built in) and how to run its native IPC benchmark.

import type { CounterSnapshot } from '../hw/counters.ts';
import type { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { Fiasco } from '../kernel/fiasco/fiasco.ts';
import { Sel4 } from '../kernel/sel4/sel4.ts';
import { bootZircon } from '../kernel/zircon/zircon.ts';
import type { MitigationConfig } from '../kernel/mitigations.ts';
import {
  DEFAULT_CONFIG,
  Subkernel,
  type KernelExtension,
  type SubkernelConfig,
} from '../kernel/subkernel.ts';
import { runFiascoBench } from './fiasco-bench.ts';
import { runSel4Bench } from './sel4bench.ts';
import { runZirconBench } from './zircon-bench.ts';

export const KERNELS = ['seL4', 'Fiasco.OC', 'Zircon'] as const;
export type KernelName = (typeof KERNELS)[number];

/** Boots `name` on `m` with `extensions` (e.g. SkyBridge) built in. */
export function bootKernel(
  name: KernelName,
  m: Machine,
  cfg: Partial<SubkernelConfig>,
  extensions: readonly KernelExtension[] = [],
): Subkernel {
  const config = { ...DEFAULT_CONFIG, ...cfg };
  switch (name) {
    case 'seL4': {
      const p = new Sel4();
      const k = new Subkernel(m, p, config, extensions);
      p.attach(k);
      return k;
    }
    case 'Fiasco.OC': {
      const p = new Fiasco();
      const k = new Subkernel(m, p, config, extensions);
      p.attach(k);
      return k;
    }
    case 'Zircon':
      // Zircon's personality brings its own extension (a woken thread finishes its system
      // call before the exit path), which must run before any other.
      return bootZircon(m, config, undefined, extensions).k;
  }
}

export interface NativeIpc {
  call: number;
  reply: number;
  roundTrip: number;
  instructions: number;
  /** What the benchmark measures (each kernel's own IPC idiom). */
  how: string;
  /** The machine's counters across the measured round trips. */
  counters: CounterSnapshot;
}

/** The kernel's native round trip between two address spaces with an empty message. */
export function nativeIpc(
  name: KernelName,
  profile: CpuProfile,
  kpti: boolean,
  pcid: boolean,
  /** Measured round trips (default: the harness's). */
  runs?: number,
  /** Speculative-execution mitigations in the kernel (none by default). */
  mitigations?: Partial<MitigationConfig>,
): NativeIpc {
  const n = { ...(runs === undefined ? {} : { runs }), mitigations };
  switch (name) {
    case 'seL4':
      return {
        ...runSel4Bench(profile, { interAs: true, words: 0, kpti, pcid, ...n }),
        how: 'seL4_Call / seL4_ReplyRecv (fastpath)',
      };
    case 'Fiasco.OC':
      return {
        ...runFiascoBench(profile, { interAs: true, words: 0, kpti, pcid, ...n }),
        how: 'l4_ipc_call / l4_ipc_reply_and_wait through an IPC gate',
      };
    case 'Zircon':
      return {
        ...runZirconBench(profile, { interAs: true, bytes: 4, kpti, pcid, ...n }),
        how: 'zx_channel_call / zx_object_wait_one + zx_channel_read + zx_channel_write, 4-byte message (the txid)',
      };
  }
}
