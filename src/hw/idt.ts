// The 64-bit IDT gate (SDM Vol. 3A §6.14.1, Figure 6-8), written once for every piece of
// boot-time software that builds an IDT; Core.deliver reads the same layout.

import type { PhysicalMemory } from './phys-mem.ts';

/** Code-segment selector the model's gates name (the kernel's, CPL 0). */
export const GATE_SELECTOR = 0x10;
/** Type/attribute word: present, DPL 0, 64-bit interrupt gate (0xE). */
export const GATE_INTERRUPT_PRESENT = 0x8e00;

/** Writes a present 64-bit interrupt gate to `handler` at host-physical `at` (uncharged). */
export function writeIdtGate(mem: PhysicalMemory, at: number, handler: number): void {
  mem.write32(at, (GATE_SELECTOR << 16) | (handler & 0xffff));
  mem.write32(at + 4, ((handler & 0xffff_0000) >>> 0) | GATE_INTERRUPT_PRESENT);
  mem.write32(at + 8, Math.floor(handler / 2 ** 32));
  mem.write32(at + 12, 0);
}
