// The user side of Fiasco's IPC (l4re-core l4sys ARCH-amd64/L4API-l4f/ipc.h l4_ipc and the
// generic l4_ipc_call / l4_ipc_reply_and_wait / l4_ipc_wait / l4_ipc_send / l4_ipc_receive
// on top of it): the message words are stored into the thread's UTCB (l4_utcb_mr()->mr[])
// before the call and loaded from it after; the stub loads the ABI's registers (RDX = the
// capability index << 12 | the operation, RAX = the tag, RSI = the label, R8 = the timeout
// pair, RDI = the UTCB) and executes a real SYSCALL at its own address in the process's
// text; after it, RAX holds the returned tag and RSI the label.

import { R } from '../../hw/core.ts';
import type { Block, CodeLayout } from '../code-layout.ts';
import type { UserEvent } from '../thread.ts';
import type { UserApi } from '../user.ts';
import {
  INVALID_CAP,
  MAX_WORDS,
  Op,
  UTCB,
  msgTag,
  objRef,
  tagHasError,
  tagLabel,
  tagWords,
} from './objects.ts';

export interface FiascoMsg {
  /** The returned L4_msg_tag. */
  tag: number;
  /** Its label (protocol) field. */
  tagLabel: number;
  /** The label ("from") the kernel delivered: the gate's label | the rights used. */
  label: number;
  /** Message words read from the UTCB (as many as the tag says; none on an error). */
  words: number[];
  /** The UTCB's error TCR when the tag has the error flag, else 0. */
  error: number;
}

interface Stub {
  setup: Block;
  syscall: number;
  after: Block;
}

const R8 = 8;
/** L4_IPC_NEVER: both timeouts "never" (raw 0). */
export const TIMEOUT_NEVER = 0;

type Which = 'call' | 'replyAndWait' | 'wait' | 'send' | 'receive';

export class FiascoLib {
  private constructor(private readonly stubs: Record<Which, Stub>) {}

  /** Lays out the stubs in a process's text (call once from the process's build). */
  static layout(text: CodeLayout): FiascoLib {
    text.align(16);
    // l4_ipc: five register moves (r8, rsi, rax, rdx, or flags), SYSCALL, then
    // `*rlabel = slabel` and the return of the tag (2).
    const stub = (): Stub => ({
      setup: text.block(5, 16),
      syscall: text.insn('syscall'),
      after: text.block(2, 6),
    });
    return new FiascoLib({
      call: stub(),
      replyAndWait: stub(),
      wait: stub(),
      send: stub(),
      receive: stub(),
    });
  }

  private *ipc(
    u: UserApi,
    which: Which,
    ref: number,
    tag: number,
    words: readonly number[],
    label: number,
  ): Generator<UserEvent, FiascoMsg, void> {
    const utcb = u.thread.ipcBufferUser;
    const n = Math.min(tagWords(tag), MAX_WORDS);
    for (let i = 0; i < n; i++) u.store64(utcb + UTCB.values + i * 8, words[i] ?? 0);
    const s = this.stubs[which];
    u.run(s.setup);
    const r = u.regs;
    r.set(R8, TIMEOUT_NEVER);
    r.set(R.RSI, label);
    r.set(R.RAX, tag);
    r.set(R.RDX, ref);
    r.set(R.RDI, utcb);
    yield* u.syscall(s.syscall);
    u.run(s.after);
    const out = r.get(R.RAX);
    const err = tagHasError(out) ? u.load64(utcb + UTCB.error) : 0;
    const got: number[] = [];
    if (err === 0) {
      const m = Math.min(tagWords(out), MAX_WORDS);
      for (let i = 0; i < m; i++) got.push(u.load64(utcb + UTCB.values + i * 8));
    }
    return { tag: out, tagLabel: tagLabel(out), label: r.get(R.RSI), words: got, error: err };
  }

  /** l4_ipc_call: send `words` through capability `cap`, wait for the reply. */
  call(
    u: UserApi,
    cap: number,
    words: readonly number[] = [],
    protocol = 0,
  ): Generator<UserEvent, FiascoMsg, void> {
    const tag = msgTag(protocol, words.length);
    return this.ipc(u, 'call', objRef(cap, Op.Call), tag, words, 0);
  }

  /** l4_ipc_reply_and_wait: reply to the last caller, then wait for any sender. */
  replyAndWait(
    u: UserApi,
    words: readonly number[] = [],
    protocol = 0,
  ): Generator<UserEvent, FiascoMsg, void> {
    const tag = msgTag(protocol, words.length);
    return this.ipc(u, 'replyAndWait', INVALID_CAP + Op.ReplyAndWait, tag, words, 0);
  }

  /** l4_ipc_wait: an open wait for any sender. */
  wait(u: UserApi): Generator<UserEvent, FiascoMsg, void> {
    return this.ipc(u, 'wait', INVALID_CAP + Op.Wait, 0, [], 0);
  }

  /** l4_ipc_send: send only (blocks until the receiver takes the message). `label` is
   *  what the receiver sees when `cap` names a thread (for a gate, the gate's label). */
  send(
    u: UserApi,
    cap: number,
    words: readonly number[] = [],
    label = 0,
    protocol = 0,
  ): Generator<UserEvent, FiascoMsg, void> {
    const tag = msgTag(protocol, words.length);
    return this.ipc(u, 'send', objRef(cap, Op.Send), tag, words, label);
  }

  /** l4_ipc_receive: a closed wait for the thread `cap` names. */
  receive(u: UserApi, cap: number): Generator<UserEvent, FiascoMsg, void> {
    return this.ipc(u, 'receive', objRef(cap, Op.Recv), 0, [], 0);
  }

  /** A raw invocation (tests): any object reference and tag. */
  raw(
    u: UserApi,
    ref: number,
    tag: number,
    words: readonly number[] = [],
  ): Generator<UserEvent, FiascoMsg, void> {
    return this.ipc(u, 'call', ref, tag, words, 0);
  }
}
