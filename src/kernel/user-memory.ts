// User memory as the kernel reaches it: a user range resolved by walking the process's page
// tables in memory without charge (standing in for the MMU plus a fault fixup: on the success
// path the copy's own accesses pay for translation; on a bad range the caller returns an
// error instead of taking a #PF in kernel mode), then moved by real loads and stores, one
// access per cache line: through the user mapping when the kernel runs on the process's root
// (no KPTI), through the physmap at the translated address when it runs on its own root
// (KPTI: the kernel root has no user half).

import type { Core } from '../hw/core.ts';
import { PTE_P, PTE_PS, PTE_RW, PTE_US } from '../hw/formats.ts';
import { physmap } from './layout.ts';
import type { Subkernel } from './subkernel.ts';
import type { Thread } from './thread.ts';

const USER_TOP = 0x8000_0000_0000;
const TWO32 = 2 ** 32;

/** Guest-physical address of user address `la` in `t`'s process, or null when it is not
 *  mapped for user access (with write permission if `write`). Reads memory directly. */
/** Whose memory: a thread's process (only the process is used). */
export type InProcess = Pick<Thread, 'process'>;

export function resolveUser(k: Subkernel, t: InProcess, la: number, write: boolean): number | null {
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
export function userPieces(
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
    const pa = resolveUser(k, t, a, write);
    if (pa === null) return null;
    out.push({ at: k.config.kpti ? physmap(pa) : a, len });
    off += len;
  }
  return out;
}

/** The bytes of user range [la, la+n), or null if any is not mapped for user reading. */
export function copyIn(
  k: Subkernel,
  core: Core,
  t: Thread,
  la: number,
  n: number,
): Uint8Array | null {
  const ps = userPieces(k, t, la, n, false);
  if (ps === null) return null;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of ps) {
    out.set(core.readBytes(p.at, p.len), off);
    off += p.len;
  }
  return out;
}

/** Writes `bytes` to user memory at `la`; false (nothing written) if any byte is not mapped
 *  writable for the user. */
export function copyOut(
  k: Subkernel,
  core: Core,
  t: Thread,
  la: number,
  bytes: Uint8Array,
): boolean {
  const ps = userPieces(k, t, la, bytes.length, true);
  if (ps === null) return false;
  let off = 0;
  for (const p of ps) {
    core.writeBytes(p.at, bytes.subarray(off, off + p.len));
    off += p.len;
  }
  return true;
}

/** Writes `bytes` at user address `la` of `t`'s process directly in memory, uncharged, as a
 *  loader or a test harness sets up a process before it runs. */
export function pokeUser(k: Subkernel, t: InProcess, la: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length;) {
    const a = la + off;
    const len = Math.min(4096 - (a % 4096), bytes.length - off);
    const gpa = resolveUser(k, t, a, true);
    if (gpa === null) throw new Error(`user address 0x${a.toString(16)} is not mapped writable`);
    k.machine.mem.writeBytes(gpa, bytes.subarray(off, off + len));
    off += len;
  }
}
