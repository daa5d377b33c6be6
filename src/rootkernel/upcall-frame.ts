// The upcall frame: what an upcall overwrites, kept where the Subkernel can read it.
//
// An upcall (an EPT violation, EPT misconfiguration or failed VMFUNC re-entering the guest,
// rootkernel.ts) describes the fault in seven registers (UpcallRegs: RDI, RSI, RDX, RCX,
// R8, R9, R10) and clears RFLAGS.IF. A VM exit itself saves no general-purpose register
// (SDM Vol. 3C §28.3: only the guest-state area, which holds RIP, RSP and RFLAGS but no other
// GPR), so the values those seven held when the guest faulted exist only in the Rootkernel's
// save area. A Subkernel that only stops the faulting thread never needs them; one that
// resumes it at the faulting instruction does (SkyBridge's dynamic EPTP lists resume a
// VMFUNC whose list entry was not resident: src/skybridge/dynamic-lists.ts). So a Subkernel
// may ask, once per core, for a page of the Rootkernel's mapped into guest-physical space
// (MapUpcallFrame, in the same window as the EPTP lists; read/write, like the list page,
// because the Subkernel clears the reason once it has read it: the Subkernel is trusted and
// maps the page supervisor-only, and the Rootkernel reads nothing from it), and on every upcall the
// Rootkernel stores there, before overwriting them, the seven registers, the guest RFLAGS and
// the exit reason (charged stores in root mode; the Subkernel's reads are charged loads).
//
// The hypercall number continues hypercalls.ts's numbering; it lives here so that the
// interface file stays as it is for the Subkernels that do not use it.

/** (gpa) → 0. Maps this core's upcall frame, read/write, at guest-physical `gpa` in the base
 *  EPT and in every view; same rules for `gpa` as MapEptpList (4 KiB aligned, inside the
 *  window [guestBytes, guestBytes + 2 MiB), not already used). */
export const MAP_UPCALL_FRAME = 8;

/** Byte offsets in the frame page. `reason` is the basic exit reason of the last upcall on
 *  this core (the Subkernel clears it when it has read the frame, so a stale frame is never
 *  taken for a fresh one). */
export const UpcallFrame = {
  rdi: 0,
  rsi: 8,
  rdx: 16,
  rcx: 24,
  r8: 32,
  r9: 40,
  r10: 48,
  rflags: 56,
  reason: 64,
} as const;

/** Register index (Core.regs) of each saved field, in frame order. */
export const FRAME_REGS: readonly { reg: number; offset: number }[] = [
  { reg: 7, offset: UpcallFrame.rdi },
  { reg: 6, offset: UpcallFrame.rsi },
  { reg: 2, offset: UpcallFrame.rdx },
  { reg: 1, offset: UpcallFrame.rcx },
  { reg: 8, offset: UpcallFrame.r8 },
  { reg: 9, offset: UpcallFrame.r9 },
  { reg: 10, offset: UpcallFrame.r10 },
];
