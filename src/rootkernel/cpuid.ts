// CPUID as the Rootkernel presents it to the Subkernel. CPUID always exits in VMX non-root
// operation (SDM Vol. 3C §26.1.2), so every value the guest sees is the VMM's choice. We
// follow the conventions guests probe for (SDM Vol. 2A CPUID; the 0x4000_0000 range is
// reserved by Intel for hypervisor use, as KVM, Xen and Hyper-V use it):
// - leaf 0: highest basic leaf (1) and the real vendor, "GenuineIntel";
// - leaf 1: a Skylake client signature; ECX bit 31 "hypervisor present" set, ECX bit 5 (VMX)
//   clear (the Subkernel gets no nested VMX), PCID (ECX bit 17) set as the machine has it;
// - leaf 0x4000_0000: highest hypervisor leaf and the hypervisor's vendor, "SkyBridgeVM\0",
//   in EBX, ECX, EDX;
// - any other leaf: zeros (a real CPU repeats its highest basic leaf for out-of-range
//   leaves; nothing here depends on that).

export const HYPERVISOR_LEAF = 0x4000_0000;
/** Leaf 1 EAX: family 6, model 0x5E, stepping 3 (Skylake-S). */
const SIGNATURE = 0x0005_06e3;
const ECX_PCID = 1 << 17;
const ECX_HYPERVISOR = 2 ** 31;
/** Leaf 1 EDX: FPU, TSC, MSR, PAE, APIC, PGE, FXSR, SSE, SSE2. */
const EDX_FEATURES =
  (1 << 0) |
  (1 << 4) |
  (1 << 5) |
  (1 << 6) |
  (1 << 9) |
  (1 << 13) |
  (1 << 24) |
  (1 << 25) |
  (1 << 26);

/** Four ASCII bytes as the little-endian dword CPUID returns them in. */
function dword(s: string, at: number): number {
  let v = 0;
  for (let i = 3; i >= 0; i--) v = v * 256 + (s.charCodeAt(at + i) || 0);
  return v;
}

/** [EAX, EBX, ECX, EDX] for `leaf` (subleaves are not used by any leaf we return). */
export function cpuidLeaf(leaf: number): [number, number, number, number] {
  switch (leaf) {
    case 0: {
      const v = 'GenuineIntel';
      return [1, dword(v, 0), dword(v, 8), dword(v, 4)];
    }
    case 1:
      return [SIGNATURE, 0, ECX_HYPERVISOR + ECX_PCID, EDX_FEATURES >>> 0];
    case HYPERVISOR_LEAF: {
      const v = 'SkyBridgeVM\0';
      return [HYPERVISOR_LEAF, dword(v, 0), dword(v, 4), dword(v, 8)];
    }
    default:
      return [0, 0, 0, 0];
  }
}

/** Decodes the vendor string of leaf 0 or 0x4000_0000 (EBX, ECX, EDX order of the
 *  hypervisor leaf; leaf 0 puts it in EBX, EDX, ECX). */
export function vendorString(a: number, b: number, c: number): string {
  let s = '';
  for (const d of [a, b, c])
    for (let i = 0; i < 4; i++) s += String.fromCharCode((d >>> (8 * i)) & 0xff);
  return s.replace(/\0+$/, '');
}
