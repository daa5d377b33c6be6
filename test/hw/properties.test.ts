// Property tests (fast-check) of the MMU against a reference walker written here: a pure
// function over PhysicalMemory that reads the guest tables and the EPT and caches nothing.
//   (a) after the architecturally required invalidation, no stale translation is returned;
//   (b) a translation cached under one EPTP is never used under another;
//   (c) a translation never grants more than both the guest and the EPT entries allow, and
//       never denies what they allow;
//   (d) the same random program on fresh machines gives identical counters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Guest, KERNEL_CODE, KERNEL_DATA, KSTACK_TOP, USER_DATA } from './guest.ts';
import { exitAndResume } from './util.ts';
import { PAGE_2M, PAGE_4K, PageSize } from '../../src/hw/addr.ts';
import { R } from '../../src/hw/core.ts';
import { ENC } from '../../src/hw/encodings.ts';
import { MSR, invlpg, movToCr3, rdtsc, wrmsr } from '../../src/hw/isa.ts';
import { mapEptPage } from '../../src/hw/page-table-writer.ts';
import type { PhysicalMemory } from '../../src/hw/phys-mem.ts';
import { Access, FaultKind } from '../../src/hw/translation-state.ts';
import { Trap } from '../../src/hw/traps.ts';
import { vmfunc } from '../../src/hw/vmx.ts';
import { Mix } from '../../src/hw/mix.ts';

const ALU_ONLY = new Mix('test: ALU only', { alu: 1 }, 'a test mix');

// ---- The reference walker ------------------------------------------------------------

const TWO32 = 2 ** 32;

function entry(mem: PhysicalMemory, a: number): [number, number] {
  return [mem.read32(a), mem.read32(a + 4)];
}

/** Bits 45:12 of an entry (MAXPHYADDR 46). */
function addrOf(lo: number, hi: number): number {
  return (hi & 0x3fff) * TWO32 + ((lo & 0xffff_f000) >>> 0);
}

type EptRef =
  | { kind: 'ok'; hpa: number; r: boolean; w: boolean; x: boolean }
  | { kind: 'violation' | 'misconfig' };

/** GPA → HPA through the EPT at `root`, with the AND of the rights of every level. */
function refEpt(mem: PhysicalMemory, root: number, gpa: number): EptRef {
  let table = root;
  let rights = 7;
  for (let level = 4; level >= 1; level--) {
    const span = 2 ** (12 + 9 * (level - 1));
    const [lo, hi] = entry(mem, table + (Math.floor(gpa / span) % 512) * 8);
    const rwx = lo & 7;
    if (rwx === 0) return { kind: 'violation' };
    if ((rwx & 3) === 2) return { kind: 'misconfig' };
    rights &= rwx;
    const a = addrOf(lo, hi);
    if (level === 1 || (level <= 3 && (lo & 0x80) !== 0)) {
      return {
        kind: 'ok',
        hpa: Math.floor(a / span) * span + (gpa % span),
        r: (rights & 1) !== 0,
        w: (rights & 2) !== 0,
        x: (rights & 4) !== 0,
      };
    }
    table = a;
  }
  throw new Error('unreachable');
}

type GuestRef =
  | { kind: 'walked'; user: boolean; write: boolean; nx: boolean; final: EptRef }
  | { kind: 'not-present' }
  | { kind: 'violation' | 'misconfig' };

/** The guest walk for `la` from the PML4 at guest-physical `cr3`; every entry's address
 *  goes through the EPT first (which must allow reading it). */
function refGuest(mem: PhysicalMemory, cr3: number, eptRoot: number, la: number): GuestRef {
  let table = cr3;
  let user = true;
  let write = true;
  let nx = false;
  for (let level = 4; level >= 1; level--) {
    const span = 2 ** (12 + 9 * (level - 1));
    const e = refEpt(mem, eptRoot, table + (Math.floor(la / span) % 512) * 8);
    if (e.kind !== 'ok') return e;
    if (!e.r) return { kind: 'violation' };
    const [lo, hi] = entry(mem, e.hpa);
    if ((lo & 1) === 0) return { kind: 'not-present' };
    user &&= (lo & 4) !== 0;
    write &&= (lo & 2) !== 0;
    nx ||= (hi & 0x8000_0000) !== 0;
    const a = addrOf(lo, hi);
    if (level === 1 || (level <= 3 && (lo & 0x80) !== 0)) {
      const gpa = Math.floor(a / span) * span + (la % span);
      return { kind: 'walked', user, write, nx, final: refEpt(mem, eptRoot, gpa) };
    }
    table = a;
  }
  throw new Error('unreachable');
}

interface Ctx {
  cpl: number;
  smep: boolean;
  smap: boolean;
}

/** The architectural outcome: the HPA, or the fault (guest checks before the EPT's). */
function refOutcome(r: GuestRef, ctx: Ctx, access: Access): number | FaultKind {
  if (r.kind === 'not-present') return FaultKind.PageFault;
  if (r.kind !== 'walked') {
    return r.kind === 'violation' ? FaultKind.EptViolation : FaultKind.EptMisconfig;
  }
  const { user, write, nx } = r;
  let denied: boolean;
  if (ctx.cpl === 3) {
    denied = !user || (access === Access.Write && !write) || (access === Access.Fetch && nx);
  } else if (access === Access.Fetch) {
    denied = nx || (user && ctx.smep);
  } else {
    denied = (user && ctx.smap) || (access === Access.Write && !write);
  }
  if (denied) return FaultKind.PageFault;
  const f = r.final;
  if (f.kind !== 'ok') {
    return f.kind === 'violation' ? FaultKind.EptViolation : FaultKind.EptMisconfig;
  }
  const ok = access === Access.Read ? f.r : access === Access.Write ? f.w : f.x;
  return ok ? f.hpa : FaultKind.EptViolation;
}

/** What the model says: the HPA, or the fault kind. */
function modelOutcome(g: Guest, la: number, access: Access): number | FaultKind {
  const hpa = g.core.mmu.translate(la, access);
  return hpa >= 0 ? hpa : g.core.ts.fault;
}

function refFor(g: Guest, la: number, access: Access): number | FaultKind {
  const c = g.core;
  const r = refGuest(g.m.mem, c.ts.cr3Base, c.ts.eptRoot, la);
  return refOutcome(r, { cpl: c.cpl, smep: c.smep, smap: c.smap }, access);
}

/** Host-physical address of the guest PTE for `la` (guest tables are identity-mapped). */
function pteAddr(g: Guest, la: number): number {
  let table = g.pml4;
  for (const shift of [39, 30, 21]) {
    const [lo, hi] = entry(g.m.mem, table + (Math.floor(la / 2 ** shift) % 512) * 8);
    table = addrOf(lo, hi);
  }
  return table + (Math.floor(la / PAGE_4K) % 512) * 8;
}

/** Frames nothing else uses, for remapping. */
const SPARE = 0x1a0_0000;

// ---- (a) no stale translation after the required invalidation -------------------------

const PAGES = [USER_DATA, USER_DATA + PAGE_4K, USER_DATA + 2 * PAGE_4K, KERNEL_DATA];
const GLOBAL = [false, false, false, true];

type OpA =
  | { op: 'remap'; page: number; frame: number; cr3: boolean }
  | { op: 'access'; page: number; off: number; write: boolean };

const opA: fc.Arbitrary<OpA> = fc.oneof(
  fc.record({
    op: fc.constant('remap' as const),
    page: fc.nat(PAGES.length - 1),
    frame: fc.nat(7),
    cr3: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('access' as const),
    page: fc.nat(PAGES.length - 1),
    off: fc.nat(PAGE_4K - 1),
    write: fc.boolean(),
  }),
);

test('property (a): after INVLPG or a flushing MOV CR3, the TLB never returns a stale translation', () => {
  fc.assert(
    fc.property(fc.boolean(), fc.array(opA, { minLength: 1, maxLength: 40 }), (ept4k, ops) => {
      const g = new Guest({ cpl: 0, ept4k });
      const c = g.core;
      const invAt = g.kernelCode(ENC.invlpgRax);
      const cr3At = g.kernelCode(ENC.movCr3Rax);
      for (const o of ops) {
        const la = PAGES[o.page]!;
        if (o.op === 'remap') {
          const at = pteAddr(g, la);
          const lo = g.m.mem.read32(at);
          g.m.mem.write32(at, ((SPARE + o.frame * PAGE_4K) | (lo & 0xfff)) >>> 0);
          // A global page needs INVLPG: MOV CR3 leaves global entries (SDM §4.10.4.1).
          if (o.cr3 && !GLOBAL[o.page]) movToCr3(c, cr3At, BigInt(g.pml4));
          else invlpg(c, invAt, la);
        } else {
          const access = o.write ? Access.Write : Access.Read;
          const expected = refFor(g, la + o.off, access);
          assert.equal(typeof expected, 'number', 'the reference finds every page mapped');
          assert.equal(modelOutcome(g, la + o.off, access), expected);
        }
      }
    }),
    { numRuns: 100, seed: 0x5ca1ab1e },
  );
});

// ---- (b) a translation cached under one EPTP is never used under another --------------

/** EPT k (k ≥ 1): identity 2 MiB pages over guest memory, except that the 2 MiB region of
 *  the user data frames is mapped by 4 KiB pages, with those frames sent elsewhere. */
function buildEpt(g: Guest, k: number, root: number): void {
  const mem = g.m.mem;
  const data = g.resolve(USER_DATA);
  const region = data - (data % PAGE_2M);
  for (let a = 0; a < 64 * 1024 * 1024; a += PAGE_2M) {
    if (a !== region) mapEptPage(mem, g.host, root, a, a, PageSize.Size2M);
  }
  for (let a = region; a < region + PAGE_2M; a += PAGE_4K) {
    const page = Math.floor((a - data) / PAGE_4K);
    const target = page >= 0 && page < 4 ? SPARE + (k * 4 + page) * PAGE_4K : a;
    mapEptPage(mem, g.host, root, a, target, PageSize.Size4K);
  }
}

type OpB =
  { op: 'vmfunc'; index: number } | { op: 'access'; page: number; off: number; write: boolean };

const opB: fc.Arbitrary<OpB> = fc.oneof(
  fc.record({ op: fc.constant('vmfunc' as const), index: fc.nat(3) }),
  fc.record({
    op: fc.constant('access' as const),
    page: fc.nat(3),
    off: fc.nat(PAGE_4K - 1),
    write: fc.boolean(),
  }),
);

test('property (b): a translation cached under one EPTP is never used under another (VMFUNC switching)', () => {
  fc.assert(
    fc.property(fc.array(opB, { minLength: 1, maxLength: 40 }), fc.boolean(), (ops, user) => {
      const g = new Guest({ cpl: user ? 3 : 0 });
      for (let k = 1; k <= 3; k++) g.addEpt(k, (root) => buildEpt(g, k, root));
      const vf = g.userCode(ENC.vmfunc);
      const c = g.core;
      for (const o of ops) {
        if (o.op === 'vmfunc') {
          c.regs.set(R.RAX, 0);
          c.regs.set(R.RCX, o.index);
          vmfunc(c, vf);
          continue;
        }
        const la = USER_DATA + o.page * PAGE_4K + o.off;
        const access = o.write ? Access.Write : Access.Read;
        const expected = refFor(g, la, access);
        assert.equal(typeof expected, 'number');
        assert.equal(modelOutcome(g, la, access), expected);
      }
    }),
    { numRuns: 100, seed: 0xe97 },
  );
});

// ---- (c) never more rights than both the guest and the EPT entries allow ---------------

/** A fresh PML4 slot and a guest-physical address beyond the identity-mapped 1 GiB. */
const LA = 200 * 2 ** 39;
const GPA = 2 ** 39;

interface Level {
  rw: boolean;
  us: boolean;
  xd: boolean;
}
const levelArb: fc.Arbitrary<Level> = fc.record({
  rw: fc.boolean(),
  us: fc.boolean(),
  xd: fc.boolean(),
});

const accessArb = fc.constantFrom(Access.Read, Access.Write, Access.Fetch);
const ctxArb = fc.record({ cpl: fc.constantFrom(0, 3), smep: fc.boolean(), smap: fc.boolean() });

test('property (c): a translation grants exactly what both the guest entries and the EPT entries allow', () => {
  fc.assert(
    fc.property(
      fc.array(levelArb, { minLength: 4, maxLength: 4 }),
      fc.integer({ min: 1, max: 3 }),
      // EPT R/W/X per level (all 8 values: W without R is a misconfiguration).
      fc.array(fc.nat(7), { minLength: 4, maxLength: 4 }),
      fc.integer({ min: 1, max: 3 }),
      fc.array(fc.tuple(ctxArb, accessArb, fc.nat(PAGE_4K - 1)), { minLength: 1, maxLength: 5 }),
      (guest, guestLeaf, ept, eptLeaf, accesses) => {
        const g = new Guest({ cpl: 0 });
        const mem = g.m.mem;
        // Guest tables: levels 4 .. guestLeaf, entry flags from `guest` (index 0 = PML4E).
        let at = g.pml4 + (Math.floor(LA / 2 ** 39) % 512) * 8;
        for (let level = 4; level >= guestLeaf; level--) {
          const f = guest[4 - level]!;
          const leaf = level === guestLeaf;
          const next = leaf ? GPA : g.tables.alloc();
          const flags = 1 | (f.rw ? 2 : 0) | (f.us ? 4 : 0) | (leaf && level > 1 ? 0x80 : 0);
          mem.write32(at, (next % TWO32) + flags);
          mem.write32(at + 4, Math.floor(next / TWO32) + (f.xd ? 0x8000_0000 : 0));
          if (!leaf) at = next + (Math.floor(LA / 2 ** (12 + 9 * (level - 2))) % 512) * 8;
        }
        // EPT: levels 4 .. eptLeaf for GPA under the guest's EPT root.
        at = g.eptRoot + (Math.floor(GPA / 2 ** 39) % 512) * 8;
        for (let level = 4; level >= eptLeaf; level--) {
          const leaf = level === eptLeaf;
          const next = leaf ? (level === 3 ? 0 : 0x1c0_0000) : g.host.alloc();
          const flags = ept[4 - level]! | (leaf ? (6 << 3) | (level > 1 ? 0x80 : 0) : 0);
          mem.write32(at, next + flags);
          mem.write32(at + 4, 0);
          if (!leaf) at = next + (Math.floor(GPA / 2 ** (12 + 9 * (level - 2))) % 512) * 8;
        }
        const c = g.core;
        for (const [ctx, access, off] of accesses) {
          c.cpl = ctx.cpl;
          c.smep = ctx.smep;
          c.smap = ctx.smap;
          c.syncContext();
          const expected = refFor(g, LA + off, access);
          const got = modelOutcome(g, LA + off, access);
          assert.equal(got, expected, `${JSON.stringify(ctx)} access ${access}`);
        }
      },
    ),
    { numRuns: 500, seed: 0xc0ffee },
  );
});

// ---- (d) determinism -------------------------------------------------------------------

type OpD =
  | { op: 'load' | 'store'; page: number; off: number }
  | { op: 'exec'; n: number }
  | { op: 'vmfunc'; index: number }
  | { op: 'cr3' | 'flush' | 'rdtsc' | 'fault' | 'vmcall' }
  | { op: 'invlpg'; page: number };

const opD: fc.Arbitrary<OpD> = fc.oneof(
  fc.record({
    op: fc.constantFrom('load' as const, 'store' as const),
    page: fc.nat(3),
    off: fc.nat(PAGE_4K / 8 - 1),
  }),
  fc.record({ op: fc.constant('exec' as const), n: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ op: fc.constant('vmfunc' as const), index: fc.nat(1) }),
  fc.record({ op: fc.constantFrom(...(['cr3', 'flush', 'rdtsc', 'fault', 'vmcall'] as const)) }),
  fc.record({ op: fc.constant('invlpg' as const), page: fc.nat(3) }),
);

function run(ops: OpD[]): { data: number[][][]; cycles: number; traps: string[] } {
  const g = new Guest({ cpl: 0 });
  g.addEpt(1);
  const c = g.core;
  const at = {
    vmfunc: g.userCode(ENC.vmfunc),
    cr3: g.kernelCode(ENC.movCr3Rax),
    inv: g.kernelCode(ENC.invlpgRax),
    wrmsr: g.kernelCode(ENC.wrmsr),
    rdtsc: g.kernelCode(ENC.rdtsc),
  };
  const traps: string[] = [];
  for (const o of ops) {
    // Every op starts from the guest kernel (a fault handler is where it left off).
    c.cpl = 0;
    c.syncContext();
    c.regs.set(R.RSP, KSTACK_TOP - 0x100);
    try {
      switch (o.op) {
        case 'load':
          c.load64(PAGES[o.page]! + o.off * 8);
          break;
        case 'store':
          c.store64(PAGES[o.page]! + o.off * 8, o.off);
          break;
        case 'exec':
          c.exec(KERNEL_CODE + 0x100, Math.min(4 * o.n, 0x600), o.n, ALU_ONLY);
          break;
        case 'vmfunc':
          c.regs.set(R.RCX, o.index);
          vmfunc(c, at.vmfunc);
          break;
        case 'cr3':
          movToCr3(c, at.cr3, BigInt(g.pml4));
          break;
        case 'flush':
          wrmsr(c, at.wrmsr, MSR.IA32_FLUSH_CMD, 1);
          break;
        case 'rdtsc':
          rdtsc(c, at.rdtsc);
          break;
        case 'fault':
          c.load32(0x7000_0000);
          break;
        case 'vmcall':
          exitAndResume(g);
          break;
        case 'invlpg':
          invlpg(c, at.inv, PAGES[o.page]!);
          break;
      }
    } catch (e) {
      if (!(e instanceof Trap)) throw e;
      traps.push(e.message);
    }
  }
  const snap = g.m.snapshot();
  return {
    data: snap.data.map((slots) => slots.map((s) => Array.from(s))),
    cycles: c.cycles,
    traps,
  };
}

test('property (d): the same random program on two fresh machines gives identical counters', () => {
  fc.assert(
    fc.property(fc.array(opD, { minLength: 1, maxLength: 60 }), (ops) => {
      const a = run(ops);
      const b = run(ops);
      assert.ok(a.cycles > 0);
      assert.deepEqual(b, a);
    }),
    { numRuns: 60, seed: 0xd00d },
  );
});
