// copy_from_user / copy_to_user (arch/x86/user_copy.cc). Zircon copies with REP MOVSB
// between the kernel and the user's own mapping of the buffer, after checking the range lies
// in the user half; a fault in the middle is recovered through the fault handler's fixup and
// the copy returns ZX_ERR_INVALID_ARGS.
//
// Our choice: the user's range is first resolved by walking the process's page tables in
// memory without charge. That walk stands in for the MMU plus the fault fixup: on the success
// path it costs nothing in Zircon either (the copy's own accesses pay for translation), and on
// a bad range the model returns the error instead of taking a #PF in kernel mode. The bytes
// are then moved by real loads and stores, one access per cache line as REP MOVSB does:
// through the user mapping when the kernel runs on the process's root (no KPTI), through the
// physmap at the translated address when it runs on its own root (KPTI: the kernel root has
// no user half). The copy's fixed cost is the userCopy block.

import type { Core } from '../../hw/core.ts';
import { PTE_P, PTE_PS, PTE_RW, PTE_US } from '../../hw/formats.ts';
import { physmap } from '../layout.ts';
import type { Subkernel } from '../subkernel.ts';
import type { Thread } from '../thread.ts';
import type { ZirconPaths } from './paths.ts';

const USER_TOP = 0x8000_0000_0000;
const TWO32 = 2 ** 32;

/** Guest-physical address of user address `la` in `t`'s process, or null when it is not
 *  mapped for user access (with write permission if `write`). Reads memory directly. */
function resolve(k: Subkernel, t: Thread, la: number, write: boolean): number | null {
  const mem = k.machine.mem;
  let table = t.process.space.userRoot;
  for (let level = 3; level >= 0; level--) {
    const shift = 12 + 9 * level;
    const entry = table + (Math.floor(la / 2 ** shift) % 512) * 8;
    const lo = mem.read32(entry);
    const hi = mem.read32(entry + 4);
    if ((lo & PTE_P) === 0 || (lo & PTE_US) === 0) return null;
    if (write && (lo & PTE_RW) === 0) return null;
    const frame = (hi & 0xfffff) * TWO32 + ((lo >>> 0) & 0xffff_f000);
    if (level === 0 || (lo & PTE_PS) !== 0) {
      const size = 2 ** shift;
      return frame - (frame % size) + (la % size);
    }
    table = frame;
  }
  return null;
}

/** The (kernel-usable address, length) pieces of user range [la, la+n), or null when any
 *  byte is outside the user half or not mapped as needed (ZX_ERR_INVALID_ARGS). */
function pieces(
  k: Subkernel,
  t: Thread,
  la: number,
  n: number,
  write: boolean,
): { at: number; len: number }[] | null {
  if (!Number.isInteger(la) || la < 0 || la + n > USER_TOP || n < 0) return null;
  const out: { at: number; len: number }[] = [];
  let off = 0;
  while (off < n) {
    const a = la + off;
    const len = Math.min(4096 - (a % 4096), n - off);
    const pa = resolve(k, t, a, write);
    if (pa === null) return null;
    out.push({ at: k.config.kpti ? physmap(pa) : a, len });
    off += len;
  }
  return out;
}

/** copy_from_user: the bytes, or null for ZX_ERR_INVALID_ARGS. */
export function copyFromUser(
  k: Subkernel,
  P: ZirconPaths,
  core: Core,
  t: Thread,
  la: number,
  n: number,
): Uint8Array | null {
  core.exec(P.userCopy.at, P.userCopy.bytes, P.userCopy.instructions);
  const ps = pieces(k, t, la, n, false);
  if (ps === null) return null;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of ps) {
    out.set(core.readBytes(p.at, p.len), off);
    off += p.len;
  }
  return out;
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
  core.exec(P.userCopy.at, P.userCopy.bytes, P.userCopy.instructions);
  const ps = pieces(k, t, la, bytes.length, true);
  if (ps === null) return false;
  let off = 0;
  for (const p of ps) {
    core.writeBytes(p.at, bytes.subarray(off, off + p.len));
    off += p.len;
  }
  return true;
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
