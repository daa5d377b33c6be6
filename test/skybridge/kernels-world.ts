// Shared set-up for the SkyBridge security suite on every Subkernel (issue 6): a machine
// booted with bootKernel(name, m, cfg, [sb]) for seL4, Fiasco.OC or Zircon; processes that
// use only the generic Subkernel API (no kernel's native IPC stubs, so a case means the same
// on each kernel); an image of every process's memory read from physical memory through its
// own page table (its data, SkyBridge's per-process pages, the shared buffers), so a case can
// assert exactly which words changed; and a witness: a client that took no part in the case
// and makes a direct call afterwards.

import assert from 'node:assert/strict';
import { bootKernel, KERNELS, type KernelName } from '../../src/experiments/kernels.ts';
import { Machine } from '../../src/hw/machine.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import type { Block, CodeLayout } from '../../src/kernel/code-layout.ts';
import { USER_DATA } from '../../src/kernel/layout.ts';
import type { Process } from '../../src/kernel/process.ts';
import type { Subkernel, SubkernelConfig } from '../../src/kernel/subkernel.ts';
import { ThreadState, type Thread } from '../../src/kernel/thread.ts';
import { directServerCall, type CallResult } from '../../src/skybridge/direct-call.ts';
import { BINDINGS_VA, KEY_TABLE_VA, SERVER_STATE_VA } from '../../src/skybridge/layout.ts';
import { SkyBridge } from '../../src/skybridge/skybridge.ts';
import { plantSecrets, secretOf, walk } from './world.ts';

export { KERNELS, type KernelName };
export { assertSecretsIntact, plant, plantSecrets, secretOf, walk, words } from './world.ts';

/** Bytes of a process's data region (createProcess's default). */
const DATA_BYTES = 64 * 1024;

export interface World {
  name: KernelName;
  m: Machine;
  k: Subkernel;
  sb: SkyBridge;
}

/** `cores` cores (one unless asked), 1 GiB, the kernel `name` with SkyBridge built in (key seed 7, as fixture.ts). */
export function bootWorld(name: KernelName, cfg: Partial<SubkernelConfig> = {}, cores = 1): World {
  const m = new Machine({ cores, memoryBytes: 1024 ** 3, profile: SKYLAKE });
  const sb = new SkyBridge({ seed: 7 });
  const k = bootKernel(name, m, cfg, [sb]);
  return { name, m, k, sb };
}

export interface Proc<T> {
  p: Process;
  /** A 16-instruction block of its text. */
  work: Block;
  at: T;
}

/** A process whose text holds a 16-instruction block (`work`), then what `extra` lays out. */
export function proc<T = Record<string, never>>(
  k: Subkernel,
  name: string,
  extra?: (t: CodeLayout) => T,
): Proc<T> {
  let at = {} as T;
  let work!: Block;
  const p = k.createProcess(name, (t) => {
    work = t.block(16, 48);
    if (extra) at = extra(t);
  });
  return { p, work, at };
}

// ---- Memory images ----------------------------------------------------------------------

interface Region {
  label: string;
  p: Process;
  va: number;
  bytes: number;
}

export interface Image {
  regions: Region[];
  words: (Uint32Array | null)[];
}

/** Every process's data; each server's key table and stack bookkeeping; each client's
 *  binding page; each binding's shared buffer (read through the client's table). Not the
 *  stacks, identity pages or IPC buffers/UTCBs, which calls and kernels use as scratch. */
function regionsOf(w: World): Region[] {
  const out: Region[] = w.k.processes.map((p) => ({
    label: `${p.name} data`,
    p,
    va: USER_DATA,
    bytes: DATA_BYTES,
  }));
  for (const s of w.sb.servers) {
    const n = s.process.name;
    out.push({ label: `${n} keys`, p: s.process, va: KEY_TABLE_VA, bytes: 4096 });
    out.push({ label: `${n} state`, p: s.process, va: SERVER_STATE_VA, bytes: 4096 });
  }
  const clients = new Set<Process>();
  for (const b of w.sb.bindings) {
    if (!clients.has(b.client)) {
      clients.add(b.client);
      out.push({ label: `${b.client.name} bindings`, p: b.client, va: BINDINGS_VA, bytes: 4096 });
    }
    const label = `${b.client.name}→${b.server.process.name} buffer`;
    out.push({ label, p: b.client, va: b.buffer, bytes: b.bufferBytes });
  }
  return out;
}

function read(m: Machine, r: Region): Uint32Array | null {
  const out = new Uint32Array(r.bytes / 4);
  for (let off = 0; off < r.bytes; off += 4096) {
    const pa = walk(m, r.p.space.userRoot, r.va + off);
    if (pa === null) return null;
    const page = m.mem.readBytes(pa, 4096);
    out.set(new Uint32Array(page.buffer, page.byteOffset, 1024), off / 4);
  }
  return out;
}

/** The image of every region of `w` now, from physical memory. */
export function image(w: World): Image {
  const regions = regionsOf(w);
  return { regions, words: regions.map((r) => read(w.m, r)) };
}

const hex = (v: number): string => v.toString(16).padStart(8, '0');

/** The 32-bit words of `before`'s regions that differ now, as "label+0xoff: old → new". */
export function changes(w: World, before: Image): string[] {
  const out: string[] = [];
  before.regions.forEach((r, i) => {
    const was = before.words[i]!;
    const now = read(w.m, r);
    if (was === null || now === null) {
      if ((was === null) !== (now === null)) out.push(`${r.label}: mapping changed`);
      return;
    }
    for (let j = 0; j < was.length; j++) {
      if (was[j] !== now[j])
        out.push(`${r.label}+0x${(j * 4).toString(16)}: ${hex(was[j]!)} → ${hex(now[j]!)}`);
    }
  });
  return out;
}

/** A changed word, as `changes` writes it. */
export const changed = (label: string, off: number, was: number, now: number): string =>
  `${label}+0x${off.toString(16)}: ${hex(was)} → ${hex(now)}`;

/** Plants every process's secret (world.ts's secretOf) and returns the image after it. */
export function settle(w: World): Image {
  plantSecrets(w.m, w.k.processes);
  return image(w);
}

// ---- The witness ------------------------------------------------------------------------

export interface Witness {
  direct: CallResult[];
  ownData: number[];
  thread: Thread;
  w: Proc<Record<string, never>>;
}

/**
 * Process W, bound to `serverId`, whose thread (at `priority`, below the case's threads, so
 * it runs after them on its core) waits for `after` if given, makes a direct call with
 * `args`, and reads its own data.
 */
export function witness(
  env: World,
  serverId: number,
  args: readonly number[],
  opts: { priority?: number; after?: () => boolean } = {},
): Witness {
  const { m, k, sb } = env;
  const w = proc(k, 'W');
  sb.registerClient(m.core(0), w.p, serverId);
  const out: Witness = { direct: [], ownData: [], thread: null!, w };
  out.thread = k.createThread(
    w.p,
    'W',
    (u) =>
      (function* () {
        while (opts.after && !opts.after()) {
          u.run(w.work);
          yield* u.poll();
        }
        out.direct.push(yield* directServerCall(sb, u, serverId, args));
        for (let i = 0; i < 8; i++) out.ownData.push(u.load32(USER_DATA + i * 4));
      })(),
    { priority: opts.priority ?? 10 },
  );
  return out;
}

/** The witness completed: its direct call returned `expected` and it read its own secret. */
export function assertServed(x: Witness, expected: CallResult): void {
  assert.equal(x.thread.state, ThreadState.Exited, `witness: ${x.thread.exitReason}`);
  assert.deepEqual(x.direct, [expected], 'the server still answers another client');
  assert.deepEqual(x.ownData, secretOf(x.w.p), 'the witness reads its own memory');
  assert.equal(x.w.p.killed, false);
}

/** A result without the refusal's text. */
export const strip = (c: CallResult | null) =>
  c === null || c.ok ? c : { ok: c.ok, error: c.error };

/** One test per (case, kernel). */
export function eachKernel(
  test: (name: string, fn: () => void) => unknown,
  title: string,
  fn: (name: KernelName) => void,
): void {
  for (const name of KERNELS) test(`[${name}] ${title}`, () => fn(name));
}

/**
 * The words a killed client's revocation clears, as `changes` lists them: for each of its
 * bindings, the key-table slot in the server and its own binding record (from `before`).
 * (SkyBridge.onKill: a killed process's bindings are revoked.)
 */
export function revokedWords(w: World, before: Image, client: Process): string[] {
  const out: string[] = [];
  const at = (label: string): Uint32Array => {
    const i = before.regions.findIndex((r) => r.label === label);
    return before.words[i]!;
  };
  for (const b of w.sb.bindings.filter((x) => x.client === client)) {
    const keys = at(`${b.server.process.name} keys`);
    for (const off of [b.slot * 8, b.slot * 8 + 4]) {
      if (keys[off / 4] !== 0)
        out.push(changed(`${b.server.process.name} keys`, off, keys[off / 4]!, 0));
    }
    const rec = at(`${client.name} bindings`);
    for (let off = b.server.id * 32; off < b.server.id * 32 + 32; off += 4) {
      if (rec[off / 4] !== 0) out.push(changed(`${client.name} bindings`, off, rec[off / 4]!, 0));
    }
  }
  return out.sort();
}
