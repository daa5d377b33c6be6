// What a core's MMU knows at one moment: the translation context (set by the core from CR3,
// CR4, the VMCS and the current mode), the translation caches, and the outputs of the last
// translation or fault. The MMU and the page walker share one of these per core, so a
// translation passes its results through fields instead of allocating a result object.

import type { PhysicalMemory } from './phys-mem.ts';
import type { MemoryHierarchy } from './memory-hierarchy.ts';
import { TranslationCache, F_DIRTY, F_ER, F_EW, F_EX, F_GNX, F_GU, F_GW } from './tlb.ts';
import type { CpuProfile } from './profile-schema.ts';

export const enum Access {
  Read = 0,
  Write = 1,
  Fetch = 2,
}

export const enum FaultKind {
  None = 0,
  PageFault = 1,
  EptViolation = 2,
  EptMisconfig = 3,
}

/** #PF error-code bits (SDM Vol. 3A §4.7, Figure 4-12). */
export const PFEC_P = 1 << 0;
export const PFEC_W = 1 << 1;
export const PFEC_U = 1 << 2;
export const PFEC_RSVD = 1 << 3;
export const PFEC_I = 1 << 4;

/** EPT-violation exit-qualification bits (SDM Vol. 3C §28.2.1, Table 28-7). */
export const EQ_READ = 1 << 0;
export const EQ_WRITE = 1 << 1;
export const EQ_FETCH = 1 << 2;
export const EQ_READABLE = 1 << 3;
export const EQ_WRITABLE = 1 << 4;
export const EQ_EXECUTABLE = 1 << 5;
export const EQ_GLA_VALID = 1 << 7;
/** With GLA_VALID: 1 = the access was to the translated address, 0 = to a paging entry. */
export const EQ_GLA_FINAL = 1 << 8;

export interface TranslationCaches {
  readonly dtlb4k: TranslationCache;
  readonly dtlb2m: TranslationCache;
  readonly dtlb1g: TranslationCache;
  readonly itlb4k: TranslationCache;
  readonly itlb2m: TranslationCache;
  readonly stlb: TranslationCache;
  readonly stlb1g: TranslationCache;
  readonly gpa: TranslationCache;
  readonly pml4e: TranslationCache;
  readonly pdpte: TranslationCache;
  readonly pde: TranslationCache;
  readonly eptPml4e: TranslationCache;
  readonly eptPdpte: TranslationCache;
  readonly eptPde: TranslationCache;
}

export function makeTranslationCaches(p: CpuProfile, core: number): TranslationCaches {
  const t = (name: string, g: { entries: number; ways: number }): TranslationCache =>
    new TranslationCache(`core${core}.${name}`, g.entries, g.ways);
  return {
    dtlb4k: t('dtlb4k', p.tlb.dtlb4k),
    dtlb2m: t('dtlb2m', p.tlb.dtlb2m),
    dtlb1g: t('dtlb1g', p.tlb.dtlb1g),
    itlb4k: t('itlb4k', p.tlb.itlb4k),
    itlb2m: t('itlb2m', p.tlb.itlb2m),
    stlb: t('stlb', p.tlb.stlb),
    stlb1g: t('stlb1g', p.tlb.stlb1g),
    gpa: t('gpa', p.tlb.gpa),
    pml4e: t('psc.pml4e', p.psc.pml4e),
    pdpte: t('psc.pdpte', p.psc.pdpte),
    pde: t('psc.pde', p.psc.pde),
    eptPml4e: t('eptpsc.pml4e', p.psc.eptPml4e),
    eptPdpte: t('eptpsc.pdpte', p.psc.eptPdpte),
    eptPde: t('eptpsc.pde', p.psc.eptPde),
  };
}

export class TranslationState {
  // --- context (written by the core) ---
  vpid = 0;
  pcid = 0;
  /** Address of the guest PML4: guest-physical when EPT is on, else host-physical. */
  cr3Base = 0;
  eptOn = false;
  /** Host-physical address of the EPT PML4 (the EP4TA). */
  eptRoot = 0;
  /** Small id for the EP4TA, the tag in the caches (0 when EPT is off). */
  ep = 0;
  eptAd = false;
  /** CPL 3: a user-mode access (SDM §4.6). */
  user = false;
  smep = false;
  smap = false;
  /** CR0.WP: supervisor writes honour R/W. */
  wp = true;
  core = 0;
  owner = 0;
  /** The current counter slot of the core. */
  ctr: Float64Array = new Float64Array(64);

  /** Per access type (Read, Write, Fetch): entry flag bits that must be set, and bits that
   *  must be clear, for a cached entry to serve it without a walk. Derived from the rules
   *  of SDM §4.6 and §29.3.3.2 for the current CPL, SMEP, SMAP and WP by updateRights(). */
  readonly required = new Int32Array(3);
  readonly forbidden = new Int32Array(3);

  updateRights(): void {
    const sup = !this.user;
    const userBit = sup ? 0 : F_GU;
    this.required[Access.Read] = userBit | F_ER;
    this.required[Access.Write] = userBit | F_EW | F_DIRTY | (sup && !this.wp ? 0 : F_GW);
    this.required[Access.Fetch] = userBit | F_EX;
    const smap = sup && this.smap ? F_GU : 0;
    this.forbidden[Access.Read] = smap;
    this.forbidden[Access.Write] = smap;
    this.forbidden[Access.Fetch] = F_GNX | (sup && this.smep ? F_GU : 0);
  }

  // --- outputs of the last translation ---
  outHpa = 0;
  outLatency = 0;
  fault: FaultKind = FaultKind.None;
  pfec = 0;
  faultLa = 0;
  faultGpa = 0;
  eptQual = 0;

  constructor(
    readonly mem: PhysicalMemory,
    readonly caches: MemoryHierarchy,
    readonly tc: TranslationCaches,
    readonly profile: CpuProfile,
  ) {}
}
