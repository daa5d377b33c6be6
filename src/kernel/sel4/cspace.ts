// Capability lookup: resolving a capability pointer through a thread's CSpace of guarded
// CNodes (seL4 src/kernel/cspace.c resolveAddressBits; the fastpath's lookup_fp). Each
// level checks the guard, indexes the CNode with the next `radix` bits and reads the slot.

import type { Core } from '../../hw/core.ts';
import type { Block } from '../code-layout.ts';
import {
  CapType,
  capType,
  cnodeGuardSize,
  cnodePtr,
  cnodeRadix,
  readCap,
  type CapWords,
} from './objects.ts';

export const WORD_BITS = 64;
export const SLOT_BYTES = 32;

export type Lookup = { ok: true; cap: CapWords; slot: number } | { ok: false };

/** Resolves `cptr` (a number below 2^53, read as a 64-bit word) from the CSpace root cap. */
export function lookupCap(core: Core, root: CapWords, cptr: number, level: Block): Lookup {
  let cap = root;
  let bits = WORD_BITS;
  for (;;) {
    core.run(level);
    if (capType(cap) !== CapType.CNode) return { ok: false };
    const radix = cnodeRadix(cap);
    const guardSize = cnodeGuardSize(cap);
    if (radix + guardSize > bits || radix + guardSize === 0) return { ok: false };
    // Guard: the next guardSize bits of cptr must equal the guard.
    const shiftGuard = bits - guardSize;
    const guardBits = guardSize === 0 ? 0 : Math.floor(cptr / 2 ** shiftGuard) % 2 ** guardSize;
    if (guardBits !== cap.w1) return { ok: false };
    const shiftIndex = bits - guardSize - radix;
    const index = Math.floor(cptr / 2 ** shiftIndex) % 2 ** radix;
    const slot = cnodePtr(cap) + index * SLOT_BYTES;
    const next = readCap(core, slot);
    bits = shiftIndex;
    if (bits === 0 || capType(next) !== CapType.CNode) return { ok: true, cap: next, slot };
    cap = next;
  }
}
