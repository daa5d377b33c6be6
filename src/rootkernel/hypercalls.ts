// The Rootkernel's interface to the Subkernel: VMCALL (SDM Vol. 2C VMCALL; always a VM exit
// in non-root operation, reason 18) with these register conventions.
//
//   in:  RAX = call number, RBX, RCX, RDX, RSI = arguments 1-4
//   out: RAX = result (≥ 0), or a negative error code (HypercallError); other registers are
//        preserved; RIP is advanced past the VMCALL.
//
// The model's register file holds doubles; a negative RAX stands for its 64-bit two's
// complement, as a C caller would see `(long)rax < 0`.
//
// "View" = one EPT the Rootkernel built: view 0 is the base EPT (guest RAM 1:1, 1 GiB
// pages); others are copies of it, changed by RemapPage / made by BindClientServer. A view
// is named by its id; what goes into an EPTP list is its EPTP (EptpValue).
//
// Why the Subkernel writes EPTP lists itself: each core's EPTP-list page (the one its VMCS
// points at) can be mapped into guest-physical space (MapEptpList). On a context switch the
// Subkernel stores the next process's EPTPs into it and switches with VMFUNC(0, 0); no VM
// exit per context switch, which a "install this list" VMCALL would cost (~1,000+ cycles
// each way). It is safe against processes because VMFUNC validates every entry it loads
// (SDM Vol. 3C §26.5.6.3) and only the Subkernel maps the page; the Subkernel itself is
// trusted in SkyBridge's threat model (it could already write any EPTP there). The
// Subkernel must map the page supervisor-only.

/** Hypercall numbers (RAX on VMCALL). */
export const Hypercall = {
  /** () → view id. Copies the base EPT's table tree (PML4, PDPT(s), the PD of the GiB that
   *  holds the RAM boundary, the EPTP-list window's tables). */
  CreateView: 1,
  /** (view, gpa, targetGpa) → 0. In `view`, the 4 KiB guest-physical page `gpa` now maps the
   *  host page that `targetGpa` maps in the base EPT (large pages split as needed); INVEPT
   *  single-context for the view on this core. Both addresses 4 KiB aligned, in guest RAM. */
  RemapPage: 2,
  /** (view) → 0. Frees the view's tables. Refused while any core runs on it or any EPTP
   *  list holds it. View 0 (the base) cannot be destroyed. */
  DestroyView: 3,
  /** (clientRootGpa, serverRootGpa) → view id: a copy of the base in which the client's
   *  page-table root page maps the server's root page (the CR3 trick of Mi et al., EuroSys
   *  2019; docs/skybridge.md). */
  BindClientServer: 4,
  /** (gpa) → 0. Maps this core's EPTP-list page, read/write, not executable, at
   *  guest-physical `gpa` in the base EPT and in every view (present and future). `gpa`
   *  must be 4 KiB aligned, in [guestBytes, guestBytes + 2 MiB), and not already used. */
  MapEptpList: 5,
  /** (rip) → 0. Where EPT violations and failed VM functions re-enter the guest (CPL 0, on
   *  the kernel stack TSS.RSP0, interrupts off, base EPT; see UpcallRegs). */
  SetUpcall: 6,
  /** (view) → the view's EPTP, to be written into an EPTP list. */
  EptpValue: 7,
} as const;
export type HypercallNumber = (typeof Hypercall)[keyof typeof Hypercall];

/** Error codes returned in RAX. */
export const HypercallError = {
  /** RAX held no hypercall number. */
  UnknownCall: -1,
  /** The view id is not a live view. */
  NoSuchView: -2,
  /** RemapPage or DestroyView on view 0, the base EPT (it must stay 1:1). */
  BaseViewImmutable: -3,
  /** A guest-physical address not 4 KiB aligned. */
  Unaligned: -4,
  /** A guest-physical address outside guest RAM [0, guestBytes). */
  OutsideRam: -5,
  /** MapEptpList outside [guestBytes, guestBytes + 2 MiB). */
  OutsideWindow: -6,
  /** The Rootkernel's frame pool or view table is exhausted. */
  OutOfMemory: -7,
  /** MapEptpList: this core's list is already mapped, or `gpa` holds another core's. */
  AlreadyMapped: -8,
  /** DestroyView of a view some core runs on or some EPTP list holds. */
  ViewInUse: -9,
  /** A malformed argument (SetUpcall with a non-canonical or negative address). */
  InvalidArgument: -10,
} as const;
export type HypercallErrorCode = (typeof HypercallError)[keyof typeof HypercallError];

export function hypercallErrorName(code: number): string {
  for (const [k, v] of Object.entries(HypercallError)) if (v === code) return k;
  return `error ${code}`;
}

/**
 * Registers on an upcall (an EPT violation, EPT misconfiguration or failed VMFUNC re-entering
 * the guest at the SetUpcall entry). Indices into Core.regs; SysV argument order so a C
 * handler `upcall(reason, gpa, gla, rip, cpl, qualification, rsp)` receives them directly.
 */
export const UpcallRegs = {
  /** RDI: basic exit reason (48 EPT violation, 49 EPT misconfiguration, 59 VMFUNC). */
  reason: 7,
  /** RSI: the guest-physical address (0 for reason 59). */
  guestPhysical: 6,
  /** RDX: the guest-linear address (0 for reason 59). */
  guestLinear: 2,
  /** RCX: RIP of the faulting instruction (not advanced). */
  rip: 1,
  /** R8: CPL at the fault (3 = a process, 0 = the Subkernel itself). */
  cpl: 8,
  /** R9: the exit qualification (SDM Vol. 3C §28.2.1 Table 28-7 for reason 48). */
  qualification: 9,
  /** R10: RSP at the fault. */
  rsp: 10,
} as const;
