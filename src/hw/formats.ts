// The x86 formats the model reads and writes in simulated memory, each declared once.
// Bit positions are from the Intel SDM (Vol. 3A §4.5 Tables 4-14..4-20 for 4-level paging;
// Vol. 3C §29.3.2 Tables 29-1..29-6 for EPT; §25.6.11 for the EPTP; §4.5 and §4.10.1 for
// CR3 with PCIDs). The physical-address field (bits M-1:12) is read with `addrOf`.

import { field, type Format } from './bits.ts';

/** A 4-level paging entry (PML4E, PDPTE, PDE, PTE). `ps` is reserved in a PML4E and a PTE
 *  (bit 7 of a PTE is PAT, which the model does not use). */
export const PTE = {
  present: field(0),
  writable: field(1),
  user: field(2),
  pwt: field(3),
  pcd: field(4),
  accessed: field(5),
  dirty: field(6),
  ps: field(7),
  global: field(8),
  xd: field(63),
} as const satisfies Format<string>;

/** An EPT paging-structure entry. `ps` (bit 7) maps a 1 GiB or 2 MiB page at PDPTE/PDE
 *  level. Memory type (bits 5:3) is kept but not modelled beyond validity. */
export const EPTE = {
  read: field(0),
  write: field(1),
  exec: field(2),
  memType: field(3, 3),
  ignorePat: field(6),
  ps: field(7),
  accessed: field(8),
  dirty: field(9),
  execUser: field(10),
  suppressVe: field(63),
} as const satisfies Format<string>;

/** The EPT pointer (SDM Vol. 3C §25.6.11). */
export const EPTP = {
  memType: field(0, 3),
  walkLengthMinus1: field(3, 3),
  adEnable: field(6),
  sss: field(7),
  reserved11_8: field(8, 4),
} as const satisfies Format<string>;

/** CR3 with CR4.PCIDE=1 (SDM Vol. 3A §4.5, Table 4-13); bit 63 is only meaningful in the
 *  source operand of MOV to CR3, where it suppresses invalidation (§4.10.4.1). */
export const CR3 = {
  pcid: field(0, 12),
  pwt: field(3),
  pcd: field(4),
  noFlush: field(63),
} as const satisfies Format<string>;

/** EPT memory types permitted in an EPTP (IA32_VMX_EPT_VPID_CAP bits 8 and 14). */
export const EPT_MEMTYPE_UC = 0;
export const EPT_MEMTYPE_WB = 6;

/** Single-bit masks for the hot paths (only fields in the low 32 bits). */
export const PTE_P = 1 << PTE.present.lsb;
export const PTE_RW = 1 << PTE.writable.lsb;
export const PTE_US = 1 << PTE.user.lsb;
export const PTE_A = 1 << PTE.accessed.lsb;
export const PTE_D = 1 << PTE.dirty.lsb;
export const PTE_PS = 1 << PTE.ps.lsb;
export const PTE_G = 1 << PTE.global.lsb;
/** XD is bit 63: bit 31 of the high half. */
export const PTE_XD_HI = 1 << (PTE.xd.lsb - 32);

export const EPT_R = 1 << EPTE.read.lsb;
export const EPT_W = 1 << EPTE.write.lsb;
export const EPT_X = 1 << EPTE.exec.lsb;
export const EPT_PS = 1 << EPTE.ps.lsb;
export const EPT_A = 1 << EPTE.accessed.lsb;
export const EPT_D = 1 << EPTE.dirty.lsb;
