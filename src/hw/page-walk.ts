// The two-dimensional page walk (SDM Vol. 3A §4.5 for 4-level paging, Vol. 3C §29.3.2 for
// EPT). Every guest paging entry's address is guest-physical and is itself translated
// through the EPT, as is the final guest-physical address. Every entry read is a memory
// reference through the data caches. With 4 KiB pages at both levels and nothing cached:
// 4 guest entries × (4 EPT entries + the guest entry) + 4 EPT entries for the final
// address = 24 references. With 1 GiB EPT pages each EPT walk stops at the PDPTE (2 refs):
// 4 × (2 + 1) + 2 = 14. Paging-structure caches and guest-physical mappings shorten both.

import { PAGE_1G, PAGE_2M, PAGE_4K, PageSize, TWO32, MAXPHYADDR } from './addr.ts';
import { addrOf } from './bits.ts';
import { C } from './counters.ts';
import { AccessKind } from './memory-hierarchy.ts';
import {
  EPT_A,
  EPT_D,
  EPT_PS,
  EPT_R,
  EPT_W,
  PTE_A,
  PTE_D,
  PTE_P,
  PTE_PS,
  PTE_RW,
  PTE_US,
  PTE_G,
  PTE_XD_HI,
} from './formats.ts';
import {
  F_ER,
  F_EW,
  F_EX,
  F_GLOBAL,
  F_GNX,
  F_GU,
  F_GW,
  F_DIRTY,
  type TranslationCache,
} from './tlb.ts';
import {
  Access,
  FaultKind,
  PFEC_I,
  PFEC_P,
  PFEC_RSVD,
  PFEC_U,
  PFEC_W,
  EQ_FETCH,
  EQ_GLA_FINAL,
  EQ_GLA_VALID,
  EQ_READ,
  EQ_WRITE,
  type TranslationState,
} from './translation-state.ts';

/** Bytes covered by one entry at each level (1 = PT … 4 = PML4). */
const LEVEL_SPAN = [0, PAGE_4K, PAGE_2M, PAGE_1G, 512 * PAGE_1G];
/** Bits 51:MAXPHYADDR of an entry's high half must be zero (reserved). */
const HI_RSVD = (0xf_ffff & ~((1 << (MAXPHYADDR - 32)) - 1)) >>> 0;

function sizeOfLevel(level: number): PageSize {
  return level === 1 ? PageSize.Size4K : level === 2 ? PageSize.Size2M : PageSize.Size1G;
}

/**
 * Guest-permission check on accumulated flags (SDM §4.6). Returns 0 if allowed, else
 * PFEC_P (a protection violation; the walker adds the W/U/I bits of the access).
 */
export function guestDenied(s: TranslationState, flags: number, access: Access): number {
  const userPage = (flags & F_GU) !== 0;
  if (s.user) {
    if (!userPage) return PFEC_P;
    if (access === Access.Write && (flags & F_GW) === 0) return PFEC_P;
    if (access === Access.Fetch && (flags & F_GNX) !== 0) return PFEC_P;
    return 0;
  }
  if (access === Access.Fetch) return (flags & F_GNX) !== 0 || (userPage && s.smep) ? PFEC_P : 0;
  if (userPage && s.smap) return PFEC_P;
  if (access === Access.Write && s.wp && (flags & F_GW) === 0) return PFEC_P;
  return 0;
}

/** EPT-permission check (SDM Vol. 3C §29.3.3.2): 0 if allowed, else the access bit. */
export function eptDenied(flags: number, access: Access): number {
  if (access === Access.Read) return (flags & F_ER) === 0 ? EQ_READ : 0;
  if (access === Access.Write) return (flags & F_EW) === 0 ? EQ_WRITE : 0;
  return (flags & F_EX) === 0 ? EQ_FETCH : 0;
}

function pfec(s: TranslationState, access: Access, base: number): number {
  let e = base;
  if (access === Access.Write) e |= PFEC_W;
  if (access === Access.Fetch) e |= PFEC_I;
  if (s.user) e |= PFEC_U;
  return e;
}

export class PageWalker {
  /** Outputs of gpaToHpa. */
  private gHpa = 0;
  private gFlags = 0;
  private gSize: PageSize = PageSize.Size4K;
  /** Outputs of walk. */
  leafSize: PageSize = PageSize.Size4K;
  leafFlags = 0;
  leafBase = 0;

  /**
   * Whether the paging-structure caches and guest-physical mappings are used. Off, every
   * walk is the architectural worst case (24 references with 4 KiB pages at both levels);
   * on (the default), entries filled early in a walk serve its later steps too.
   */
  useWalkCaches = true;

  constructor(private readonly s: TranslationState) {}

  /** One walk reference: read the 8-byte entry at `hpa` through the data caches. */
  private ref(hpa: number, guest: boolean): number {
    const s = this.s;
    const ctr = s.ctr;
    ctr[C.walkRefs]++;
    ctr[guest ? C.walkRefsGuest : C.walkRefsEpt]++;
    return s.caches.access(s.core, hpa, AccessKind.Load, s.owner, ctr);
  }

  private eptFault(kind: FaultKind, gpa: number, la: number, qual: number): number {
    const s = this.s;
    s.fault = kind;
    s.faultGpa = gpa;
    s.faultLa = la;
    s.eptQual = qual;
    return -1;
  }

  /**
   * Translates a guest-physical address through the EPT. Returns the latency, or -1 with
   * the fault recorded. `final` says whether it is the access's own address (true) or a
   * guest paging entry (false), for the exit qualification.
   */
  private gpaToHpa(gpa: number, access: Access, la: number, final: boolean): number {
    const s = this.s;
    const tc = s.tc;
    const ep = s.ep;
    let lat = 0;
    // Guest-physical mappings, tagged by EP4TA only (SDM Vol. 3C §29.4.1).
    for (let size = PageSize.Size1G; this.useWalkCaches && size >= PageSize.Size4K; size--) {
      const span =
        size === PageSize.Size1G ? PAGE_1G : size === PageSize.Size2M ? PAGE_2M : PAGE_4K;
      const i = tc.gpa.find(Math.floor(gpa / span), size, -1, -1, ep);
      if (i >= 0) {
        s.ctr[C.gpaTlbHit]++;
        this.gHpa = tc.gpa.base[i]! + (gpa % span);
        this.gFlags = tc.gpa.flags[i]!;
        this.gSize = size;
        return this.checkEpt(gpa, access, la, final, lat);
      }
    }
    // EPT paging-structure caches, deepest first.
    let level = 4;
    let table = s.eptRoot;
    let acc = F_ER | F_EW | F_EX;
    let i = -1;
    if (this.useWalkCaches) {
      if ((i = tc.eptPde.find(Math.floor(gpa / PAGE_2M), 0, -1, -1, ep)) >= 0) level = 1;
      else if ((i = tc.eptPdpte.find(Math.floor(gpa / PAGE_1G), 0, -1, -1, ep)) >= 0) level = 2;
      else if ((i = tc.eptPml4e.find(Math.floor(gpa / (512 * PAGE_1G)), 0, -1, -1, ep)) >= 0)
        level = 3;
    }
    if (i >= 0) {
      s.ctr[C.eptPscHit]++;
      const psc = level === 1 ? tc.eptPde : level === 2 ? tc.eptPdpte : tc.eptPml4e;
      table = psc.base[i]!;
      acc = psc.flags[i]! & (F_ER | F_EW | F_EX);
    }
    const mem = s.mem;
    for (;;) {
      const span = LEVEL_SPAN[level]!;
      const idx = Math.floor(gpa / span) % 512;
      const eHpa = table + idx * 8;
      lat += this.ref(eHpa, false);
      const lo = mem.read32(eHpa);
      const hi = mem.read32(eHpa + 4);
      const rwx = lo & 7;
      const gq = EQ_GLA_VALID | (final ? EQ_GLA_FINAL : 0) | accessBit(access, final);
      // Not present: the AND of the entries' rights (qualification bits 5:3) is 0.
      if (rwx === 0) return this.eptFault(FaultKind.EptViolation, gpa, la, gq);
      // EPT misconfigurations (SDM Vol. 3C §29.3.3.1): write without read, reserved bits.
      const isLeaf = level === 1 || ((level === 2 || level === 3) && (lo & EPT_PS) !== 0);
      const memType = (lo >>> 3) & 7;
      if (
        (rwx & 3) === 2 ||
        (hi & HI_RSVD) !== 0 ||
        (level === 4 && (lo & EPT_PS) !== 0) ||
        (isLeaf && (memType === 2 || memType === 3 || memType === 7))
      ) {
        return this.eptFault(FaultKind.EptMisconfig, gpa, la, 0);
      }
      if ((lo & EPT_R) === 0) acc &= ~F_ER;
      if ((lo & EPT_W) === 0) acc &= ~F_EW;
      if ((lo & 4) === 0) acc &= ~F_EX;
      if (s.eptAd && (lo & EPT_A) === 0) mem.write32(eHpa, lo | EPT_A);
      const next = addrOf(lo, hi, MAXPHYADDR);
      if (isLeaf) {
        const size = sizeOfLevel(level);
        const base = Math.floor(next / span) * span;
        tc.gpa.insert(Math.floor(gpa / span), size, -1, -1, ep, base, acc);
        this.gHpa = base + (gpa % span);
        this.gFlags = acc;
        this.gSize = size;
        const r = this.checkEpt(gpa, access, la, final, lat);
        if (r >= 0 && s.eptAd && access === Access.Write && final && (lo & EPT_D) === 0) {
          mem.write32(eHpa, mem.read32(eHpa) | EPT_D);
        }
        return r;
      }
      const psc = level === 4 ? tc.eptPml4e : level === 3 ? tc.eptPdpte : tc.eptPde;
      psc.insert(Math.floor(gpa / span), 0, -1, -1, ep, next, acc);
      table = next;
      level--;
    }
  }

  private checkEpt(gpa: number, access: Access, la: number, final: boolean, lat: number): number {
    const need = final ? access : Access.Read;
    const d = eptDenied(this.gFlags, need);
    if (d !== 0) {
      const q = d | EQ_GLA_VALID | (final ? EQ_GLA_FINAL : 0) | permQual(this.gFlags);
      return this.eptFault(FaultKind.EptViolation, gpa, la, q);
    }
    return lat;
  }

  /**
   * Walks the guest tables (and the EPT under them) for `la`. On success returns the
   * latency and sets s.outHpa and the leaf outputs; on a fault returns -1 with it recorded.
   */
  walk(la: number, access: Access): number {
    const s = this.s;
    const tc = s.tc;
    const mem = s.mem;
    const ctr = s.ctr;
    const { vpid, pcid, ep } = s;
    ctr[C.walks]++;
    let lat = 0;
    let level = 4;
    let acc = F_GW | F_GU;
    let tableHpa = -1;
    let tableGpa = s.cr3Base;
    let i = -1;
    if (this.useWalkCaches) {
      if ((i = tc.pde.find(Math.floor(la / PAGE_2M), 0, vpid, pcid, ep)) >= 0) level = 1;
      else if ((i = tc.pdpte.find(Math.floor(la / PAGE_1G), 0, vpid, pcid, ep)) >= 0) level = 2;
      else if ((i = tc.pml4e.find(Math.floor(la / (512 * PAGE_1G)), 0, vpid, pcid, ep)) >= 0)
        level = 3;
    }
    if (i >= 0) {
      ctr[C.pscHit]++;
      const psc = level === 1 ? tc.pde : level === 2 ? tc.pdpte : tc.pml4e;
      tableHpa = psc.base[i]!;
      acc = psc.flags[i]! & (F_GW | F_GU | F_GNX);
    }
    let fromWalk = false;
    for (;;) {
      const span = LEVEL_SPAN[level]!;
      const idx = Math.floor(la / span) % 512;
      let eHpa: number;
      if (tableHpa >= 0) {
        eHpa = tableHpa + idx * 8;
      } else if (s.eptOn) {
        const r = this.gpaToHpa(tableGpa + idx * 8, Access.Read, la, false);
        if (r < 0) return -1;
        lat += r;
        eHpa = this.gHpa;
      } else {
        eHpa = tableGpa + idx * 8;
      }
      // The entry at this level tells us the HPA of this level's table: cache it one level up.
      if (fromWalk && level < 4) {
        const psc = level === 3 ? tc.pml4e : level === 2 ? tc.pdpte : tc.pde;
        psc.insert(Math.floor(la / LEVEL_SPAN[level + 1]!), 0, vpid, pcid, ep, eHpa - idx * 8, acc);
      }
      lat += this.ref(eHpa, true);
      const lo = mem.read32(eHpa);
      const hi = mem.read32(eHpa + 4);
      if ((lo & PTE_P) === 0) return this.pf(la, access, 0, lat);
      const ps = (lo & PTE_PS) !== 0;
      const isLeaf = level === 1 || (ps && (level === 2 || level === 3));
      // Reserved bits (SDM §4.5 Tables 4-15..4-20): above MAXPHYADDR, PS in a PML4E, the
      // low address bits of a large-page frame.
      if (
        (hi & HI_RSVD) !== 0 ||
        (level === 4 && ps) ||
        (isLeaf && level === 3 && (lo & 0x3fff_e000) !== 0) ||
        (isLeaf && level === 2 && (lo & 0x001f_e000) !== 0)
      ) {
        return this.pf(la, access, PFEC_P | PFEC_RSVD, lat);
      }
      if ((lo & PTE_RW) === 0) acc &= ~F_GW;
      if ((lo & PTE_US) === 0) acc &= ~F_GU;
      if ((hi & PTE_XD_HI) !== 0) acc |= F_GNX;
      if ((lo & PTE_A) === 0) mem.write32(eHpa, lo | PTE_A);
      const next = addrOf(lo, hi, MAXPHYADDR);
      if (!isLeaf) {
        tableGpa = s.eptOn ? next : -1;
        tableHpa = s.eptOn ? -1 : next;
        fromWalk = true;
        level--;
        continue;
      }
      // Leaf: guest permissions first; a guest fault means the access is never made.
      const denied = guestDenied(s, acc, access);
      if (denied !== 0) return this.pf(la, access, denied, lat);
      let dirty = (lo & PTE_D) !== 0;
      if (access === Access.Write && !dirty) {
        mem.write32(eHpa, mem.read32(eHpa) | PTE_D);
        dirty = true;
      }
      const gSize = sizeOfLevel(level);
      const frame = Math.floor(next / span) * span;
      const offset = la % span;
      let flags = acc | (dirty ? F_DIRTY : 0) | ((lo & PTE_G) !== 0 ? F_GLOBAL : 0);
      let size = gSize;
      let hpa: number;
      if (s.eptOn) {
        const r = this.gpaToHpa(frame + offset, access, la, true);
        if (r < 0) return -1;
        lat += r;
        hpa = this.gHpa;
        flags |= this.gFlags & (F_ER | F_EW | F_EX);
        if (this.gSize < size) size = this.gSize;
      } else {
        hpa = frame + offset;
        flags |= F_ER | F_EW | F_EX;
      }
      const cspan =
        size === PageSize.Size4K ? PAGE_4K : size === PageSize.Size2M ? PAGE_2M : PAGE_1G;
      this.leafSize = size;
      this.leafFlags = flags;
      this.leafBase = hpa - (la % cspan);
      s.outHpa = hpa;
      ctr[C.walkCycles] += lat;
      return lat;
    }
  }

  private pf(la: number, access: Access, code: number, lat: number): number {
    const s = this.s;
    s.fault = FaultKind.PageFault;
    s.pfec = pfec(s, access, code);
    s.faultLa = la;
    s.ctr[C.walkCycles] += lat;
    return -1;
  }
}

function accessBit(access: Access, final: boolean): number {
  if (!final) return EQ_READ;
  return access === Access.Read ? EQ_READ : access === Access.Write ? EQ_WRITE : EQ_FETCH;
}

/** Bits 5:3 of the qualification: the EPT rights over the levels walked. */
function permQual(flags: number): number {
  return (
    ((flags & F_ER) !== 0 ? 8 : 0) |
    ((flags & F_EW) !== 0 ? 16 : 0) |
    ((flags & F_EX) !== 0 ? 32 : 0)
  );
}

export { TWO32 };
export type { TranslationCache };
