// A scene for the temporal experiment: one machine, a kernel with SkyBridge and a Linux
// system-call layer per process, every process guest/skybridge/sb-temporal.c (machine code
// built by gcc). One server process runs work_handler (or restart_handler); clients and
// bystanders are processes of their own with one thread each. Knobs are written and records
// read back through physical memory, never through the model's own bookkeeping.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import { LinuxAbi } from '../kernel/linux/abi.ts';
import { machineCodeBody } from '../kernel/machine-code.ts';
import type { Process } from '../kernel/process.ts';
import type { Subkernel } from '../kernel/subkernel.ts';
import type { Thread } from '../kernel/thread.ts';
import { pokeUser, resolveUser } from '../kernel/user-memory.ts';
import type { SkyBridge } from '../skybridge/skybridge.ts';
import { guestImage, symbol, type GuestImage } from './guest-image.ts';
import { bootKernel, type KernelName } from './kernels.ts';
import { newSkyBridge } from './skybridge-setup.ts';

export interface TemporalConfig {
  kernel: KernelName;
  cores: number;
  /** Timer period in cycles (0: no ticks). */
  tickCycles: number;
  timesliceTicks: number;
}

/** One request as the client recorded it. */
export interface Request {
  start: number;
  cycles: number;
  status: number;
  attempts: number;
  /** What the handler returned: the cycles it ran (0 when the call did not complete). */
  value: number;
  /** The longest gap the handler saw between two rounds of its loop (cycles). */
  gap: number;
  /** The server id the tag page showed right after that gap. */
  view: number;
}

/** What a bystander recorded: the gaps in its loop (when it was not running), its window
 *  (first and last stamp) and the rounds its loop made. */
export interface Bystander {
  gaps: { at: number; cycles: number }[];
  from: number;
  to: number;
  rounds: number;
}

export class TemporalScene {
  readonly m: Machine;
  readonly k: Subkernel;
  readonly sb: SkyBridge;
  private readonly g: GuestImage;
  private readonly abis: LinuxAbi[] = [];
  readonly procs = new Map<string, Process>();

  constructor(
    readonly cfg: TemporalConfig,
    profile: CpuProfile,
    names: readonly string[],
  ) {
    this.m = new Machine({ cores: cfg.cores, memoryBytes: 1024 ** 3, profile });
    this.sb = newSkyBridge();
    const abis = names.map(() => new LinuxAbi({ seed: 1, frequencyGHz: profile.frequencyGHz }));
    this.k = bootKernel(
      cfg.kernel,
      this.m,
      { tickCycles: cfg.tickCycles, timesliceTicks: cfg.timesliceTicks },
      [this.sb, ...abis],
    );
    this.g = guestImage('sb-temporal');
    names.forEach((n, i) => {
      const l = loadElf(this.k, n, this.g.bytes);
      abis[i]!.attach(l.process, l.image.end);
      this.procs.set(n, l.process);
    });
  }

  private proc(name: string): Process {
    const p = this.procs.get(name);
    if (p === undefined) throw new Error(`no process ${name}`);
    return p;
  }

  private pa(name: string, la: number, write: boolean): number {
    const x = resolveUser(this.k, { process: this.proc(name) }, la, write);
    if (x === null) throw new Error(`${name}: ${la.toString(16)} not mapped`);
    return x;
  }

  server(
    name: string,
    o: { maxConcurrent?: number; budgetTicks?: number },
    handler: 'work_handler' | 'restart_handler' = 'work_handler',
  ): number {
    return this.sb.registerServer(this.proc(name), { handler: symbol(this.g, handler), ...o });
  }

  bind(client: string, serverId: number): void {
    this.sb.registerClient(this.m.core(0), this.proc(client), serverId);
  }

  /** Sets the 64-bit global `name` of process `proc`. */
  set(proc: string, name: string, v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    pokeUser(this.k, { process: this.proc(proc) }, symbol(this.g, name), b);
  }

  /** Word `i` of global `name` in `proc`, signed. */
  word(proc: string, name: string, i = 0): number {
    const gpa = this.pa(proc, symbol(this.g, name) + i * 8, false);
    return Number(BigInt.asIntN(64, this.m.mem.read64(gpa)));
  }

  start(
    proc: string,
    entry: 'client_main' | 'bystander_main',
    args: readonly number[],
    core: number,
  ): Thread {
    return this.k.createThread(this.proc(proc), `${proc}:${entry}`, machineCodeBody(this.m), {
      entry: symbol(this.g, entry),
      machineCode: true,
      args,
      core,
      priority: 100,
    });
  }

  /** Runs until `done` holds (checked every `chunk` kernel steps) or nothing can happen. */
  run(done: () => boolean = () => false, chunk = 2_000): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      if (done()) return;
      if (this.k.run(chunk) < chunk) return;
    }
    throw new Error('temporal scene: ran too long');
  }

  requests(proc: string): Request[] {
    const n = this.word(proc, 'requests');
    return Array.from({ length: n }, (_, i) => ({
      start: this.word(proc, 'req_start', i),
      cycles: this.word(proc, 'req_cycles', i),
      status: this.word(proc, 'req_status', i),
      attempts: this.word(proc, 'req_attempts', i),
      value: this.word(proc, 'req_value', i),
      gap: this.word(proc, 'req_gap', i),
      view: this.word(proc, 'req_view', i),
    }));
  }

  bystander(proc: string): Bystander {
    const n = this.word(proc, 'gaps');
    return {
      gaps: Array.from({ length: n }, (_, i) => ({
        at: this.word(proc, 'gap_at', i),
        cycles: this.word(proc, 'gap_len', i),
      })),
      from: this.word(proc, 'window', 0),
      to: this.word(proc, 'window', 1),
      rounds: this.word(proc, 'rounds'),
    };
  }
}
