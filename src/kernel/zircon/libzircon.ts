// The user side of Zircon's system calls (the vDSO's zx_* entry points,
// zircon/system/ulib/zircon/syscall-entry.h): each stub moves the arguments into the ABI's
// registers (RDI, RSI, RDX, R10, R8, R9, R12, R13; the number in RAX) and executes a real
// SYSCALL at its own address in the process's text. Message bytes live in the process's own
// data pages: the program stores them there before a write or call and loads them after a
// read, so the kernel's copies are between user memory and packets, as in Zircon.

import { R } from '../../hw/core.ts';
import type { Block, CodeLayout } from '../code-layout.ts';
import { USER_DATA } from '../layout.ts';
import type { UserEvent } from '../thread.ts';
import type { UserApi } from '../user.ts';
import { R8, R9, R10, R12, R13 } from '../tcb-layout.ts';
import { CALL_ARGS, SIGNAL, Sys, TIME_INFINITE, TIME_INFINITE_BITS } from './objects.ts';

interface Stub {
  setup: Block;
  syscall: number;
}

/** Where a program keeps its call arguments, result words and message buffers. */
export const UBUF = {
  args: USER_DATA,
  actualBytes: USER_DATA + 0x40,
  actualHandles: USER_DATA + 0x44,
  observed: USER_DATA + 0x48,
  send: USER_DATA + 0x1000,
  recv: USER_DATA + 0x8000,
} as const;

type Gen<T> = Generator<UserEvent, T, void>;

export class ZirconLib {
  private constructor(private readonly stubs: Record<keyof typeof Sys, Stub>) {}

  /** Lays out the stubs in a process's text (once, from the process's build). */
  static layout(text: CodeLayout): ZirconLib {
    text.align(16);
    // The vDSO wrapper: argument moves (R10 ← RCX, R12/R13 from the stack for 7-8
    // arguments), SYSCALL, RET.
    const stub = (n: number): Stub => ({
      setup: text.block(n, n * 3),
      syscall: text.insn('syscall'),
    });
    return new ZirconLib({
      handle_close: stub(3),
      channel_read: stub(7),
      channel_write: stub(5),
      channel_call: stub(5),
      object_wait_one: stub(4),
    });
  }

  private *invoke(u: UserApi, which: keyof typeof Sys, args: readonly number[]): Gen<number> {
    const s = this.stubs[which];
    u.run(s.setup);
    const r = u.regs;
    const regs = [R.RDI, R.RSI, R.RDX, R10, R8, R9, R12, R13];
    for (let i = 0; i < regs.length; i++) {
      if (args[i] === TIME_INFINITE) r.setBig(regs[i]!, TIME_INFINITE_BITS);
      else r.set(regs[i]!, args[i] ?? 0);
    }
    r.set(R.RAX, Sys[which]);
    yield* u.syscall(s.syscall);
    // zx_status_t comes back in EAX.
    return r.lo[R.RAX]!; // zx_status_t: the low 32 bits, signed
  }

  /** zx_channel_write(h, 0, bytes, n, NULL, 0). */
  write(u: UserApi, h: number, bytes: number, n: number): Gen<number> {
    return this.invoke(u, 'channel_write', [h, 0, bytes, n, 0, 0]);
  }

  /** zx_channel_read(h, 0, bytes, NULL, max, 0, &actual_bytes, &actual_handles). */
  read(u: UserApi, h: number, bytes: number, max: number): Gen<number> {
    return this.invoke(u, 'channel_read', [
      h,
      0,
      bytes,
      0,
      max,
      0,
      UBUF.actualBytes,
      UBUF.actualHandles,
    ]);
  }

  /** zx_channel_call(h, 0, ZX_TIME_INFINITE, &args, &actual_bytes, &actual_handles); the
   *  args struct is stored into the process's memory first. */
  *call(u: UserApi, h: number, wr: number, wrN: number, rd: number, rdN: number): Gen<number> {
    const a = UBUF.args;
    u.store64(a + CALL_ARGS.wrBytes, wr);
    u.store64(a + CALL_ARGS.wrHandles, 0);
    u.store64(a + CALL_ARGS.rdBytes, rd);
    u.store64(a + CALL_ARGS.rdHandles, 0);
    u.store32(a + CALL_ARGS.wrNumBytes, wrN);
    u.store32(a + CALL_ARGS.wrNumHandles, 0);
    u.store32(a + CALL_ARGS.rdNumBytes, rdN);
    u.store32(a + CALL_ARGS.rdNumHandles, 0);
    return yield* this.invoke(u, 'channel_call', [
      h,
      0,
      TIME_INFINITE,
      a,
      UBUF.actualBytes,
      UBUF.actualHandles,
    ]);
  }

  /** zx_object_wait_one(h, signals, deadline, &observed). */
  waitOne(
    u: UserApi,
    h: number,
    signals: number = SIGNAL.CHANNEL_READABLE | SIGNAL.CHANNEL_PEER_CLOSED,
    deadline: number = TIME_INFINITE,
  ): Gen<number> {
    return this.invoke(u, 'object_wait_one', [h, signals, deadline, UBUF.observed]);
  }

  close(u: UserApi, h: number): Gen<number> {
    return this.invoke(u, 'handle_close', [h]);
  }

  /** The kernel's last actual_bytes / observed word, loaded from the program's memory. */
  actualBytes(u: UserApi): number {
    return u.load32(UBUF.actualBytes);
  }
  observed(u: UserApi): number {
    return u.load32(UBUF.observed);
  }
}
