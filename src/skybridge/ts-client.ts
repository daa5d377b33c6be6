// A SkyBridge call made from a thread whose own code is TypeScript (the experiments whose
// client loop is not machine code yet): the thread calls the real trampoline, exactly as a
// C client's `call` would, and the interpreter runs it (and the server's machine-code
// handler, and anything the kernel does meanwhile) until it returns to `returnTo`, an
// address in the caller's text. Nothing of the call itself is TypeScript.

import { R } from '../hw/core.ts';
import type { Machine } from '../hw/machine.ts';
import { runMachineCode } from '../kernel/machine-code.ts';
import type { UserEvent } from '../kernel/thread.ts';
import type { UserApi } from '../kernel/user.ts';
import { TRAMPOLINE_VA } from './layout.ts';

export interface CallResult {
  status: number;
  value: number;
}

/** Calls server `serverId` with up to three arguments; `returnTo` must be executable in the
 *  caller's image (the interpreter stops there, before executing it). */
export function* callFromTs(
  m: Machine,
  u: UserApi,
  serverId: number,
  args: readonly number[],
  returnTo: number,
): Generator<UserEvent, CallResult, void> {
  const core = u.core;
  const regs = core.regs;
  regs.set(R.RDI, serverId);
  regs.set(R.RSI, args[0] ?? 0);
  regs.set(R.RDX, args[1] ?? 0);
  regs.set(R.RCX, args[2] ?? 0);
  // A CALL: the return address on a 16-byte aligned stack, below the red zone.
  const orig = regs.get(R.RSP);
  const rsp = orig - 256 - (orig % 16);
  regs.set(R.RSP, rsp - 8);
  u.store64(rsp - 8, returnTo);
  core.rip = TRAMPOLINE_VA;
  yield* runMachineCode(m, u, { stopAt: returnTo });
  regs.set(R.RSP, orig);
  return { status: regs.getSigned(R.RAX), value: regs.get(R.RDX) };
}
