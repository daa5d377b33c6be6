// The user side of seL4's system calls (libsel4's seL4_Call, seL4_ReplyRecv, …): each stub
// is a few instructions that load the registers of the ABI (RDI = capability pointer, RSI =
// message info, R10/R8/R9/R15 = the first four message registers, RDX = the call number)
// and a real SYSCALL at its own address in the process's text. Longer messages are written
// to the IPC buffer before the call and read from it after.

import type { Block, CodeLayout } from '../code-layout.ts';
import type { UserApi } from '../user.ts';
import type { UserEvent } from '../thread.ts';
import { R } from '../../hw/core.ts';
import {
  FAST_MESSAGE_REGISTERS,
  IPCBUF_CAPS,
  IPCBUF_MSG,
  IPCBUF_RECEIVE_INDEX,
  MSG_GPRS,
  msgLength,
} from './objects.ts';
import { Sys } from './sel4.ts';

export interface Message {
  /** seL4_MessageInfo as a number (label, extra caps, length). */
  info: number;
  /** The badge of the capability the message came through (0 for replies). */
  badge: number;
  /** Message registers, as many as the info's length says. */
  mrs: number[];
}

interface Stub {
  setup: Block;
  syscall: number;
}

export class Sel4Lib {
  private constructor(private readonly stubs: Record<keyof typeof Sys, Stub>) {}

  /** Lays out the stubs in a process's text (call once from the process's build). */
  static layout(text: CodeLayout): Sel4Lib {
    const stub = (): Stub => ({ setup: text.block(5, 18), syscall: text.insn('syscall') });
    text.align(16);
    return new Sel4Lib({
      Call: stub(),
      ReplyRecv: stub(),
      Send: stub(),
      NBSend: stub(),
      Recv: stub(),
      Reply: stub(),
      Yield: stub(),
    });
  }

  private *invoke(
    u: UserApi,
    which: keyof typeof Sys,
    cptr: number,
    info: number,
    mrs: readonly number[],
  ): Generator<UserEvent, Message, void> {
    const t = u.thread;
    const len = msgLength(info);
    // Words beyond the fourth go through the IPC buffer (seL4_SetMR).
    for (let i = FAST_MESSAGE_REGISTERS; i < len; i++)
      u.store64(t.ipcBufferUser + IPCBUF_MSG + i * 8, mrs[i] ?? 0);
    const s = this.stubs[which];
    u.run(s.setup);
    const r = u.regs;
    r.set(R.RDI, cptr);
    r.set(R.RSI, info);
    r.set(R.RDX, Sys[which]);
    for (let i = 0; i < FAST_MESSAGE_REGISTERS; i++) r.set(MSG_GPRS[i]!, mrs[i] ?? 0);
    yield* u.syscall(s.syscall);
    const outInfo = r.get(R.RSI);
    const out: number[] = [];
    const n = msgLength(outInfo);
    for (let i = 0; i < n; i++)
      out.push(
        i < FAST_MESSAGE_REGISTERS
          ? r.get(MSG_GPRS[i]!)
          : u.load64(t.ipcBufferUser + IPCBUF_MSG + i * 8),
      );
    return { info: outInfo, badge: r.get(R.RDI), mrs: out };
  }

  call(
    u: UserApi,
    cptr: number,
    info: number,
    mrs: readonly number[] = [],
  ): Generator<UserEvent, Message, void> {
    return this.invoke(u, 'Call', cptr, info, mrs);
  }
  replyRecv(
    u: UserApi,
    cptr: number,
    info: number,
    mrs: readonly number[] = [],
  ): Generator<UserEvent, Message, void> {
    return this.invoke(u, 'ReplyRecv', cptr, info, mrs);
  }
  send(
    u: UserApi,
    cptr: number,
    info: number,
    mrs: readonly number[] = [],
  ): Generator<UserEvent, Message, void> {
    return this.invoke(u, 'Send', cptr, info, mrs);
  }
  nbSend(
    u: UserApi,
    cptr: number,
    info: number,
    mrs: readonly number[] = [],
  ): Generator<UserEvent, Message, void> {
    return this.invoke(u, 'NBSend', cptr, info, mrs);
  }
  recv(u: UserApi, cptr: number): Generator<UserEvent, Message, void> {
    return this.invoke(u, 'Recv', cptr, 0, []);
  }
  reply(
    u: UserApi,
    info: number,
    mrs: readonly number[] = [],
  ): Generator<UserEvent, Message, void> {
    return this.invoke(u, 'Reply', 0, info, mrs);
  }
  yield(u: UserApi): Generator<UserEvent, Message, void> {
    return this.invoke(u, 'Yield', 0, 0, []);
  }

  /** Names the capability (by CPtr in the sender's CSpace) to send with the next message. */
  setCap(u: UserApi, i: number, cptr: number): void {
    u.store64(u.thread.ipcBufferUser + IPCBUF_CAPS + i * 8, cptr);
  }

  /** Where a received capability goes: a slot index in the receiver's CNode. */
  setReceiveSlot(u: UserApi, index: number): void {
    u.store64(u.thread.ipcBufferUser + IPCBUF_RECEIVE_INDEX, index);
  }
}
