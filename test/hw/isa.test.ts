// The non-VMX instructions and exception delivery, one test per SDM rule: SYSCALL, SYSRET,
// SWAPGS (Vol. 2B), MOV CR3 (Vol. 2B), CPUID in non-root (Vol. 3C §26.1.2), RDTSC, IRETQ
// (Vol. 3A §6.14.3), WRMSR IA32_FLUSH_CMD (Vol. 4), exception delivery and its frame
// (Vol. 3A §6.14), #DF and triple fault (§6.15 Table 6-5), the exception bitmap (Vol. 3C
// §26.2), and the warm cost of each instruction against the profile.

import { writeIdtGate } from '../../src/hw/idt.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, IDT, KERNEL_CODE, KSTACK_TOP, USER_CODE, USER_DATA } from './guest.ts';
import { exitToRoot, isException, isGP, isUD, isVmExit } from './util.ts';
import { PAGE_4K } from '../../src/hw/addr.ts';
import { CS_KERNEL, CS_USER, R, RFLAGS_IF, type Core } from '../../src/hw/core.ts';
import { Mode } from '../../src/hw/counters.ts';
import { ENC } from '../../src/hw/encodings.ts';
import {
  MSR,
  cpuid,
  invlpg,
  invpcid,
  iretq,
  movToCr3,
  rdtsc,
  swapgs,
  syscall,
  sysret,
  verw,
  wrmsr,
} from '../../src/hw/isa.ts';
import { PFEC_U } from '../../src/hw/translation-state.ts';
import { Trap } from '../../src/hw/traps.ts';
import { invept, invvpid, vmEntry } from '../../src/hw/vmx.ts';

/** The default guest's handler for every vector (see guest.ts). */
const HANDLER = KERNEL_CODE + 0x800;

function setCpl(core: Core, cpl: number): void {
  core.cpl = cpl;
  core.syncContext();
}

/** The 64-bit words at `la` (guest linear) upwards, read directly from memory. */
function words(g: Guest, la: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = g.resolve(la + i * 8);
    out.push(g.m.mem.readU32(a + 4) * 2 ** 32 + g.m.mem.readU32(a));
  }
  return out;
}

test('SYSCALL (SDM Vol. 2B): RCX ← next RIP, R11 ← RFLAGS, RIP ← IA32_LSTAR, CPL ← 0, IF masked', () => {
  const g = new Guest({ cpl: 3 });
  const c = g.core;
  const at = g.userCode(ENC.syscall);
  c.lstar = KERNEL_CODE + 0x100;
  c.rflags = 0x202;
  syscall(c, at);
  assert.equal(c.regs.get(R.RCX), at + 2);
  assert.equal(c.regs.get(R.R11), 0x202);
  assert.equal(c.rip, KERNEL_CODE + 0x100);
  assert.equal(c.cpl, 0);
  assert.equal(c.mode, Mode.Kernel);
  assert.equal(c.rflags, 0x2);
  // Counted in the user slot, where the instruction started.
  assert.equal(g.m.snapshot().get('syscalls', { mode: Mode.User }), 1);
});

test('SYSRET (SDM Vol. 2B): RIP ← RCX, RFLAGS ← R11, CPL ← 3', () => {
  const g = new Guest({ cpl: 0 });
  const c = g.core;
  c.regs.set(R.RCX, USER_CODE + 0x10);
  c.regs.set(R.R11, 0x246);
  sysret(c, g.kernelCode(ENC.sysretq));
  assert.equal(c.rip, USER_CODE + 0x10);
  assert.equal(c.rflags, 0x246);
  assert.equal(c.cpl, 3);
  assert.equal(c.mode, Mode.User);
});

test('SYSRET (SDM Vol. 2B): #GP(0) at CPL 3', () => {
  const g = new Guest({ cpl: 3 });
  const at = g.userCode(ENC.sysretq);
  g.core.regs.set(R.RCX, USER_CODE);
  assert.throws(() => sysret(g.core, at), isGP);
  assert.equal(g.core.rip, HANDLER);
  assert.deepEqual(words(g, KSTACK_TOP - 48, 2), [0, at], 'error code 0, RIP of the SYSRET');
});

test('SYSRET (SDM Vol. 2B): #GP(0) in ring 0 for a non-canonical RCX', () => {
  const g = new Guest({ cpl: 0 });
  const at = g.kernelCode(ENC.sysretq);
  g.core.regs.set(R.RCX, 2 ** 47);
  assert.throws(() => sysret(g.core, at), isGP);
  assert.equal(g.core.cpl, 0);
  assert.equal(g.core.rip, HANDLER);
  const frame = words(g, g.core.regs.get(R.RSP), 3);
  assert.deepEqual(frame, [0, at, CS_KERNEL]);
});

test('SWAPGS (SDM Vol. 2B): exchanges GS.base and IA32_KERNEL_GS_BASE; #GP(0) at CPL 3', () => {
  const g = new Guest({ cpl: 0 });
  const c = g.core;
  c.gsBase = 0x1111;
  c.kernelGsBase = 0x2222;
  const at = g.kernelCode(ENC.swapgs);
  swapgs(c, at);
  assert.deepEqual([c.gsBase, c.kernelGsBase], [0x2222, 0x1111]);
  assert.equal(c.rip, at + 3);
  swapgs(c, at);
  assert.deepEqual([c.gsBase, c.kernelGsBase], [0x1111, 0x2222]);
  const u = new Guest({ cpl: 3 });
  u.core.gsBase = 0x1111;
  u.core.kernelGsBase = 0x2222;
  assert.throws(() => swapgs(u.core, u.userCode(ENC.swapgs)), isGP);
  assert.deepEqual([u.core.gsBase, u.core.kernelGsBase], [0x1111, 0x2222]);
});

test('MOV to CR3 (SDM Vol. 2B): #GP(0) at CPL 3; CR3 unchanged', () => {
  const g = new Guest({ cpl: 3 });
  const cr3 = g.core.cr3;
  assert.throws(() => movToCr3(g.core, g.userCode(ENC.movCr3Rax), 0x5000n), isGP);
  assert.equal(g.core.cr3, cr3);
});

test('CPUID in VMX non-root operation is a VM exit, reason 10 (SDM 3C §26.1.2)', () => {
  const g = new Guest({ cpl: 3 });
  const at = g.userCode(ENC.cpuid);
  assert.throws(() => cpuid(g.core, at), isVmExit(10));
  assert.equal(g.core.nonRoot, false);
  assert.equal(g.vmcs.exitReason, 10);
  assert.equal(g.vmcs.exitInstructionLength, 2);
  assert.equal(g.vmcs.guestRip, at);
  assert.equal(g.m.snapshot().get('vmexit.cpuid'), 1);
  assert.equal(g.m.snapshot().get('vmexits', { mode: Mode.User }), 1);
});

/** Runs `run` twice with `setup` before each and returns the cycles of the second (warm). */
function warmCost(core: Core, setup: () => void, run: () => void): number {
  setup();
  run();
  setup();
  const before = core.cycles;
  run();
  return core.cycles - before;
}

test('warm instructions cost exactly their profile figure (fetch hits are hidden)', () => {
  const g = new Guest({ cpl: 0 });
  const c = g.core;
  const ops = g.m.profile.ops;
  const k = (enc: readonly number[]): number => g.kernelCode(enc);
  const cpl0 = (): void => setCpl(c, 0);
  const sc = g.userCode(ENC.syscall);
  assert.equal(
    warmCost(
      c,
      () => setCpl(c, 3),
      () => syscall(c, sc),
    ),
    ops.syscall,
    'SYSCALL',
  );
  const sr = k(ENC.sysretq);
  const srSetup = (): void => {
    cpl0();
    c.regs.set(R.RCX, USER_CODE);
    c.regs.set(R.R11, 0x202);
  };
  assert.equal(
    warmCost(c, srSetup, () => sysret(c, sr)),
    ops.sysret,
    'SYSRET',
  );
  const cases: [string, readonly number[], (at: number) => void, number][] = [
    ['SWAPGS', ENC.swapgs, (at) => swapgs(c, at), ops.swapgs],
    ['MOV CR3', ENC.movCr3Rax, (at) => movToCr3(c, at, BigInt(g.pml4)), ops.movCr3],
    ['INVLPG', ENC.invlpgRax, (at) => invlpg(c, at, USER_DATA), ops.invlpg],
    ['INVPCID', ENC.invpcid, (at) => invpcid(c, at, 0, 0, USER_DATA), ops.invpcid],
    ['RDTSC', ENC.rdtsc, (at) => rdtsc(c, at), ops.rdtsc],
    ['WRMSR IA32_PRED_CMD', ENC.wrmsr, (at) => wrmsr(c, at, MSR.IA32_PRED_CMD, 1), ops.ibpb],
    ['WRMSR IA32_FLUSH_CMD', ENC.wrmsr, (at) => wrmsr(c, at, MSR.IA32_FLUSH_CMD, 1), ops.l1dFlush],
    ['VERW', ENC.verw, (at) => verw(c, at), ops.verw],
  ];
  for (const [name, enc, run, expected] of cases) {
    const at = k(enc);
    assert.equal(
      warmCost(c, cpl0, () => run(at)),
      expected,
      name,
    );
  }
  // IRETQ also pops five words: microcode accesses hitting the DTLB and L1D, which the
  // profile's figure includes.
  const ir = k(ENC.iretq);
  const frame = KSTACK_TOP - 0x200;
  const irSetup = (): void => {
    cpl0();
    c.regs.set(R.RSP, frame);
    [USER_CODE, CS_USER, 0x202, USER_DATA + 0x100, 0x2b].forEach((v, i) =>
      g.m.mem.write64n(g.resolve(frame + i * 8), v),
    );
  };
  assert.equal(
    warmCost(c, irSetup, () => iretq(c, ir)),
    ops.iret,
    'IRETQ',
  );
  // PCID no-flush MOV CR3.
  const pg = new Guest({ cpl: 0, pcide: true });
  const nf = pg.kernelCode(ENC.movCr3Rax);
  assert.equal(
    warmCost(
      pg.core,
      () => {},
      () => movToCr3(pg.core, nf, BigInt(pg.pml4 + 1) | (1n << 63n)),
    ),
    ops.movCr3NoFlush,
    'MOV CR3 (no flush)',
  );
  // VM exit and VM entry, and root-mode instructions.
  const r = new Guest({ cpl: 0 });
  const vc = r.userCode(ENC.vmcall);
  const vr = r.hostCode(ENC.vmresume);
  let exit = 0;
  let entry = 0;
  for (let i = 0; i < 2; i++) {
    let before = r.core.cycles;
    exitToRoot(r, vc);
    exit = r.core.cycles - before;
    before = r.core.cycles;
    vmEntry(r.core, vr, true);
    entry = r.core.cycles - before;
  }
  assert.equal(exit, ops.vmExit, 'VM exit');
  assert.equal(entry, ops.vmEntry, 'VM entry');
  exitToRoot(r, vc);
  const root: [string, readonly number[], (at: number) => void, number][] = [
    ['CPUID (root)', ENC.cpuid, (at) => cpuid(r.core, at), ops.cpuid],
    ['INVEPT', ENC.invept, (at) => invept(r.core, at, 1, r.vmcs.eptp), ops.invept],
    ['INVVPID', ENC.invvpid, (at) => invvpid(r.core, at, 1, 1), ops.invvpid],
  ];
  for (const [name, enc, run, expected] of root) {
    const at = r.hostCode(enc);
    assert.equal(
      warmCost(
        r.core,
        () => {},
        () => run(at),
      ),
      expected,
      name,
    );
  }
});

test('RDTSC returns the core’s cycle counter', () => {
  const g = new Guest({ cpl: 3 });
  const at = g.userCode(ENC.rdtsc);
  g.core.load32(USER_DATA);
  const t1 = rdtsc(g.core, at);
  assert.equal(t1, g.core.cycles);
  g.core.charge(1000);
  const t2 = rdtsc(g.core, at);
  assert.equal(t2, g.core.cycles);
  assert.equal(t2 - t1, 1000 + g.m.profile.ops.rdtsc);
});

test('IRETQ (SDM 3A §6.14.3) pops the frame pushed by exception delivery and returns to CPL 3', () => {
  const g = new Guest({ cpl: 3 });
  const c = g.core;
  const bad = g.userCode([0x90, 0x90]);
  c.regs.set(R.RSP, USER_DATA + 0x800);
  c.rflags = 0x202;
  assert.throws(() => syscall(c, bad), isUD);
  assert.equal(c.cpl, 0);
  assert.equal(c.regs.get(R.RSP), KSTACK_TOP - 40);
  iretq(c, g.kernelCode(ENC.iretq));
  assert.equal(c.rip, bad);
  assert.equal(c.cpl, 3);
  assert.equal(c.mode, Mode.User);
  assert.equal(c.regs.get(R.RSP), USER_DATA + 0x800);
  assert.equal(c.rflags, 0x202);
});

test('WRMSR IA32_FLUSH_CMD bit 0 (SDM Vol. 4) invalidates the L1D; the next load is served by L2', () => {
  const g = new Guest({ cpl: 0 });
  const c = g.core;
  const l1d = g.m.caches.cores[0]!.l1d;
  const at = g.kernelCode(ENC.wrmsr);
  c.load32(USER_DATA);
  c.load32(KERNEL_CODE + 0x40);
  c.fetch(at, ENC.wrmsr.length);
  assert.ok(l1d.occupancy() > 0);
  const l1i = g.m.caches.cores[0]!.l1i.occupancy();
  wrmsr(c, at, MSR.IA32_FLUSH_CMD, 1);
  assert.equal(l1d.occupancy(), 0);
  assert.equal(g.m.caches.cores[0]!.l1i.occupancy(), l1i, 'L1I untouched');
  const before = c.cycles;
  c.load32(USER_DATA);
  // One load at the table's cost plus the L2 latency beyond an L1D hit.
  const pr = g.m.profile;
  assert.equal(c.cycles - before, pr.insn.load + pr.caches.l2.latency - pr.caches.l1d.latency);
});

test('an instruction whose bytes are not at its address raises #UD there', () => {
  const runs: [string, (c: Core, at: number) => void][] = [
    ['SYSCALL', (c, at) => syscall(c, at)],
    ['SWAPGS', (c, at) => swapgs(c, at)],
    ['MOV CR3', (c, at) => movToCr3(c, at, 0n)],
    ['RDTSC', (c, at) => void rdtsc(c, at)],
    ['CPUID', (c, at) => cpuid(c, at)],
    ['WRMSR', (c, at) => wrmsr(c, at, MSR.IA32_PRED_CMD, 1)],
  ];
  for (const [name, run] of runs) {
    const g = new Guest({ cpl: 0 });
    const at = g.kernelCode([0x90, 0x90, 0x90, 0x90, 0x90]);
    assert.throws(() => run(g.core, at), isUD, name);
    assert.equal(g.core.rip, HANDLER, name);
    assert.deepEqual(words(g, g.core.regs.get(R.RSP), 2), [at, CS_KERNEL], name);
  }
});

test('exception delivery from CPL 3 (SDM 3A §6.14): frame SS, RSP, RFLAGS, CS, RIP, error code on TSS.RSP0; CPL 0 at the gate’s handler, IF clear', () => {
  const g = new Guest({ cpl: 3 });
  const c = g.core;
  g.writeGate(14, KERNEL_CODE + 0x900);
  c.regs.set(R.RSP, 0x7ff0);
  c.rflags = 0x202;
  c.rip = USER_CODE + 0x40;
  assert.throws(
    () => c.load32(0x7000_0000),
    (e: unknown) => isException(14, PFEC_U)(e) && (e as Trap).event.kind === 'exception',
  );
  assert.equal(c.cr2, 0x7000_0000);
  assert.equal(c.cpl, 0);
  assert.equal(c.rip, KERNEL_CODE + 0x900);
  assert.equal(c.rflags & RFLAGS_IF, 0);
  assert.equal(c.regs.get(R.RSP), KSTACK_TOP - 48);
  // Lowest address first: error code, RIP, CS, RFLAGS, RSP, SS.
  assert.deepEqual(words(g, KSTACK_TOP - 48, 6), [
    PFEC_U,
    USER_CODE + 0x40,
    CS_USER,
    0x202,
    0x7ff0,
    0x2b,
  ]);
});

test('exception delivery from CPL 0: the frame goes on the current stack, aligned down to 16 bytes; no error code for #UD', () => {
  const g = new Guest({ cpl: 0 });
  const c = g.core;
  const at = g.kernelCode([0x90, 0x90]);
  c.regs.set(R.RSP, KSTACK_TOP - 0x108);
  c.rflags = 0x2;
  assert.throws(() => syscall(c, at), isUD);
  const sp = KSTACK_TOP - 0x110 - 40;
  assert.equal(c.regs.get(R.RSP), sp);
  assert.deepEqual(words(g, sp, 4), [at, CS_KERNEL, 0x2, KSTACK_TOP - 0x108]);
});

test('#PF while delivering a #PF becomes #DF (SDM 3A §6.15, Table 6-5), delivered with error code 0', () => {
  const g = new Guest({ cpl: 3 });
  const c = g.core;
  // The IDT straddles the end of its page: gate 8 is its page's last 16 bytes, gate 14
  // lies on the next page, which is not mapped.
  c.idtBase = IDT + PAGE_4K - 9 * 16;
  const mem = g.m.mem;
  const gate = g.resolve(IDT) + PAGE_4K - 16;
  const df = KERNEL_CODE + 0xa00;
  writeIdtGate(mem, gate, df);
  c.rip = USER_CODE + 0x20;
  assert.throws(() => c.load32(0x7000_0000), isException(8, 0));
  assert.equal(c.rip, df);
  assert.equal(c.cpl, 0);
  assert.deepEqual(words(g, KSTACK_TOP - 48, 3), [0, USER_CODE + 0x20, CS_USER]);
});

test('a fault while delivering #DF is a triple fault: VM exit reason 2 in non-root operation (SDM 3C §26.2), shutdown in root', () => {
  const g = new Guest({ cpl: 3 });
  g.core.idtBase = 0x7000_0000; // not mapped: every gate read faults
  assert.throws(() => g.core.load32(0x7000_0000), isVmExit(2));
  assert.equal(g.core.nonRoot, false);
  assert.equal(g.vmcs.exitReason, 2);
  // In root operation (the host's page table maps only the first 1 GiB) with no IDT.
  g.core.idtBase = -1;
  assert.throws(
    () => g.core.load32(0x8000_0000),
    (e: unknown) => e instanceof Trap && e.event.kind === 'shutdown',
  );
});

test('an exception whose bit is set in the exception bitmap is a VM exit, reason 0 (SDM 3C §26.2), not delivered to the guest', () => {
  const g = new Guest({ cpl: 3 });
  const c = g.core;
  g.vmcs.exceptionBitmap = 1 << 14;
  const cr2 = c.cr2;
  c.rip = USER_CODE + 0x30;
  assert.throws(() => c.load32(0x7000_0000), isVmExit(0));
  assert.equal(c.nonRoot, false);
  assert.equal(g.vmcs.exitReason, 0);
  assert.equal(g.vmcs.guestRip, USER_CODE + 0x30);
  assert.equal(g.vmcs.guestCpl, 3);
  // For a #PF the exit qualification is the faulting linear address, and CR2 is not
  // written (SDM 3C §28.1, §28.2.1).
  assert.equal(g.vmcs.exitQualification, 0x7000_0000);
  assert.equal(c.cr2, cr2);
  assert.deepEqual(words(g, KSTACK_TOP - 48, 6), [0, 0, 0, 0, 0, 0], 'nothing pushed');
  // Other vectors still go to the guest.
  const u = new Guest({ cpl: 3 });
  u.vmcs.exceptionBitmap = 1 << 14;
  assert.throws(() => syscall(u.core, u.userCode([0x90, 0x90])), isUD);
  assert.equal(u.core.nonRoot, true);
});
