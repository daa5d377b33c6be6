// directServerCall: the client's call into a server, executed as the trampoline's code on
// the client's own thread with no kernel on the path (skybridge.md "Trampoline"). Two
// VMFUNCs switch the EPT view; the server's handler runs in between, in the server's address
// space, on one of the server's stacks, after the calling key is checked.

import { R, type Core } from '../hw/core.ts';
import { Trap } from '../hw/traps.ts';
import { vmfunc } from '../hw/vmx.ts';
import type { UserEvent } from '../kernel/thread.ts';
import type { UserApi } from '../kernel/user.ts';
import {
  BINDINGS_VA,
  BINDING_BYTES,
  KEY_TABLE_VA,
  SERVER_STACKS_VA,
  SERVER_STACK_BYTES,
  SERVER_STATE_VA,
  SbError,
} from './layout.ts';
import type { SkyBridge } from './skybridge.ts';

export type CallResult =
  { ok: true; results: number[] } | { ok: false; error: number; why: string };

/** Callee-saved registers the trampoline keeps on the client's stack across the call. */
const SAVED = [R.RBX, R.RBP, 12, 13, 14, 15];

export interface CallOptions {
  /** Present this key instead of the one in the binding (to test the key check). */
  forgeKey?: number;
}

/**
 * Calls server `serverId` with register arguments `args` from `u`'s thread. Returns the
 * handler's results, or the error the trampoline (or the kernel, for a fault in the server)
 * produced. Never enters the kernel on the success path.
 */
export function* directServerCall(
  sb: SkyBridge,
  u: UserApi,
  serverId: number,
  args: readonly number[],
  opts: CallOptions = {},
): Generator<UserEvent, CallResult, void> {
  const tr = sb.trampoline;
  const core: Core = u.core;
  const t = u.thread;
  const regs = core.regs;
  const identity = sb.identityOf(t);
  // Client side: save registers, read the binding, record the identity.
  u.run(tr.clientEnter);
  const sp = t.stackTop - 512;
  SAVED.forEach((r, i) => u.store64(sp - i * 8, regs[r]!));
  const rec = BINDINGS_VA + serverId * BINDING_BYTES;
  const index = u.load64(rec);
  const slot = u.load64(rec + 8);
  const key = opts.forgeKey ?? u.load64(rec + 16);
  const buffer = u.load64(rec + 24);
  if (index === 0)
    return refuse(sb, u, identity, SbError.NotBound, `not bound to server ${serverId}`);
  u.store64(identity, index);
  u.store64(identity + 8, serverId);
  regs[R.RAX] = 0;
  regs[R.RCX] = index;
  vmfunc(core, tr.vmfuncCall);
  sb.noteView(core, index);

  // Server side, in the server's address space.
  const server = sb.server(serverId)!;
  let stackBit = -1;
  try {
    u.run(tr.serverEnter);
    const busy = u.load64(SERVER_STATE_VA);
    const max = u.load64(SERVER_STATE_VA + 8);
    for (let i = 0; i < max; i++)
      if (Math.floor(busy / 2 ** i) % 2 === 0) {
        stackBit = i;
        break;
      }
    if (stackBit < 0)
      return back(sb, u, identity, SbError.Busy, `all ${max} stacks of server ${serverId} busy`);
    u.store64(SERVER_STATE_VA, busy + 2 ** stackBit);
    regs[R.RSP] = SERVER_STACKS_VA + (stackBit + 1) * SERVER_STACK_BYTES;
    u.run(tr.keyCheck);
    const expected = u.load64(KEY_TABLE_VA + slot * 8);
    if (expected === 0 || expected !== key) {
      freeStack(u, stackBit);
      return back(sb, u, identity, SbError.BadKey, 'calling key does not match');
    }
    u.run(tr.callHandler);
    const results = yield* server.handler(u, {
      args: [...args],
      buffer,
      bufferBytes: 0,
      clientSlot: slot,
    });
    // The return: the key again (it may have been revoked meanwhile), free the stack.
    u.run(tr.serverLeave);
    const again = u.load64(KEY_TABLE_VA + slot * 8);
    freeStack(u, stackBit);
    regs[R.R11] = again;
    regs[R.RAX] = 0;
    regs[R.RCX] = 0;
    vmfunc(core, tr.vmfuncReturn);
    sb.noteView(core, 0);
    // Client side: only a return that came through the server's trampoline with the key.
    u.run(tr.clientLeave);
    if (regs[R.R11] !== key)
      return refuse(sb, u, identity, SbError.BadReturn, 'return without the calling key');
    SAVED.forEach((r, i) => (regs[r] = u.load64(sp - i * 8)));
    u.store64(identity, 0);
    u.store64(identity + 8, 0);
    return { ok: true, results };
  } catch (e) {
    if (!(e instanceof Trap) || e.event.kind === 'shutdown') throw e;
    return serverFault(sb, u, identity, e, serverId);
  }
}

function freeStack(u: UserApi, bit: number): void {
  const busy = u.load64(SERVER_STATE_VA);
  u.store64(SERVER_STATE_VA, busy - 2 ** bit);
}

/** A refusal on the client side (no switch happened, or it was undone): the trampoline's
 *  error path clears the identity and returns the error. */
function refuse(
  sb: SkyBridge,
  u: UserApi,
  identity: number,
  error: number,
  why: string,
): CallResult {
  u.run(sb.trampoline.error);
  u.store64(identity, 0);
  u.store64(identity + 8, 0);
  return { ok: false, error, why };
}

/** A refusal in the server view: switch back first. */
function back(sb: SkyBridge, u: UserApi, identity: number, error: number, why: string): CallResult {
  const core = u.core;
  core.regs[R.RAX] = 0;
  core.regs[R.RCX] = 0;
  vmfunc(core, sb.trampoline.vmfuncReturn);
  sb.noteView(core, 0);
  return refuse(sb, u, identity, error, why);
}

/** Something in the server's view trapped on the client's thread. The kernel attributes it
 *  through the identity page: a violation by the server's code kills the server; any fault
 *  returns the client to its own view with an error. */
function serverFault(
  sb: SkyBridge,
  u: UserApi,
  identity: number,
  e: Trap,
  serverId: number,
): CallResult {
  const k = sb.k;
  const core = u.core;
  const t = u.thread;
  const ev = e.event;
  let why: string;
  if (ev.kind === 'vmexit') {
    const out = k.rk.handleExit(core, e);
    why =
      out.kind === 'violation'
        ? `VM exit ${out.reason} in server ${serverId}`
        : `VM exit ${ev.reason} in server ${serverId}`;
    if (out.kind !== 'violation')
      throw new Error('a resumed VM exit inside a server call is not modelled');
    // The upcall left the core in the kernel (CPL 0, base EPT).
    sb.noteView(core, 0);
    const server = sb.server(serverId)!;
    k.killProcess(core, server.process, why);
  } else {
    const withError = ev.kind === 'exception' && [8, 10, 11, 12, 13, 14, 17].includes(ev.vector);
    k.enterFromException(core, t, withError);
    why =
      ev.kind === 'exception'
        ? `exception ${ev.vector} in server ${serverId} at ${ev.rip.toString(16)}`
        : e.message;
  }
  core.exec(sb.faultPath.at, sb.faultPath.bytes, sb.faultPath.instructions);
  // Clear the identity (the kernel writes it through its own mapping), then return to the
  // client's view and to the trampoline's error path in user mode.
  const idk = sb.identityKernel(t)!;
  core.store64(idk, 0);
  core.store64(idk + 8, 0);
  k.resumeUserAt(core, t, sb.trampoline.error.at);
  return refuse(sb, u, identity, SbError.ServerFault, why);
}
