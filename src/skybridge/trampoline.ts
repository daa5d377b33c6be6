// The trampoline: SkyBridge's only code that executes VMFUNC, mapped read-execute at the same
// address in every client and server so execution continues across the EPTP switch. It is
// laid out as real bytes (two real VMFUNC instructions; the blocks between them are
// instruction counts at their addresses). Counts are ours, from the paper's description of
// the path (skybridge.md "Trampoline"): save, VMFUNC, stack, key, handler, key, VMFUNC back.

import { CodeLayout, type Block } from '../kernel/code-layout.ts';
import { TRAMPOLINE_BYTES, TRAMPOLINE_VA } from './layout.ts';

export interface Trampoline {
  readonly code: CodeLayout;
  /** Client side: save the callee-saved registers on the client stack, record the identity,
   *  load the binding (list index, key slot, key), set EAX = 0 and ECX = index. */
  readonly clientEnter: Block;
  readonly vmfuncCall: number;
  /** Server side: take a free stack from the busy bitmap and switch to it. */
  readonly serverEnter: Block;
  /** Bound the presented slot to the key table (cmp, jae), then compare the presented key
   *  with the table entry. */
  readonly keyCheck: Block;
  /** Call the registered handler and come back. */
  readonly callHandler: Block;
  /** Server side of the return: check the key again, free the stack, put the key in R11 for
   *  the client side, ECX = 0. */
  readonly serverLeave: Block;
  readonly vmfuncReturn: number;
  /** Client side: check R11 against its key, restore registers, clear the identity. */
  readonly clientLeave: Block;
  /** Any refusal: set the error, restore, return. */
  readonly error: Block;
}

export function layoutTrampoline(): Trampoline {
  const t = new CodeLayout(TRAMPOLINE_VA, TRAMPOLINE_BYTES);
  const clientEnter = t.block(6, 22);
  const vmfuncCall = t.insn('vmfunc');
  const serverEnter = t.block(8, 28);
  const keyCheck = t.block(5, 16);
  const callHandler = t.block(3, 8);
  const serverLeave = t.block(10, 34); // + cmp/jne on the state page's server ID
  const vmfuncReturn = t.insn('vmfunc');
  const clientLeave = t.block(5, 18);
  const error = t.block(6, 20);
  return {
    code: t,
    clientEnter,
    vmfuncCall,
    serverEnter,
    keyCheck,
    callHandler,
    serverLeave,
    vmfuncReturn,
    clientLeave,
    error,
  };
}
