// The simulated side of differential testing: runs NativeCases in the interpreter on a guest
// that maps the same code and data addresses as the native runner, and returns results of
// the same shape (a fault becomes the signal Linux would have sent for it).

import { Guest } from '../guest.ts';
import { Trap } from '../../../src/hw/traps.ts';
import { Stop } from '../../../src/hw/cpu/interpreter.ts';
import {
  ARITH_FLAGS,
  CODE_BASE,
  DATA_BASE,
  DATA_BYTES,
  type CpuState,
  type NativeCase,
  type NativeResult,
  type NativeSignal,
} from './native.ts';

const SIGNAL_OF: Record<number, NativeSignal> = {
  0: 'SIGFPE',
  3: 'SIGTRAP',
  6: 'SIGILL',
  12: 'SIGSEGV',
  13: 'SIGSEGV',
  14: 'SIGSEGV',
};

export class Simulator {
  readonly g = new Guest();
  private readonly codeGpa: number;
  private readonly dataGpa: number;

  constructor() {
    this.codeGpa = this.g.mapData(Number(CODE_BASE), 4096, { user: true });
    this.dataGpa = this.g.mapData(Number(DATA_BASE), DATA_BYTES, {
      user: true,
      writable: true,
      noExec: true,
    });
  }

  run(c: NativeCase, maxInstructions = 10_000): NativeResult {
    const { g } = this;
    const core = g.core;
    const cpu = g.m.cpus[0]!;
    const mem = g.m.mem;
    mem.writeBytes(this.codeGpa, c.code);
    mem.writeBytes(this.dataGpa, c.in.mem);
    core.cpl = 3;
    core.syncContext();
    for (let i = 0; i < 16; i++) core.regs.setBig(i, c.in.gpr[i]!);
    core.rflags = (c.in.rflags & (ARITH_FLAGS | 0x400)) | 0x202;
    for (let i = 0; i < 16; i++) {
      const [lo, hi] = c.in.xmm[i]!;
      const x = cpu.xmm;
      x[i * 4] = Number(BigInt.asIntN(32, lo));
      x[i * 4 + 1] = Number(BigInt.asIntN(32, lo >> 32n));
      x[i * 4 + 2] = Number(BigInt.asIntN(32, hi));
      x[i * 4 + 3] = Number(BigInt.asIntN(32, hi >> 32n));
    }
    const start = Number(CODE_BASE);
    core.rip = start;
    try {
      const stop = cpu.run(Infinity, start + c.code.length, maxInstructions);
      if (stop !== Stop.StopAt) throw new Error(`simulation stopped with ${stop}, not at the end`);
    } catch (e) {
      if (!(e instanceof Trap) || e.event.kind !== 'exception') throw e;
      const ev = e.event;
      const signal = SIGNAL_OF[ev.vector];
      if (signal === undefined) throw new Error(`unexpected exception ${ev.vector}`, { cause: e });
      return { kind: 'signal', signal, rip: BigInt(ev.rip) };
    }
    const out: CpuState = {
      gpr: Array.from({ length: 16 }, (_, i) => core.regs.getBig(i)),
      rflags: core.rflags & ARITH_FLAGS,
      xmm: Array.from({ length: 16 }, (_, i) => {
        const x = cpu.xmm;
        const q = (a: number, b: number): bigint =>
          (BigInt(x[i * 4 + b]! >>> 0) << 32n) | BigInt(x[i * 4 + a]! >>> 0);
        return [q(0, 1), q(2, 3)] as [bigint, bigint];
      }),
      mem: mem.readBytes(this.dataGpa, DATA_BYTES),
    };
    return { kind: 'ok', out };
  }
}
