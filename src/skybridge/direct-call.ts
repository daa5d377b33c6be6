// directServerCall: the client's call into a server, executed as the trampoline's code on
// the client's own thread with no kernel on the path (skybridge.md "Trampoline"). Two
// VMFUNCs switch the EPT view; the server's handler runs in between, in the server's address
// space, on one of the server's stacks, after the calling key is checked. The return goes
// back to the view the call came from: the caller's own, or, in a chain, the calling server's.

import { R, type Core } from '../hw/core.ts';
import { Trap } from '../hw/traps.ts';
import { vmfunc } from '../hw/vmx.ts';
import { physmap } from '../kernel/layout.ts';
import type { UserEvent } from '../kernel/thread.ts';
import type { UserApi } from '../kernel/user.ts';
import {
  BINDINGS_VA,
  BINDING_BYTES,
  KEY_TABLE_VA,
  MAX_CLIENTS,
  SERVER_STACKS_VA,
  SERVER_STACK_BYTES,
  SERVER_STATE_VA,
  SbError,
} from './layout.ts';
import type { SkyBridge } from './skybridge.ts';

export type CallResult =
  { ok: true; results: number[] } | { ok: false; error: number; why: string };

/** Callee-saved registers the trampoline keeps on the caller's stack across the call. */
const SAVED = [R.RBX, R.RBP, 12, 13, 14, 15];

export interface CallOptions {
  /** Present this key instead of the one in the binding (to test the key check). */
  forgeKey?: number;
  /** Present this key-table slot instead of the binding's (to test the key check). */
  forgeSlot?: number;
  /** If given, receives the core's cycle counter at each phase boundary (instrumentation
   *  of the simulator, like a hardware trace; it costs no simulated cycles). */
  probe?: number[];
}

/** Where the call came from, to go back to. */
interface Origin {
  identity: number;
  index: number;
  server: number;
  /** The caller's stack pointer (the server side switches to one of the server's stacks). */
  rsp: number;
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
  const probe = (): void => void opts.probe?.push(core.cycles);
  const identity = sb.identityOf(t);
  probe();
  // Client side: save registers below the red zone of whatever stack the caller is on (a
  // nested call from a handler is on that server's stack), read the binding, record the
  // identity.
  u.run(tr.clientEnter);
  const callerRsp = regs.get(R.RSP);
  const sp = callerRsp - 256;
  SAVED.forEach((r, i) => u.store64(sp - i * 8, regs.get(r)));
  const rec = BINDINGS_VA + serverId * BINDING_BYTES;
  const index = u.load64(rec);
  const slot = opts.forgeSlot ?? u.load64(rec + 8);
  const key = opts.forgeKey ?? u.load64(rec + 16);
  const buffer = u.load64(rec + 24);
  const from: Origin = {
    identity,
    index: u.load64(identity),
    server: u.load64(identity + 8),
    rsp: callerRsp,
  };
  if (index === 0) return refuse(sb, u, from, SbError.NotBound, `not bound to server ${serverId}`);
  u.store64(identity, index);
  u.store64(identity + 8, serverId);
  regs.set(R.RAX, 0);
  regs.set(R.RCX, index);
  probe();
  vmfunc(core, tr.vmfuncCall);
  sb.noteView(core, index);
  probe();

  // Server side, in the server's address space. Counters and cache-line ownership name the
  // server while its code runs (on the client's thread).
  const server = sb.server(serverId)!;
  const callerOwner = core.owner;
  core.setOwner(server.process.owner);
  /** The server stack this call holds (-1: none), for the kernel to release on a fault. */
  let held = -1;
  try {
    u.run(tr.serverEnter);
    const busy = u.load64(SERVER_STATE_VA);
    const max = u.load64(SERVER_STATE_VA + 8);
    let stackBit = -1;
    for (let i = 0; i < max && stackBit < 0; i++)
      if (Math.floor(busy / 2 ** i) % 2 === 0) stackBit = i;
    if (stackBit < 0) core.setOwner(callerOwner);
    if (stackBit < 0)
      return back(sb, u, from, SbError.Busy, `all ${max} stacks of server ${serverId} busy`);
    u.store64(SERVER_STATE_VA, busy + 2 ** stackBit);
    held = stackBit;
    sb.holdStack(t, server, stackBit);
    regs.set(R.RSP, SERVER_STACKS_VA + (stackBit + 1) * SERVER_STACK_BYTES);
    u.run(tr.keyCheck);
    // The slot is the caller's to choose (a register at the VMFUNC): bound it to the key
    // table, or the words after it (the busy bitmap, maxConcurrent) would pass as keys.
    const inTable = Number.isInteger(slot) && slot >= 0 && slot < MAX_CLIENTS;
    const expected = inTable ? u.load64(KEY_TABLE_VA + slot * 8) : 0;
    if (expected === 0 || expected !== key) {
      freeStack(u, stackBit);
      sb.releaseStack(t);
      core.setOwner(callerOwner);
      return back(sb, u, from, SbError.BadKey, 'calling key does not match');
    }
    u.run(tr.callHandler);
    probe();
    const results = yield* server.handler(u, {
      args: [...args],
      buffer,
      bufferBytes: 0,
      clientSlot: slot,
    });
    probe();
    // The return: the key again (it may have been revoked meanwhile), free the stack.
    u.run(tr.serverLeave);
    // Still in this server's view? A handler that switched views itself (to another server
    // of the caller's list) must not free a stack or read a key table that is not its own.
    if (u.load64(SERVER_STATE_VA + 16) !== serverId) {
      // Go back into this server's view (its index in the caller's list is its ID), free the
      // stack the call took there, then return the refusal to the caller's view.
      regs.set(R.RAX, 0);
      regs.set(R.RCX, serverId);
      vmfunc(core, tr.vmfuncReturn);
      sb.noteView(core, serverId);
      if (u.load64(SERVER_STATE_VA + 16) === serverId) freeStack(u, stackBit);
      sb.releaseStack(t);
      held = -1;
      core.setOwner(callerOwner);
      return back(sb, u, from, SbError.BadReturn, 'the server left its own view before returning');
    }
    const again = u.load64(KEY_TABLE_VA + slot * 8);
    freeStack(u, stackBit);
    sb.releaseStack(t);
    held = -1;
    regs.set(R.R11, again);
    regs.set(R.RAX, 0);
    regs.set(R.RCX, from.index);
    probe();
    vmfunc(core, tr.vmfuncReturn);
    sb.noteView(core, from.index);
    core.setOwner(callerOwner);
    probe();
    // Client side: only a return that came through the server's trampoline with the key.
    u.run(tr.clientLeave);
    if (regs.get(R.R11) !== key)
      return refuse(sb, u, from, SbError.BadReturn, 'return without the calling key');
    SAVED.forEach((r, i) => regs.set(r, u.load64(sp - i * 8)));
    regs.set(R.RSP, callerRsp);
    u.store64(identity, from.index);
    u.store64(identity + 8, from.server);
    probe();
    return { ok: true, results };
  } catch (e) {
    if (!(e instanceof Trap) || e.event.kind === 'shutdown') throw e;
    const r = serverFault(sb, u, from, e, serverId, held);
    regs.set(R.RSP, callerRsp);
    core.setOwner(callerOwner);
    return r;
  }
}

function freeStack(u: UserApi, bit: number): void {
  const busy = u.load64(SERVER_STATE_VA);
  u.store64(SERVER_STATE_VA, busy - 2 ** bit);
}

/** A refusal in the caller's view: the trampoline's error path restores the caller's stack
 *  pointer and the identity and returns the error. */
function refuse(sb: SkyBridge, u: UserApi, from: Origin, error: number, why: string): CallResult {
  u.run(sb.trampoline.error);
  u.regs.set(R.RSP, from.rsp);
  u.store64(from.identity, from.index);
  u.store64(from.identity + 8, from.server);
  return { ok: false, error, why };
}

/** A refusal in the server's view: switch back to the caller's view first. */
function back(sb: SkyBridge, u: UserApi, from: Origin, error: number, why: string): CallResult {
  const core = u.core;
  core.regs.set(R.RAX, 0);
  core.regs.set(R.RCX, from.index);
  vmfunc(core, sb.trampoline.vmfuncReturn);
  sb.noteView(core, from.index);
  return refuse(sb, u, from, error, why);
}

/** Something in the server's view trapped on the caller's thread. The kernel attributes it
 *  through the identity page: a violation by the server's code kills the server; any fault
 *  returns the caller to the view it called from, with an error. */
function serverFault(
  sb: SkyBridge,
  u: UserApi,
  from: Origin,
  e: Trap,
  serverId: number,
  held: number,
): CallResult {
  const k = sb.k;
  const core = u.core;
  const t = u.thread;
  const ev = e.event;
  let why: string;
  if (ev.kind === 'vmexit') {
    const out = k.rk.handleExit(core, e);
    if (out.kind !== 'violation')
      throw new Error('a resumed VM exit inside a server call is not modelled');
    why = `VM exit ${out.reason} in server ${serverId}`;
    // The upcall left the core in the kernel (CPL 0, base EPT).
    sb.noteView(core, 0);
    k.killProcess(core, sb.server(serverId)!.process, why);
  } else {
    const withError = ev.kind === 'exception' && [8, 10, 11, 12, 13, 14, 17].includes(ev.vector);
    k.enterFromException(core, t, withError);
    why =
      ev.kind === 'exception'
        ? `exception ${ev.vector} in server ${serverId} at ${ev.rip.toString(16)}`
        : e.message;
  }
  core.exec(sb.faultPath.at, sb.faultPath.bytes, sb.faultPath.instructions);
  // The call's server stack (the kernel finds it from the trapped RSP) goes back to the
  // server's bitmap through the kernel's mapping; otherwise every fault would leak a stack
  // and a server would answer Busy for good after maxConcurrent of them.
  if (held >= 0) {
    const state = physmap(sb.server(serverId)!.stateGpa);
    const busy = core.load64(state);
    if (Math.floor(busy / 2 ** held) % 2 === 1) core.store64(state, busy - 2 ** held);
  }
  // The kernel rewrites the identity through its own mapping (the caller's view), which the
  // exit hook switches back to before returning to the trampoline's error path.
  const idk = sb.identityKernel(t)!;
  core.store64(idk, from.index);
  core.store64(idk + 8, from.server);
  k.resumeUserAt(core, t, sb.trampoline.error.at);
  return refuse(sb, u, from, SbError.ServerFault, why);
}
