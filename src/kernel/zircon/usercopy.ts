// copy_from_user / copy_to_user (arch/x86/user_copy.cc). Zircon copies with REP MOVSB
// between the kernel and the user's own mapping of the buffer, after checking the range lies
// in the user half; a fault in the middle is recovered through the fault handler's fixup and
// the copy returns ZX_ERR_INVALID_ARGS. The model resolves and moves the bytes as
// ../user-memory.ts says; the copy's fixed cost is the userCopy block.

import type { Core } from '../../hw/core.ts';
import { copyIn, copyOut } from '../user-memory.ts';
import type { Subkernel } from '../subkernel.ts';
import type { Thread } from '../thread.ts';
import type { ZirconPaths } from './paths.ts';

/** copy_from_user: the bytes, or null for ZX_ERR_INVALID_ARGS. */
export function copyFromUser(
  k: Subkernel,
  P: ZirconPaths,
  core: Core,
  t: Thread,
  la: number,
  n: number,
): Uint8Array | null {
  core.run(P.userCopy);
  return copyIn(k, core, t, la, n);
}

/** copy_to_user: false for ZX_ERR_INVALID_ARGS (nothing written then). */
export function copyToUser(
  k: Subkernel,
  P: ZirconPaths,
  core: Core,
  t: Thread,
  la: number,
  bytes: Uint8Array,
): boolean {
  core.run(P.userCopy);
  return copyOut(k, core, t, la, bytes);
}

/** A 32-bit value out to user memory (actual_bytes, observed signals…). */
export function putUser32(
  k: Subkernel,
  P: ZirconPaths,
  core: Core,
  t: Thread,
  la: number,
  v: number,
): boolean {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return copyToUser(k, P, core, t, la, b);
}
