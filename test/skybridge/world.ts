// Shared set-up for the SkyBridge security tests: processes with libsel4's stubs, secrets
// planted in a process's memory through physical memory (so a test knows what must still be
// there afterwards), a reader that walks the kernel's page tables in physical memory, and a
// witness that shows the kernel still serves others after an attack: an seL4 Call to an
// echo server and a direct server call, from a process that took no part in the attack.

import assert from 'node:assert/strict';
import type { Machine } from '../../src/hw/machine.ts';
import type { CodeLayout } from '../../src/kernel/code-layout.ts';
import { USER_DATA } from '../../src/kernel/layout.ts';
import type { Process } from '../../src/kernel/process.ts';
import { Cap, RIGHT, msgInfo } from '../../src/kernel/sel4/objects.ts';
import type { Sel4 } from '../../src/kernel/sel4/sel4.ts';
import { Sel4Lib } from '../../src/kernel/sel4/libsel4.ts';
import type { Subkernel } from '../../src/kernel/subkernel.ts';
import { ThreadState, type Thread } from '../../src/kernel/thread.ts';
import type { UserApi } from '../../src/kernel/user.ts';
import { directServerCall, type CallResult } from '../../src/skybridge/direct-call.ts';
import type { SkyBridge } from '../../src/skybridge/skybridge.ts';
import { walk } from '../kernel/fixture.ts';

export { walk };

export interface Prog<T> {
  p: Process;
  lib: Sel4Lib;
  at: T;
}

/** A process whose text holds libsel4's stubs, a 16-instruction block (`work`), then what
 *  `extra` lays out. */
export function prog<T = Record<string, never>>(
  k: Subkernel,
  name: string,
  extra?: (t: CodeLayout) => T,
): Prog<T> & { work: { at: number; bytes: number; instructions: number } } {
  let lib!: Sel4Lib;
  let at = {} as T;
  let work!: { at: number; bytes: number; instructions: number };
  const p = k.createProcess(name, (t) => {
    lib = Sel4Lib.layout(t);
    work = t.block(16, 48);
    if (extra) at = extra(t);
  });
  return { p, lib, at, work };
}

/** Writes 32-bit `words` at `p`'s user address `la` straight into physical memory. */
export function plant(m: Machine, p: Process, la: number, words: readonly number[]): void {
  words.forEach((w, i) => {
    const pa = walk(m, p.space.userRoot, la + i * 4);
    if (pa === null) throw new Error(`${p.name}: ${(la + i * 4).toString(16)} not mapped`);
    m.mem.write32(pa, w);
  });
}

/** `n` 32-bit words of `p` at user address `la`, read from physical memory. */
export function words(m: Machine, p: Process, la: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const pa = walk(m, p.space.userRoot, la + i * 4);
    if (pa === null) throw new Error(`${p.name}: ${(la + i * 4).toString(16)} not mapped`);
    out.push(m.mem.read32(pa));
  }
  return out;
}

/** Distinct secrets per process, planted at USER_DATA (8 words). */
export function secretOf(p: Process): number[] {
  return Array.from({ length: 8 }, (_, i) => (0x5ec0_0000 + p.id * 0x100 + i) >>> 0);
}

export function plantSecrets(m: Machine, ps: readonly Process[]): void {
  for (const p of ps) plant(m, p, USER_DATA, secretOf(p));
}

/** Asserts each process's secret at USER_DATA is still there, byte for byte. */
export function assertSecretsIntact(m: Machine, ps: readonly Process[]): void {
  for (const p of ps)
    assert.deepEqual(words(m, p, USER_DATA, 8), secretOf(p), `${p.name}'s memory changed`);
}

export interface Witness {
  /** The witness's seL4 Call reply, its direct call's result, and its own data as it read
   *  it afterwards. */
  ipc: number[];
  direct: CallResult[];
  ownData: number[];
  thread: Thread;
  echo: Prog<Record<string, never>>;
  w: Prog<Record<string, never>>;
}

/**
 * A witness: process W (bound to `serverId` as a client) runs at `priority` (below the
 * attack's threads, so it runs after them on its core), makes an seL4 Call to echo server E
 * and a direct call to the server with `args`, and reads its own data.
 */
export function witness(
  env: { m: Machine; k: Subkernel; sel4: Sel4; sb: SkyBridge },
  serverId: number,
  args: readonly number[],
  opts: { priority?: number; core?: number; after?: () => boolean } = {},
): Witness {
  const { m, k, sel4, sb } = env;
  const ep = sel4.newEndpoint();
  const echo = prog(k, 'E');
  const w = prog(k, 'W');
  sel4.mint(w.p, 1, Cap.endpoint(ep, 0xee, RIGHT.Send | RIGHT.GrantReply));
  sel4.mint(echo.p, 1, Cap.endpoint(ep, 0, RIGHT.Receive));
  sb.registerClient(m.core(0), w.p, serverId);
  plantSecrets(m, [w.p, echo.p]);
  const out: Witness = { ipc: [], direct: [], ownData: [], thread: null!, echo, w };
  k.createThread(
    echo.p,
    'E',
    (u) =>
      (function* () {
        let r = yield* echo.lib.recv(u, 1);
        for (;;) r = yield* echo.lib.replyRecv(u, 1, msgInfo(0, 0, 1), [r.mrs[0]! + 1]);
      })(),
    { priority: 250, core: opts.core ?? 0 },
  );
  out.thread = k.createThread(
    w.p,
    'W',
    (u: UserApi) =>
      (function* () {
        while (opts.after && !opts.after()) {
          u.run(w.work);
          yield* u.poll();
        }
        out.ipc = (yield* w.lib.call(u, 1, msgInfo(0, 0, 1), [41])).mrs;
        out.direct.push(yield* directServerCall(sb, u, serverId, args));
        for (let i = 0; i < 8; i++) out.ownData.push(u.load32(USER_DATA + i * 4));
      })(),
    { priority: opts.priority ?? 10, core: opts.core ?? 0 },
  );
  return out;
}

/** The witness completed: its IPC was answered, its direct call returned `expected`, and it
 *  read its own secret. */
export function assertServed(x: Witness, expected: CallResult): void {
  assert.equal(x.thread.state, ThreadState.Exited, `witness: ${x.thread.exitReason}`);
  assert.deepEqual(x.ipc, [42], 'the kernel still answers seL4 IPC');
  assert.deepEqual(x.direct, [expected], 'the server still answers direct calls');
  assert.deepEqual(x.ownData, secretOf(x.w.p));
  assert.equal(x.w.p.killed, false);
  assert.equal(x.echo.p.killed, false);
}
