// A virtual-machine control structure: the fields of SDM Vol. 3C ch. 25 that the model
// uses. Its in-memory format is implementation-specific (software accesses it only with
// VMREAD/VMWRITE, §25.2), so it is held as a typed object; the region it occupies in host
// memory is recorded for realism. The EPTP list it points to is in memory, in the
// architectural format (512 eight-byte EPTPs, §25.6.14).

import { MAXPHYADDR, type Hpa } from './addr.ts';
import { EPT_MEMTYPE_UC, EPT_MEMTYPE_WB } from './formats.ts';

/** Basic exit reasons (SDM Vol. 3C Appendix C). */
export const ExitReason = {
  ExceptionOrNmi: 0,
  ExternalInterrupt: 1,
  TripleFault: 2,
  Cpuid: 10,
  Hlt: 12,
  Vmcall: 18,
  CrAccess: 28,
  EptViolation: 48,
  EptMisconfig: 49,
  Vmfunc: 59,
} as const;
export type ExitReasonCode = (typeof ExitReason)[keyof typeof ExitReason];

export class Vmcs {
  /** Host-physical address of the 4 KiB VMCS region. */
  readonly region: Hpa;
  launched = false;

  // VM-execution controls (§25.6).
  enableEpt = true;
  enableVpid = true;
  vpid = 1;
  /** Secondary control "enable VM functions" (bit 13). */
  enableVmFunctions = false;
  /** VM-function controls, bits 31:0 (bit 0: EPTP switching); bits 63:32 are 0 here. */
  vmFunctionControls = 0;
  /** The EPT pointer, bits 51:0 (a valid EPTP has bits 63:52 clear). */
  eptp = 0;
  eptpListAddress = 0;
  /** Primary control "CR3-load exiting" (bit 15). */
  cr3LoadExiting = false;
  /** Pin-based "external-interrupt exiting" (bit 0). */
  externalInterruptExiting = false;
  /** Primary control "HLT exiting" (bit 7). */
  hltExiting = false;
  /** Exception bitmap (§25.6.3): bit n set = exception n causes a VM exit. */
  exceptionBitmap = 0;

  // Guest-state area (§25.4), the part the model keeps.
  guestRip = 0;
  guestRsp = 0;
  guestRflags = 0x2;
  guestCr3 = 0;
  guestCpl = 0;
  /** IDTR base and TR's RSP0, kept per side so a VM exit lands on the host's own. */
  guestIdtBase = -1;
  guestRsp0 = 0;

  // Host-state area (§25.5).
  hostRip = 0;
  hostRsp = 0;
  hostCr3 = 0;
  hostIdtBase = -1;
  hostRsp0 = 0;

  // VM-exit information (§25.9).
  exitReason = 0;
  exitQualification = 0;
  guestLinearAddress = 0;
  guestPhysicalAddress = 0;
  exitInstructionLength = 0;

  constructor(region: Hpa) {
    this.region = region;
  }
}

/**
 * Whether an EPTP (given as low and high halves) is valid for VM entry and for VMFUNC
 * (SDM Vol. 3C §27.2.1.1 checks on the EPTP, which VMFUNC's EPTP switching reuses):
 * memory type UC or WB; page-walk length 4 (bits 5:3 = 3; 5-level EPT not supported by
 * this CPU); bit 7 clear (no supervisor shadow stacks); bits 11:8 and 63:MAXPHYADDR clear.
 * Bit 6 (accessed/dirty flags) is allowed: the CPU supports EPT A/D.
 */
export function isValidEptp(lo: number, hi: number): boolean {
  const memType = lo & 7;
  if (memType !== EPT_MEMTYPE_UC && memType !== EPT_MEMTYPE_WB) return false;
  if (((lo >>> 3) & 7) !== 3) return false;
  if ((lo & 0xf80) !== 0) return false;
  const hiAllowed = (1 << (MAXPHYADDR - 32)) - 1;
  return (hi & ~hiAllowed) === 0;
}

/** Builds an EPTP value: WB memory type, 4-level walk, optional A/D flags. */
export function makeEptp(pml4: number, adEnable = false): number {
  if (pml4 % 4096 !== 0) throw new RangeError('EPT PML4 must be 4 KiB aligned');
  return pml4 + EPT_MEMTYPE_WB + (3 << 3) + (adEnable ? 1 << 6 : 0);
}
