// Speculative-execution mitigations a Subkernel can be built with, each as real instruction
// sites in kernel text on the path where x86 kernels apply it. All are off by default, so no
// figure of the model moves unless one is asked for, and their sites are laid out after every
// other kernel path (Subkernel's constructor), so turning one on moves no other code: what a
// flag adds to a path is its own instructions, per occurrence. docs/mitigations.md has what
// each costs and what SkyBridge's VMFUNC switch would need of them.
//
// Where the kernels modelled here apply them (sources read: seL4/seL4, kernkonzept/fiasco
// 245fce53, Fuchsia's zircon/kernel as in vsrinivas/fuchsia):
// - IBPB: seL4 on every thread switch if KernelX86IBPBOnContextSwitch (default off;
//   src/arch/x86/64/kernel/thread.c Arch_switchToThread, and the fastpath's switchToThread_fp
//   in include/arch/x86/arch/64/mode/fastpath/fastpath.h); Fiasco after an address-space
//   switch, issued on the way out to user mode, if CONFIG_INTEL_IA32_BRANCH_BARRIERS (default
//   off; mem_space-ia32.cpp set_needs_ibpb_verw, low_level.h SAFE_SYSRET); Zircon on a switch
//   to another user address space, by default (arch/x86/thread.cc
//   x86_context_switch_spec_mitigations, feature.cc g_should_ibpb_on_ctxt_switch). Modelled:
//   when a core goes to a user address space other than the last one it ran (Zircon's rule;
//   seL4's per-thread rule and Fiasco's give the same count on an inter-AS IPC path).
// - RSB fill: seL4 on every thread switch if KernelX86RSBOnContextSwitch (default off, same
//   functions, x86_flush_rsb: 32 CALLs); Zircon on every switch away from a user thread, by
//   default (same function, x86_ras_fill: 16 × 2 CALLs). Fiasco: none. Modelled on the same
//   switches as IBPB.
// - IBRS: seL4's ibrs_basic mode sets IA32_SPEC_CTRL.IBRS on every kernel entry and clears it
//   on every return to user (src/arch/x86/64/c_traps.c c_handle_syscall,
//   c_x64_handle_interrupt, restore_user_context; default ibrs_none); Fiasco's branch
//   barriers set it on every entry only (entry.S, entry-native.S IA32_IBRS). Zircon sets it
//   once at boot on CPUs with enhanced IBRS and otherwise relies on retpolines (feature.cc,
//   retpoline/selection.h), which the model leaves out (its kernel paths are counts, with no
//   indirect branch identified, and branch predictors are not modelled).
// - VERW (MDS): Zircon on every return to user, by default (kernel.x86.md_clear_on_user_return,
//   syscall_maybe_mds_buff_overwrite); Fiasco on the return after an address-space switch if
//   CONFIG_INTEL_MDS_MITIGATION (default y with kernel isolation; SAFE_SYSRET, safe_iret).
//   seL4: none. Modelled on every return to user, before the KPTI CR3 switch, as Fiasco.
// - L1D flush on VM entry (L1TF) is the VMM's: the Rootkernel's, RootkernelConfig.l1dFlush
//   (Fiasco vm_vmx_ept.cpp Vm_vmx_ept::vm_entry; Zircon hypervisor/vcpu.cc).

import type { Core } from '../hw/core.ts';
import { MSR, verw, wrmsr } from '../hw/isa.ts';
import { Mix } from '../hw/mix.ts';
import type { AddressSpace } from './address-space.ts';
import type { Block, CodeLayout } from './code-layout.ts';

export interface MitigationConfig {
  /** Spectre v2 across processes: IBPB (WRMSR IA32_PRED_CMD = 1) when a core goes to another
   *  user address space. */
  ibpb: boolean;
  /** Spectre v2 through returns (ret2spec, RSB underflow): 32 CALLs on the same switches. */
  rsbFill: boolean;
  /** Spectre v2 inside the kernel: WRMSR IA32_SPEC_CTRL (IBRS | STIBP) on every kernel entry
   *  ('entry', Fiasco), and (STIBP) on every return to user as well ('entry-exit', seL4). */
  ibrs: 'off' | 'entry' | 'entry-exit';
  /** MDS: VERW (memory operand, MD_CLEAR) on every return to user. */
  verw: boolean;
  /** L1TF: WRMSR IA32_FLUSH_CMD before every VM entry, in the Rootkernel. */
  l1dFlush: boolean;
}

export const NO_MITIGATIONS: MitigationConfig = {
  ibpb: false,
  rsbFill: false,
  ibrs: 'off',
  verw: false,
  l1dFlush: false,
};

/** A WRMSR with the three instructions that load ECX, EDX and EAX before it (seL4's
 *  x86_wrmsr, Fiasco's IA32_IBPB and IA32_IBRS_CLOBBER macros: mov, xor, mov). */
interface MsrSite {
  setup: Block;
  wrmsr: number;
}

/** Instructions of one RSB fill: 16 iterations of CALL, CALL, DEC, JNZ (each CALL's return
 *  address store is in its instruction, an L1D hit), the counter's setup, the LFENCE after
 *  the loop, the ADD that drops the 32 return addresses, and the save and restore of the
 *  counter register (Zircon's x86_ras_fill; seL4's x86_flush_rsb is the same length). */
export const RSB_FILL_INSTRUCTIONS = 2 + 16 * 4 + 3;

/** The same instructions by class: 32 CALLs; 16 DECs, the counter's MOV and the ADD to RSP;
 *  15 taken JNZs and the last, not taken; the counter's PUSH and POP; LFENCE (charged as the
 *  interpreter charges fences, in the store class). */
export const RSB_FILL_MIX = new Mix(
  'RSB fill',
  { call: 32, alu: 18, branchTaken: 15, branch: 1, push: 1, pop: 1, store: 1 },
  'the fill loop counted instruction by instruction (x86_ras_fill; x86_flush_rsb)',
);

/** A WRMSR's setup: MOV ECX, the MSR's number; MOV EAX, the low half; XOR EDX, EDX. */
export const MSR_SETUP_MIX = new Mix(
  'WRMSR setup',
  { alu: 3 },
  'three register moves (MOV ECX, imm; MOV EAX, imm; XOR EDX, EDX)',
);

/** The mitigations' code in kernel text, and what runs it. */
export class KernelMitigations {
  private readonly ibpbSite: MsrSite | null;
  private readonly rsbFill: Block | null;
  private readonly ibrsOn: MsrSite | null;
  private readonly ibrsOff: MsrSite | null;
  private readonly verwSite: number | null;
  /** Per core, the user address space it last ran. */
  private readonly lastSpace = new Map<number, AddressSpace>();

  /** Lays out the sites of the mitigations `cfg` turns on (none for those it does not). */
  constructor(
    readonly cfg: MitigationConfig,
    text: CodeLayout,
  ) {
    const msr = (): MsrSite => ({
      setup: text.block(3, 12, MSR_SETUP_MIX),
      wrmsr: text.insn('wrmsr'),
    });
    if (cfg.ibpb || cfg.rsbFill || cfg.ibrs !== 'off' || cfg.verw) text.align(64);
    this.ibpbSite = cfg.ibpb ? msr() : null;
    this.rsbFill = cfg.rsbFill ? text.block(RSB_FILL_INSTRUCTIONS, 48, RSB_FILL_MIX) : null;
    this.ibrsOn = cfg.ibrs !== 'off' ? msr() : null;
    this.ibrsOff = cfg.ibrs === 'entry-exit' ? msr() : null;
    this.verwSite = cfg.verw ? text.insn('verw') : null;
  }

  /** The incoming thread runs in `space`: if it is not the user address space this core
   *  ran last, the branch predictors and the RSB another process trained are cleared. */
  onSwitch(core: Core, space: AddressSpace): void {
    if (this.ibpbSite === null && this.rsbFill === null) return;
    if (this.lastSpace.get(core.id) === space) return;
    this.lastSpace.set(core.id, space);
    if (this.ibpbSite !== null) this.writeMsr(core, this.ibpbSite, MSR.IA32_PRED_CMD, 1);
    const r = this.rsbFill;
    if (r !== null) core.run(r);
  }

  /** On every kernel entry from user mode, after the KPTI CR3 switch. */
  onEntry(core: Core): void {
    if (this.ibrsOn !== null) this.writeMsr(core, this.ibrsOn, MSR.IA32_SPEC_CTRL, 3);
  }

  /** Last on every return to user mode, before the KPTI CR3 switch and SYSRET or IRETQ. */
  beforeReturn(core: Core): void {
    if (this.ibrsOff !== null) this.writeMsr(core, this.ibrsOff, MSR.IA32_SPEC_CTRL, 2);
    if (this.verwSite !== null) verw(core, this.verwSite);
  }

  private writeMsr(core: Core, site: MsrSite, msr: number, value: number): void {
    core.run(site.setup);
    wrmsr(core, site.wrmsr, msr, value);
  }
}
