// A core's MMU: looks a linear address up in the TLBs (split L1 ITLB/DTLB per page size,
// then the shared STLB), walks on a miss, fills, and checks rights. Also the architectural
// invalidations (SDM Vol. 3A §4.10.4 and Vol. 3C §29.4.3), each invalidating exactly what
// the SDM says it must — nothing more, so stale entries are as visible as on hardware.

import { PAGE_1G, PAGE_2M, PAGE_4K, PageSize } from './addr.ts';
import { C } from './counters.ts';
import { PageWalker } from './page-walk.ts';
import { type InvalidateSel, type TranslationCache } from './tlb.ts';
import type { MissTracer } from './trace.ts';
import { Access, FaultKind, type TranslationState } from './translation-state.ts';

export class Mmu {
  readonly walker: PageWalker;
  /** Set while the machine is traced: told of every translation that walks. */
  tracer: MissTracer | null = null;
  private readonly l1Latency: number;
  private readonly stlbLatency: number;

  constructor(readonly s: TranslationState) {
    this.walker = new PageWalker(s);
    this.l1Latency = s.profile.tlb.l1Latency;
    this.stlbLatency = s.profile.tlb.stlbLatency;
  }

  /**
   * Translates `la` for `access`. Returns the host-physical address (latency in
   * s.outLatency), or -1 with the fault in s.fault. Allocation-free.
   */
  translate(la: number, access: Access): number {
    const s = this.s;
    const tc = s.tc;
    const ctr = s.ctr;
    const { vpid, pcid, ep } = s;
    s.fault = FaultKind.None;
    const fetch = access === Access.Fetch;
    const vpn4 = Math.floor(la / PAGE_4K);
    // L1: ITLB (4K, 2M; 1 GiB mappings are held as 2 MiB fragments) or DTLB (4K, 2M, 1G).
    let t: TranslationCache = fetch ? tc.itlb4k : tc.dtlb4k;
    let i = t.find(vpn4, PageSize.Size4K, vpid, pcid, ep);
    let span = PAGE_4K;
    const vpn2 = Math.floor(vpn4 / 512);
    if (i < 0) {
      t = fetch ? tc.itlb2m : tc.dtlb2m;
      span = PAGE_2M;
      i = t.find(vpn2, PageSize.Size2M, vpid, pcid, ep);
      if (i < 0 && !fetch) {
        t = tc.dtlb1g;
        span = PAGE_1G;
        i = t.find(Math.floor(la / PAGE_1G), PageSize.Size1G, vpid, pcid, ep);
      }
    }
    if (i >= 0 && this.allowed(t.flags[i]!, access)) {
      ctr[fetch ? C.itlbHit : C.dtlbHit]++;
      s.outLatency = this.l1Latency;
      return t.base[i]! + (la % span);
    }
    if (i >= 0) t.invalidateIndex(i);
    // STLB (4K and 2M in one structure; 1G in its own).
    let lat = this.l1Latency + this.stlbLatency;
    t = tc.stlb;
    span = PAGE_4K;
    i = t.find(vpn4, PageSize.Size4K, vpid, pcid, ep);
    if (i < 0) {
      span = PAGE_2M;
      i = t.find(vpn2, PageSize.Size2M, vpid, pcid, ep);
      if (i < 0) {
        t = tc.stlb1g;
        span = PAGE_1G;
        i = t.find(Math.floor(la / PAGE_1G), PageSize.Size1G, vpid, pcid, ep);
      }
    }
    if (i >= 0 && this.allowed(t.flags[i]!, access)) {
      ctr[C.stlbHit]++;
      const size =
        span === PAGE_4K ? PageSize.Size4K : span === PAGE_2M ? PageSize.Size2M : PageSize.Size1G;
      this.fillL1(la, access, size, t.base[i]!, t.flags[i]!);
      s.outLatency = lat;
      return t.base[i]! + (la % span);
    }
    if (i >= 0) t.invalidateIndex(i);
    // Walk.
    ctr[fetch ? C.tlbMissFetch : C.tlbMissData]++;
    if (this.tracer !== null) this.tracer.tlbMiss(s.core, la, access);
    const w = this.walker.walk(la, access);
    if (w < 0) return -1;
    lat += w;
    const wk = this.walker;
    const size = wk.leafSize;
    const vpn =
      size === PageSize.Size4K ? vpn4 : size === PageSize.Size2M ? vpn2 : Math.floor(la / PAGE_1G);
    (size === PageSize.Size1G ? tc.stlb1g : tc.stlb).insert(
      vpn,
      size,
      vpid,
      pcid,
      ep,
      wk.leafBase,
      wk.leafFlags,
    );
    this.fillL1(la, access, size, wk.leafBase, wk.leafFlags);
    s.outLatency = lat;
    return s.outHpa;
  }

  /** Whether a cached entry's rights allow the access without a walk (a write also needs
   *  the entry's D flag, SDM §4.8). */
  private allowed(flags: number, access: Access): boolean {
    const req = this.s.required[access]!;
    return (flags & req) === req && (flags & this.s.forbidden[access]!) === 0;
  }

  private fillL1(la: number, access: Access, size: PageSize, base: number, flags: number): void {
    const s = this.s;
    const tc = s.tc;
    if (access === Access.Fetch) {
      if (size === PageSize.Size4K)
        tc.itlb4k.insert(Math.floor(la / PAGE_4K), size, s.vpid, s.pcid, s.ep, base, flags);
      else {
        // A 1 GiB mapping is held in the ITLB as the 2 MiB fragment being used.
        const b2 =
          size === PageSize.Size2M ? base : base + Math.floor((la % PAGE_1G) / PAGE_2M) * PAGE_2M;
        tc.itlb2m.insert(
          Math.floor(la / PAGE_2M),
          PageSize.Size2M,
          s.vpid,
          s.pcid,
          s.ep,
          b2,
          flags,
        );
      }
      return;
    }
    const t =
      size === PageSize.Size4K ? tc.dtlb4k : size === PageSize.Size2M ? tc.dtlb2m : tc.dtlb1g;
    const span = size === PageSize.Size4K ? PAGE_4K : size === PageSize.Size2M ? PAGE_2M : PAGE_1G;
    t.insert(Math.floor(la / span), size, s.vpid, s.pcid, s.ep, base, flags);
  }

  // ---- Invalidation -------------------------------------------------------------------

  private linearStructures(): TranslationCache[] {
    const t = this.s.tc;
    return [t.dtlb4k, t.dtlb2m, t.dtlb1g, t.itlb4k, t.itlb2m, t.stlb, t.stlb1g];
  }

  private guestPscs(): TranslationCache[] {
    const t = this.s.tc;
    return [t.pml4e, t.pdpte, t.pde];
  }

  private eptStructures(): TranslationCache[] {
    const t = this.s.tc;
    return [t.gpa, t.eptPml4e, t.eptPdpte, t.eptPde];
  }

  private count(n: number): number {
    this.s.ctr[C.tlbInvalidated] += n;
    return n;
  }

  private inv(structs: TranslationCache[], sel: InvalidateSel): number {
    let n = 0;
    for (const t of structs) n += t.invalidate(sel);
    return this.count(n);
  }

  /**
   * MOV to CR3 (SDM §4.10.4.1): with CR4.PCIDE=0, all non-global entries of PCID 0; with
   * PCIDE=1 and bit 63 clear, all non-global entries of the new PCID; with bit 63 set,
   * nothing. Always for the current VPID only, but for every EP4TA (SDM Vol. 3C §29.4.3.1).
   */
  onCr3Write(newPcid: number, noFlush: boolean): number {
    if (noFlush) return 0;
    const sel = { vpid: this.s.vpid, pcid: newPcid, ep: -1, addr: -1, global: false };
    return this.inv([...this.linearStructures(), ...this.guestPscs()], sel);
  }

  /** INVLPG (SDM §4.10.4.1): the page's entries for the current PCID (global ones too), and
   *  every paging-structure-cache entry of the current PCID. */
  invlpg(la: number): number {
    const s = this.s;
    return (
      this.inv(this.linearStructures(), {
        vpid: s.vpid,
        pcid: s.pcid,
        ep: -1,
        addr: la,
        global: true,
      }) +
      this.inv(this.guestPscs(), { vpid: s.vpid, pcid: s.pcid, ep: -1, addr: -1, global: false })
    );
  }

  /** INVPCID (SDM Vol. 2 INVPCID): type 0 address, 1 single context, 2 all incl. global,
   *  3 all except global. The caller has validated type and descriptor. */
  invpcid(type: number, pcid: number, la: number): number {
    const vpid = this.s.vpid;
    const all = [...this.linearStructures(), ...this.guestPscs()];
    switch (type) {
      case 0:
        return (
          this.inv(this.linearStructures(), { vpid, pcid, ep: -1, addr: la, global: false }) +
          this.inv(this.guestPscs(), { vpid, pcid, ep: -1, addr: -1, global: false })
        );
      case 1:
        return this.inv(all, { vpid, pcid, ep: -1, addr: -1, global: false });
      case 2:
        return this.inv(all, { vpid, pcid: -1, ep: -1, addr: -1, global: true });
      default:
        return this.inv(all, { vpid, pcid: -1, ep: -1, addr: -1, global: false });
    }
  }

  /** INVEPT (SDM Vol. 3C §29.4.3.1): guest-physical and combined mappings of one EP4TA (type
   *  1, `ep` its id) or of all (type 2), for every VPID and PCID. Linear mappings (made with
   *  EPT off, EP4TA id 0) are neither, and survive both types. */
  invept(type: number, ep: number): number {
    const structs = [...this.linearStructures(), ...this.guestPscs(), ...this.eptStructures()];
    if (type === 1) return this.inv(structs, { vpid: -1, pcid: -1, ep, addr: -1, global: true });
    let n = 0;
    for (const t of structs) {
      for (let i = 0; i < t.entries; i++) {
        if (t.ep[i] !== 0 && t.flags[i] !== 0) {
          t.invalidateIndex(i);
          n++;
        }
      }
    }
    return this.count(n);
  }

  /** INVVPID: type 0 one address, 1 one VPID, 2 all VPIDs but 0, 3 one VPID except global. */
  invvpid(type: number, vpid: number, la: number): number {
    const all = [...this.linearStructures(), ...this.guestPscs()];
    switch (type) {
      case 0:
        return (
          this.inv(this.linearStructures(), { vpid, pcid: -1, ep: -1, addr: la, global: true }) +
          this.inv(this.guestPscs(), { vpid, pcid: -1, ep: -1, addr: -1, global: false })
        );
      case 1:
        return this.inv(all, { vpid, pcid: -1, ep: -1, addr: -1, global: true });
      case 2: {
        let n = 0;
        for (const t of all) {
          for (let i = 0; i < t.entries; i++) {
            if (t.vpid[i] !== 0 && t.flags[i] !== 0) {
              t.invalidateIndex(i);
              n++;
            }
          }
        }
        return this.count(n);
      }
      default:
        return this.inv(all, { vpid, pcid: -1, ep: -1, addr: -1, global: false });
    }
  }

  /** VM entry and exit with VPID disabled invalidate the mappings of VPID 0 (SDM Vol. 3C
   *  §29.4.3.1): linear and combined, every EP4TA; guest-physical ones survive. */
  onVmTransitionWithoutVpid(): number {
    return this.inv([...this.linearStructures(), ...this.guestPscs()], {
      vpid: 0,
      pcid: -1,
      ep: -1,
      addr: -1,
      global: true,
    });
  }

  /** Empties every structure (a cold start; not an architectural operation). */
  flushAll(): void {
    for (const t of [...this.linearStructures(), ...this.guestPscs(), ...this.eptStructures()])
      t.invalidateAll();
  }
}
