// The Rootkernel: SkyBridge's tiny VMM. It boots the machine in VMX root operation, builds
// the base EPT (guest RAM 1:1 with 1 GiB pages, its own region unmapped), gives each core a
// VMCS, and enters the Subkernel in non-root mode. From then on it runs only on a VM exit,
// and the controls it sets make those rare (SDM Vol. 3C §26.1, §25.6):
// - CR3-load exiting off: the Subkernel switches address spaces without an exit;
// - external-interrupt exiting off and an exception bitmap of 0: interrupts and exceptions
//   go through the guest's IDT;
// - CPUID and VMCALL exit unconditionally; EPT violations and misconfigurations exit; a
//   VMFUNC that fails (bad list index or invalid EPTP) exits with reason 59.
// VPID is on (VPID 1) unless RootkernelConfig.vpid is false, so VM entries and exits flush no
// TLB entries (SDM Vol. 3C §29.1); with it off they flush the guest's linear and combined
// mappings (§29.4.3.1). EPTP switching is enabled with each core's own EPTP-list page.
//
// An EPT violation, EPT misconfiguration or failed VMFUNC is never silent: the guest is
// re-entered at the Subkernel's upcall entry (SetUpcall) at CPL 0 with the fault described in
// registers (UpcallRegs), and `handleExit` returns the same description, so the Subkernel's
// TypeScript can stop the offending process. Nothing else changes: other cores, other views.

import { writeIdtGate } from '../hw/idt.ts';
import { PAGE_1G, PageSize, hex } from '../hw/addr.ts';
import { type Core, R } from '../hw/core.ts';
import type { Machine } from '../hw/machine.ts';
import { mapGuestPage } from '../hw/page-table-writer.ts';
import { MSR, wrmsr } from '../hw/isa.ts';
import { Trap } from '../hw/traps.ts';
import { ExitReason, Vmcs } from '../hw/vmcs.ts';
import { vmcall, vmEntry, vmxonAndLoad } from '../hw/vmx.ts';
import { ROUTINES, SITES, run, writeCode } from './code.ts';
import { cpuidLeaf } from './cpuid.ts';
import { FramePool, buildBaseEpt } from './ept.ts';
import { Hypercall, HypercallError, UpcallRegs } from './hypercalls.ts';
import { type Layout, type RootkernelConfig, computeLayout, stackTop } from './layout.ts';
import { FRAME_REGS, MAP_UPCALL_FRAME, UpcallFrame } from './upcall-frame.ts';
import { Views } from './views.ts';

/** What launch() loads into the guest-state area. The guest starts at CPL 0. */
export interface GuestEntry {
  cr3: number;
  rip: number;
  rsp: number;
  idtBase: number;
  /** TSS.RSP0: the kernel stack for interrupts from CPL 3, and for upcalls. */
  rsp0: number;
  /** Default 0x2 (interrupts off until the Subkernel enables them). */
  rflags?: number;
  /** Counter owner while the guest runs (default 'subkernel'). */
  owner?: number;
}

export interface Violation {
  kind: 'violation';
  /** 48 EPT violation, 49 EPT misconfiguration, 59 VMFUNC failure. */
  reason: number;
  guestPhysical: number;
  guestLinear: number;
  /** RIP of the faulting instruction. */
  rip: number;
  cpl: number;
  qualification: number;
  /** The EPTP the guest ran on when it faulted (the upcall runs on the base EPT). */
  eptp: number;
}
export type ExitOutcome = { kind: 'resumed' } | Violation;

export class RootkernelError extends Error {
  constructor(msg: string) {
    super(`rootkernel: ${msg}`);
    this.name = 'RootkernelError';
  }
}

const RESUMED: ExitOutcome = { kind: 'resumed' };
/** GPRs a VM exit leaves alone and the Rootkernel saves and restores (all but RSP). */
const SAVED_GPRS = 15;
const RFLAGS_IF = 1 << 9;

export class Rootkernel {
  readonly machine: Machine;
  readonly layout: Layout;
  readonly guestBytes: number;
  readonly baseEptp: number;
  /** Counter owner of root-mode work. */
  readonly owner: number;
  readonly hostCr3: number;
  /** Host-physical address of each core's EPTP-list page. */
  readonly eptpLists: readonly number[];
  private readonly vmcs: Vmcs[] = [];
  private readonly views: Views;
  private upcall = 0;
  /** Per core: host-physical address of its upcall frame page, once mapped (upcall-frame.ts). */
  private readonly frames: number[] = [];
  private readonly l1dFlush: boolean;

  /** Boots: code, IDT, host page table, base EPT, one VMCS per core (uncharged: this is
   *  the machine starting up before any guest exists). Leaves every core in root mode. */
  constructor(machine: Machine, config: RootkernelConfig = {}) {
    this.machine = machine;
    const mem = machine.mem;
    const l = computeLayout(mem.size, config);
    this.layout = l;
    this.l1dFlush = config.l1dFlush === true;
    this.guestBytes = l.guestBytes;
    this.owner = machine.owners.id('rootkernel');
    const pool = new FramePool(mem, l.framesBase, l.regionEnd);
    writeCode(mem, l.code, l.codeBytes);
    // Root-mode IDT: a fault in the Rootkernel is a bug; every gate leads to UD2.
    for (let v = 0; v < 256; v++) writeIdtGate(mem, l.idt + v * 16, l.code + SITES.fatal);
    // Host page table: all host memory 1:1 with 1 GiB pages, supervisor, read/write.
    this.hostCr3 = pool.allocator.alloc();
    for (let g = 0; g * PAGE_1G < mem.size; g++) {
      mapGuestPage(mem, pool.allocator, this.hostCr3, g * PAGE_1G, g * PAGE_1G, PageSize.Size1G, {
        writable: true,
      });
    }
    const baseRoot = buildBaseEpt(mem, pool, l);
    const vpid = config.vpid !== false;
    const lists: number[] = [];
    for (const core of machine.cores) {
      const list = pool.take();
      lists.push(list);
      const v = new Vmcs(pool.take() as never);
      this.vmcs.push(v);
      const top = stackTop(l, core.id);
      // Secondary controls "enable EPT" and "enable VPID" (SDM Vol. 3C §25.6.2); VPID 1 on
      // every core (TLBs are per core, so one guest needs one tag), never 0 (§27.2.1.1).
      // Without VPID (config.vpid false) the field is unused and the current VPID is 0.
      v.enableEpt = true;
      v.enableVpid = vpid;
      v.vpid = vpid ? 1 : 0;
      // "Enable VM functions" and VM-function control bit 0, EPTP switching (§25.6.14,
      // §26.5.6.3); the list is this core's page, entry 0 the base EPTP.
      v.enableVmFunctions = true;
      v.vmFunctionControls = 1;
      v.eptpListAddress = list;
      // What must NOT exit (§26.1.3): CR3 loads (primary control bit 15), external
      // interrupts (pin-based bit 0), HLT, and no exception (bitmap 0, §25.6.3).
      v.cr3LoadExiting = false;
      v.externalInterruptExiting = false;
      v.hltExiting = false;
      v.exceptionBitmap = 0;
      v.hostCr3 = this.hostCr3;
      v.hostRip = l.code + ROUTINES.exitEntry.at;
      v.hostRsp = top;
      core.nonRoot = false;
      core.cpl = 0;
      core.cr3 = this.hostCr3;
      core.idtBase = l.idt;
      core.rsp0 = top;
      core.regs.set(R.RSP, top);
      core.syncContext();
      vmxonAndLoad(core, v);
      core.setOwner(this.owner);
    }
    this.eptpLists = lists;
    this.views = new Views(machine, l, pool, baseRoot, lists);
    this.baseEptp = this.views.base.eptp;
    for (const list of lists) mem.write64n(list, this.baseEptp);
    for (const v of this.vmcs) v.eptp = this.baseEptp;
  }

  /** The EPTP of view `view` (0 = base), for TypeScript and tests; undefined if not live. */
  eptpOf(view: number): number | undefined {
    return this.views.eptpOf(view);
  }

  /** Guest-physical address at which `core`'s EPTP list is mapped (MapEptpList), if any. */
  eptpListGpa(core: Core): number | undefined {
    return this.views.listGpaOf(core.id);
  }

  /** Enters the Subkernel on `core` in non-root mode at CPL 0 on the base EPT: real VMLAUNCH
   *  bytes at the Rootkernel's code address, charged to the Rootkernel. */
  launch(core: Core, guest: GuestEntry): void {
    const v = this.vmcsOf(core);
    if (core.nonRoot) throw new RootkernelError(`core ${core.id} already runs a guest`);
    v.guestCr3 = guest.cr3;
    v.guestRip = guest.rip;
    v.guestRsp = guest.rsp;
    v.guestIdtBase = guest.idtBase;
    v.guestRsp0 = guest.rsp0;
    v.guestCpl = 0;
    v.guestRflags = guest.rflags ?? 0x2;
    v.eptp = this.baseEptp;
    core.setOwner(this.owner);
    this.beforeEntry(core);
    vmEntry(core, this.layout.code + SITES.vmlaunch, false);
    core.setOwner(guest.owner ?? this.machine.owners.id('subkernel'));
  }

  /**
   * Handles the VM exit `trap` reports on `core` (the machine has already saved guest state
   * and loaded host state): runs the handler in root mode, charged to the 'rootkernel'
   * owner, then VMRESUMEs. CPUID and VMCALL resume after the instruction; EPT violations,
   * EPT misconfigurations and VMFUNC failures resume at the upcall entry and are returned.
   */
  handleExit(core: Core, trap: Trap): ExitOutcome {
    const e = trap.event;
    if (e.kind !== 'vmexit') throw new RootkernelError(`not a VM exit: ${trap.message}`);
    const v = this.vmcsOf(core);
    if (trap.core !== core.id || core.nonRoot || core.vmcs !== v) {
      throw new RootkernelError(`core ${core.id} is not in root mode after an exit of its own`);
    }
    const guestOwner = core.owner;
    core.setOwner(this.owner);
    const code = this.layout.code;
    run(core, code, 'exitEntry');
    const save = stackTop(this.layout, core.id) - 128;
    for (let i = 0; i < SAVED_GPRS; i++) core.touch(save + i * 8, true);
    this.views.drainPending(core);
    let out = RESUMED;
    switch (v.exitReason) {
      case ExitReason.Cpuid: {
        run(core, code, 'cpuid');
        const r = cpuidLeaf(core.regs.get(R.RAX) % 2 ** 32);
        core.regs.set(R.RAX, r[0]);
        core.regs.set(R.RBX, r[1]);
        core.regs.set(R.RCX, r[2]);
        core.regs.set(R.RDX, r[3]);
        v.guestRip += v.exitInstructionLength;
        break;
      }
      case ExitReason.Vmcall:
        core.regs.set(R.RAX, this.hypercall(core));
        v.guestRip += v.exitInstructionLength;
        break;
      case ExitReason.EptViolation:
      case ExitReason.EptMisconfig:
      case ExitReason.Vmfunc:
        out = this.violation(core, v);
        break;
      default:
        throw new RootkernelError(
          `core ${core.id}: unexpected VM exit reason ${v.exitReason} at ${hex(v.guestRip)} (${trap.message})`,
        );
    }
    for (let i = 0; i < SAVED_GPRS; i++) core.touch(save + i * 8, false);
    run(core, code, 'exitPath');
    this.beforeEntry(core);
    vmEntry(core, code + SITES.vmresume, true);
    core.setOwner(guestOwner);
    return out;
  }

  /** Last before VMLAUNCH or VMRESUME: the L1D flush, when configured (L1TF: nothing the
   *  Rootkernel or another view left in the L1D can then be read by the guest through a
   *  terminal fault). The guest's lines are gone too: it refills them as misses. */
  private beforeEntry(core: Core): void {
    if (!this.l1dFlush) return;
    run(core, this.layout.code, 'l1dFlushSetup');
    wrmsr(core, this.layout.code + SITES.l1dFlush, MSR.IA32_FLUSH_CMD, 1);
  }

  /** Re-enters the guest at the upcall entry. CPL 0; the kernel stack is TSS.RSP0 for a
   *  fault at CPL 3 and the current stack for one at CPL 0 (as exception delivery chooses,
   *  SDM Vol. 3A §6.12.1); IF clear (as through an interrupt gate); the base EPT, so the
   *  Subkernel's handler sees guest RAM 1:1 whatever view the process had switched to. */
  private violation(core: Core, v: Vmcs): Violation {
    run(core, this.layout.code, 'violation');
    const out: Violation = {
      kind: 'violation',
      reason: v.exitReason,
      guestPhysical: v.exitReason === ExitReason.Vmfunc ? 0 : v.guestPhysicalAddress,
      guestLinear: v.exitReason === ExitReason.Vmfunc ? 0 : v.guestLinearAddress,
      rip: v.guestRip,
      cpl: v.guestCpl,
      qualification: v.exitQualification,
      eptp: v.eptp,
    };
    const upcall = core.load64(this.layout.data);
    if (upcall === 0) {
      throw new RootkernelError(
        `core ${core.id}: exit reason ${out.reason} at ${hex(out.rip)} (GPA ${hex(out.guestPhysical)}, ` +
          `GLA ${hex(out.guestLinear)}, CPL ${out.cpl}) and no upcall entry registered (SetUpcall)`,
      );
    }
    const g = core.regs;
    // Before the registers below are overwritten: keep them, the guest's RFLAGS and the
    // reason in this core's upcall frame if the Subkernel mapped one (upcall-frame.ts).
    const frame = this.frames[core.id];
    if (frame !== undefined) {
      for (const f of FRAME_REGS) core.store64(frame + f.offset, g.get(f.reg));
      core.store64(frame + UpcallFrame.rflags, v.guestRflags);
      core.store64(frame + UpcallFrame.reason, out.reason);
    }
    g.set(UpcallRegs.reason, out.reason);
    g.set(UpcallRegs.guestPhysical, out.guestPhysical);
    g.set(UpcallRegs.guestLinear, out.guestLinear);
    g.set(UpcallRegs.rip, out.rip);
    g.set(UpcallRegs.cpl, out.cpl);
    g.set(UpcallRegs.qualification, out.qualification);
    g.set(UpcallRegs.rsp, v.guestRsp);
    const sp = out.cpl === 3 ? v.guestRsp0 : v.guestRsp;
    v.guestRsp = sp - (sp % 16);
    v.guestRip = upcall;
    v.guestCpl = 0;
    v.guestRflags &= ~RFLAGS_IF;
    v.eptp = this.baseEptp;
    return out;
  }

  private hypercall(core: Core): number {
    run(core, this.layout.code, 'vmcallDispatch');
    const g = core.regs;
    const [a1, a2, a3] = [g.get(R.RBX), g.get(R.RCX), g.get(R.RDX)];
    const vs = this.views;
    switch (g.get(R.RAX)) {
      case Hypercall.CreateView:
        return vs.create(core);
      case Hypercall.RemapPage:
        return vs.remap(core, a1, a2, a3);
      case Hypercall.DestroyView:
        return vs.destroy(core, a1);
      case Hypercall.BindClientServer:
        return vs.bind(core, a1, a2);
      case Hypercall.MapEptpList:
        return vs.mapList(core, a1);
      case Hypercall.SetUpcall:
        run(core, this.layout.code, 'setUpcall');
        // Linear addresses are 48 bits (canonical form is the model's 48-bit number).
        if (!Number.isInteger(a1) || a1 <= 0 || a1 >= 2 ** 48)
          return HypercallError.InvalidArgument;
        core.store64(this.layout.data, a1);
        this.upcall = a1;
        return 0;
      case Hypercall.EptpValue:
        return vs.eptpValue(core, a1);
      case MAP_UPCALL_FRAME: {
        // The page is taken (and zeroed, as every table the pool gives is written before use)
        // only when the mapping can succeed; a refused call leaves nothing behind.
        const hpa = this.frames[core.id] ?? vs.takeFrame();
        if (hpa < 0) return HypercallError.OutOfMemory;
        const r = vs.mapFrame(core, a1, hpa);
        if (r === 0) {
          for (let i = 0; i < 512; i++) core.store64(hpa + i * 8, 0);
          this.frames[core.id] = hpa;
        } else if (this.frames[core.id] === undefined) vs.giveFrame(hpa);
        return r;
      }
      default:
        return HypercallError.UnknownCall;
    }
  }

  /** The registered upcall entry (0 = none). */
  get upcallEntry(): number {
    return this.upcall;
  }

  /**
   * Convenience for the Subkernel's TypeScript: executes VMCALL at `rip` (which must hold
   * its bytes in guest code) with RAX = `call` and the arguments in RBX, RCX, RDX, RSI, lets
   * the Rootkernel handle the exit, and returns RAX. A VMCALL whose fetch itself faults
   * is reported as a RootkernelError (after the upcall re-entry).
   */
  call(core: Core, rip: number, call: number, ...args: number[]): number {
    const g = core.regs;
    g.set(R.RAX, call);
    [R.RBX, R.RCX, R.RDX, R.RSI].forEach((r, i) => g.set(r, args[i] ?? 0));
    try {
      vmcall(core, rip);
    } catch (e) {
      if (!(e instanceof Trap) || e.event.kind !== 'vmexit') throw e;
      const out = this.handleExit(core, e);
      if (out.kind === 'violation') {
        throw new RootkernelError(`VMCALL at ${hex(rip)} faulted (exit reason ${out.reason})`);
      }
      return g.getSigned(R.RAX); // hypercall results are signed (errors < 0)
    }
    throw new RootkernelError('VMCALL did not exit');
  }

  private vmcsOf(core: Core): Vmcs {
    const v = this.vmcs[core.id];
    if (v === undefined || this.machine.cores[core.id] !== core) {
      throw new RootkernelError(`core ${core.id} is not one of this machine's`);
    }
    return v;
  }
}
